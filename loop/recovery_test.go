package loop

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recoveryIO is testIO with connection state recovery on. The test
// goroutine acts as the reactor (enter), so Broadcast delivers at once.
func recoveryIO(t *testing.T, window time.Duration, maxBytes int) (*SocketIO, *reactor) {
	t.Helper()
	io, r := testIO(t)
	io.Recovery, io.RecoveryBufferBytes = window, maxBytes
	io.Of("/").On("join", func(so *Socket, ev *Event) { so.Join(strings.Trim(string(ev.Args), `"`)) })
	r.enter()
	return io, r
}

var connectPID = regexp.MustCompile(`^40\{"sid":"([\w-]{20})","pid":"([\w-]{20})"\}$`)

// expectConnectPID reads the packets of a CONNECT reply with a pid: the
// replayed ones before it, then the reply, and returns sid and pid.
func (cl *sioClient) expectConnectPID(replayed ...string) (sid, pid string) {
	cl.t.Helper()
	got := cl.read()
	if len(got) != len(replayed)+1 || strings.Join(got[:len(replayed)], "\n") != strings.Join(replayed, "\n") {
		cl.t.Fatalf("server sent\n%q\nwant\n%q then a CONNECT with pid", got, replayed)
	}
	m := connectPID.FindStringSubmatch(got[len(replayed)])
	if m == nil {
		cl.t.Fatalf("want a CONNECT reply with sid and pid, got %q", got[len(replayed)])
	}
	return m[1], m[2]
}

