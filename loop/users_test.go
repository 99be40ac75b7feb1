package loop

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// usersIO is testIO with a middleware that takes the user id from the
// auth {"token":"<user>"} (none: no user), on "/" and "/custom". The test
// goroutine acts as the reactor, so Broadcast delivers at once.
func usersIO(t *testing.T, max int) (*SocketIO, *reactor) {
	t.Helper()
	io, r := testIO(t)
	io.MaxUserConnections = max
	use := func(so *Socket, auth []byte) error {
		if i := strings.Index(string(auth), `"token":"`); i >= 0 {
			so.UserID = strings.SplitN(string(auth[i+9:]), `"`, 2)[0]
		}
		return nil
	}
	io.Of("/").Use = use
	io.Of("/custom").Use = use
	r.enter()
	return io, r
}

// socketOf returns the socket of cl on namespace nsp.
func socketOf(t *testing.T, cl *sioClient, nsp string) *Socket {
	t.Helper()
	so := cl.s.sio.socketFor([]byte(nsp))
	if so == nil {
		t.Fatalf("no socket on %s", nsp)
	}
	return so
}

func TestUserRoom(t *testing.T) {
	io, r := usersIO(t, 0)
	a1 := newSIOClient(t, r, io)
	a1.send(1, `40{"token":"alice"}`)
	sid := a1.expectSID("40")
	a1.send(1, `40/custom,{"token":"alice"}`)
	a1.expectSID("40/custom,")
	a2 := newSIOClient(t, r, io)
	a2.send(1, `40{"token":"alice"}`)
	a2.expectSID("40")
	b := newSIOClient(t, r, io)
	b.send(1, `40{"token":"bob"}`)
	b.expectSID("40")
	anon := newSIOClient(t, r, io)
	anon.send(1, `40`)
	anonID := anon.expectSID("40")

	// The user room comes right after the own id room, and counts as a
	// joined room; a socket without a user is in none.
	if got := socketOf(t, a1, "/").Rooms(); !slices.Equal(got, []string{sid, "user:alice"}) {
		t.Fatalf("rooms %q, want [%s user:alice]", got, sid)
	}
	if got := socketOf(t, anon, "/").Rooms(); !slices.Equal(got, []string{anonID}) {
		t.Fatalf("rooms of a socket without user %q", got)
	}
	// A broadcast to the room reaches every socket of the user in the
	// namespace, and no one else; except still applies.
	io.mustBroadcast(t, &Broadcast{Rooms: []string{UserRoom("alice")}, Event: "u"})
	a1.expect(`42["u"]`)
	a2.expect(`42["u"]`)
	b.expect()
	anon.expect()
	io.mustBroadcast(t, &Broadcast{Namespace: "/custom", Rooms: []string{UserRoom("alice")}, Except: []string{sid}, Event: "c"})
	a1.expect(`42/custom,["c"]`)
	// Union with another room, as io.to(a).to(b).
	io.mustBroadcast(t, &Broadcast{Rooms: []string{UserRoom("bob"), anonID}, Event: "v"})
	b.expect(`42["v"]`)
	anon.expect(`42["v"]`)
	a1.expect()
	if !IsUserRoom("user:42") || IsUserRoom("users") || UserRoom("42") != "user:42" {
		t.Fatal("IsUserRoom / UserRoom")
	}
}

func TestMaxUserConnections(t *testing.T) {
	io, r := usersIO(t, 2)
	const refused = `44{"message":"too many connections for this user: MAX_USER_CONNECTIONS (2)","data":{"limit":"MAX_USER_CONNECTIONS","max":2}}`
	// Two sockets of alice, in two namespaces of one client: the bound is
	// per user across namespaces.
	a1 := newSIOClient(t, r, io)
	a1.send(1, `40{"token":"alice"}`)
	a1.expectSID("40")
	a1.send(1, `40/custom,{"token":"alice"}`)
	a1.expectSID("40/custom,")
	if n := io.UserConnections("alice"); n != 2 {
		t.Fatalf("alice has %d counted, want 2", n)
	}
	// One more is refused, on any namespace, and takes nothing.
	a2 := newSIOClient(t, r, io)
	a2.send(1, `40{"token":"alice"}`)
	a2.expect(refused)
	a2.send(1, `40/custom,{"token":"alice"}`)
	a2.expect(strings.Replace(refused, "44{", "44/custom,{", 1))
	if n := io.UserConnections("alice"); n != 2 {
		t.Fatalf("alice has %d counted after refusals, want 2", n)
	}
	if n := io.srv.Snapshot().Refusals[RefusedMaxUserConnections]; n != 2 {
		t.Fatalf("max_user_connections refusals = %d, want 2", n)
	}
	if RefusedMaxUserConnections.String() != "max_user_connections" {
		t.Fatalf("label %q", RefusedMaxUserConnections.String())
	}
	// Other users and sockets without a user are not bound by alice's.
	b := newSIOClient(t, r, io)
	b.send(1, `40{"token":"bob"}`)
	b.expectSID("40")
	for range 3 {
		anon := newSIOClient(t, r, io)
		anon.send(1, `40`)
		anon.expectSID("40")
	}
	// The refused client is still usable once a slot is free: alice
	// leaves "/" on a1, and a2 gets in.
	a1.send(1, `41`)
	if n := io.UserConnections("alice"); n != 1 {
		t.Fatalf("alice has %d counted after a DISCONNECT, want 1", n)
	}
	a2.send(1, `40{"token":"alice"}`)
	a2.expectSID("40")
	a2.send(1, `42["message","hi"]`)
	a2.expect(`42["echo","hi"]`)
	// A closed connection gives its slots back too.
	a1.s.terminate("transport close", 0)
	a2.s.terminate("transport close", 0)
	if n := io.UserConnections("alice"); n != 0 {
		t.Fatalf("alice has %d counted after closing, want 0", n)
	}
	a3 := newSIOClient(t, r, io)
	a3.send(1, `40{"token":"alice"}`)
	a3.expectSID("40")
	b.send(1, `42["message","still"]`)
	b.expect(`42["echo","still"]`)
}

// A recovered socket counts against MaxUserConnections like a new one, and
// gets its user room back.
func TestMaxUserConnectionsRecovery(t *testing.T) {
	io, r := usersIO(t, 1)
	io.Recovery = time.Minute
	cl := newSIOClient(t, r, io)
	cl.send(1, `40{"token":"alice"}`)
	sid, pid := cl.expectConnectPID()
	cl.s.terminate("transport close", 0)
	if n := io.UserConnections("alice"); n != 0 {
		t.Fatalf("a kept session counts %d, want 0", n)
	}
	other := newSIOClient(t, r, io)
	other.send(1, `40{"token":"alice"}`)
	other.expectConnectPID()
	// The session cannot come back while alice's slot is taken; it stays
	// kept for a later try.
	cl = newSIOClient(t, r, io)
	cl.send(1, `40{"token":"alice","pid":"`+pid+`","offset":"0"}`)
	cl.expect(`44{"message":"too many connections for this user: MAX_USER_CONNECTIONS (1)","data":{"limit":"MAX_USER_CONNECTIONS","max":1}}`)
	other.send(1, `41`)
	io.mustBroadcast(t, &Broadcast{Rooms: []string{UserRoom("alice")}, Event: "missed"})
	cl.send(1, `40{"token":"alice","pid":"`+pid+`","offset":"0"}`)
	gotSID, _ := cl.expectConnectPID(`42["missed","1"]`)
	if gotSID != sid {
		t.Fatalf("recovered as %s, want %s", gotSID, sid)
	}
	if n := io.UserConnections("alice"); n != 1 {
		t.Fatalf("the recovered socket counts %d, want 1", n)
	}
	if got := socketOf(t, cl, "/").Rooms(); !slices.Equal(got, []string{sid, "user:alice"}) {
		t.Fatalf("recovered rooms %q", got)
	}
	io.mustBroadcast(t, &Broadcast{Rooms: []string{UserRoom("alice")}, Event: "later"})
	cl.expect(`42["later","2"]`)
}