func (io *SocketIO) mustBroadcast(t *testing.T, b *Broadcast) {
	t.Helper()
	if _, err := io.Broadcast(b); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryWire(t *testing.T) {
	io, r := recoveryIO(t, time.Minute, 0)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	sid, pid := cl.expectConnectPID()
	cl.send(1, `42["join","news"]`)
	io.mustBroadcast(t, &Broadcast{Rooms: []string{"news"}, Event: "n", Args: []byte(`1`)})
	cl.expect(`42["n",1,"1"]`)
	// An emit to one socket is replayable too; an ack and a volatile
	// broadcast are not.
	cl.send(1, `42["message","a"]`)
	cl.expect(`42["echo","a","2"]`)
	cl.send(1, `42["message"]`)
	cl.expect(`42["echo","3"]`)
	cl.send(1, `421["message",{"x":1}]`)
	cl.expect(`42["echo",{"x":1},"4"]`, `431[{"x":1}]`)
	io.mustBroadcast(t, &Broadcast{Event: "v", Volatile: true})
	cl.expect(`42["v"]`)

	for round := 0; round < 3; round++ { // socket.io#4880: again and again
		cl.s.terminate("transport error", 0)
		before := io.rec.last()
		io.mustBroadcast(t, &Broadcast{Rooms: []string{"news"}, Event: "n", Args: []byte(`2`)})
		io.mustBroadcast(t, &Broadcast{Rooms: []string{"other"}, Event: "o"})
		io.mustBroadcast(t, &Broadcast{Rooms: []string{sid}, Event: "mine"})
		io.mustBroadcast(t, &Broadcast{Rooms: []string{"news"}, Except: []string{sid}, Event: "x"})
		io.mustBroadcast(t, &Broadcast{Event: "all"})
		io.mustBroadcast(t, &Broadcast{Namespace: "/custom", Event: "c"})

		cl = newSIOClient(t, r, io)
		cl.send(1, `40{"pid":"`+pid+`","offset":"`+u64(before)+`"}`)
		gotSID, gotPID := cl.expectConnectPID(
			`42["n",2,"`+u64(before+1)+`"]`,
			`42["mine","`+u64(before+3)+`"]`,
			`42["all","`+u64(before+5)+`"]`)
		if gotSID != sid || gotPID != pid {
			t.Fatalf("round %d: recovered as %s/%s, want %s/%s", round, gotSID, gotPID, sid, pid)
		}
		// The room is kept.
		io.mustBroadcast(t, &Broadcast{Rooms: []string{"news"}, Event: "later"})
		cl.expect(`42["later","` + u64(before+7) + `"]`)
	}
	st, _ := io.RecoveryStats()
	if st.Recovered != 3 || st.Replayed != 9 || st.KeptBytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

func TestRecoveryRefused(t *testing.T) {
	io, r := recoveryIO(t, time.Minute, 0)
	connect := func() (sid, pid string, cl *sioClient) {
		cl = newSIOClient(t, r, io)
		cl.send(1, "40")
		sid, pid = cl.expectConnectPID()
		return sid, pid, cl
	}
	fresh := func(auth, why string) {
		t.Helper()
		cl := newSIOClient(t, r, io)
		cl.send(1, "40"+auth)
		cl.expectConnectPID()
	}
	// The client's own disconnect and a server kick keep nothing.
	_, pid, cl := connect()
	cl.send(1, "41")
	fresh(`{"pid":"`+pid+`","offset":"0"}`, "client disconnect")
	_, pid, cl = connect()
	cl.s.sio.sockets[0].Disconnect(true)
	fresh(`{"pid":"`+pid+`","offset":"0"}`, "kick")
	// Unknown pid, offset not ours.
	fresh(`{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"0"}`, "unknown")
	_, pid, cl = connect()
	cl.s.terminate("ping timeout", 0)
	fresh(`{"pid":"`+pid+`","offset":"99999"}`, "bogus offset")
	// Expired.
	_, pid, cl = connect()
	cl.s.terminate("transport close", 0)
	io.srv.clock.Add(int64(2 * time.Minute))
	fresh(`{"pid":"`+pid+`","offset":"0"}`, "expired")
	st, _ := io.RecoveryStats()
	if st.Recovered != 0 || st.NotRecovered != [recoverRefusals]uint64{3, 1, 1} {
		t.Fatalf("stats %+v", st)
	}
}

func TestRecoveryOffsetTooOld(t *testing.T) {
	io, r := recoveryIO(t, time.Minute, 1000)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	_, pid := cl.expectConnectPID()
	io.mustBroadcast(t, &Broadcast{Event: "a"})
	cl.expect(`42["a","1"]`)
	cl.s.terminate("transport close", 0)
	for i := 0; i < 20; i++ { // 20 × (frame + overhead) > 1000 bytes
		io.mustBroadcast(t, &Broadcast{Event: "b"})
	}
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"pid":"`+pid+`","offset":"1"}`)
	if _, got := cl.expectConnectPID(); got == pid {
		t.Fatal("recovered past the evicted packets")
	}
	if st, _ := io.RecoveryStats(); st.NotRecovered[recoverTooOld] != 1 || st.KeptBytes > 1000 {
		t.Fatalf("stats %+v", st)
	}
}

// socket.io#4733: a client that got nothing for longer than the window
// but dropped a moment ago recovers, and so does one that never got an
// offset (it sends its pid alone).
func TestRecoveryQuietClient(t *testing.T) {
	io, r := recoveryIO(t, time.Minute, 0)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	sid, pid := cl.expectConnectPID()
	io.mustBroadcast(t, &Broadcast{Event: "a"})
	cl.expect(`42["a","1"]`)
	io.srv.clock.Add(int64(10 * time.Minute))
	io.mustBroadcast(t, &Broadcast{Rooms: []string{"elsewhere"}, Event: "b"}) // ages "a" out
	cl.s.terminate("transport close", 0)
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"pid":"`+pid+`","offset":"1"}`)
	if got, _ := cl.expectConnectPID(); got != sid {
		t.Fatal("quiet client not recovered")
	}

	cl = newSIOClient(t, r, io)
	cl.send(1, "40")
	sid, pid = cl.expectConnectPID()
	cl.s.terminate("transport close", 0)
	io.mustBroadcast(t, &Broadcast{Event: "c"})
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"pid":"`+pid+`"}`) // it never saw an offset: everything since its start
	if got, _ := cl.expectConnectPID(`42["c","3"]`); got != sid {
		t.Fatal("client without offset not recovered")
	}
}

func TestRecoveryOff(t *testing.T) {
	io, r := testIO(t)
	r.enter()
	cl := newSIOClient(t, r, io)
	cl.send(1, `40{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"1"}`)
	cl.expectSID("40")
	io.mustBroadcast(t, &Broadcast{Event: "a"})
	cl.send(1, `42["message",1]`)
	cl.expect(`42["a"]`, `42["echo",1]`)
	if _, ok := io.RecoveryStats(); ok {
		t.Fatal("stats with recovery off")
	}
}

// A JWT-style middleware runs again on recovery; a token of another user
// does not take the session.
func TestRecoveryChecksAuthAgain(t *testing.T) {
	io, r := recoveryIO(t, time.Minute, 0)
	io.Of("/").Use = func(so *Socket, auth []byte) error {
		if strings.Contains(string(auth), `"token":"bad"`) {
			return &ConnectError{Message: "unauthorized"}
		}
		if i := strings.Index(string(auth), `"token":"`); i >= 0 {
			so.UserID = strings.SplitN(string(auth[i+9:]), `"`, 2)[0]
		}
		return nil
	}
	cl := newSIOClient(t, r, io)
	cl.send(1, `40{"token":"alice"}`)
	sid, pid := cl.expectConnectPID()
	cl.s.terminate("transport close", 0)
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"token":"bad","pid":"`+pid+`","offset":"0"}`)
	cl.expect(`44{"message":"unauthorized"}`)
	cl.send(1, `40{"token":"mallory","pid":"`+pid+`","offset":"0"}`)
	if got, _ := cl.expectConnectPID(); got == sid {
		t.Fatal("another user's token took the session")
	}
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"token":"alice","pid":"`+pid+`","offset":"0"}`)
	if got, _ := cl.expectConnectPID(); got != sid {
		t.Fatal("the session's own user did not recover")
	}
	if u := cl.s.sio.sockets[0].UserID; u != "alice" {
		t.Fatalf("user %q", u)
	}
}
