package loop_test

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

var offsetOf = regexp.MustCompile(`^42\["(\w+)",(\d+),"(\d+)"\]$`)

// TestRecoveryAcrossReactors broadcasts from goroutines and from handlers
// on both reactors at once, each client also getting emits of its own: the
// offsets every client sees only grow. Then one client's TCP connection
// breaks, more events go out, and the client recovers on a new connection
// with exactly the ones it missed, in order, before anything newer.
func TestRecoveryAcrossReactors(t *testing.T) {
	var io *loop.SocketIO
	ts := startServerWith(t, loop.Config{PingInterval: time.Minute, PingTimeout: time.Minute}, func(srv *loop.Server) {
		io = loop.NewSocketIO(srv)
		io.Recovery = time.Minute
		root := io.Of("/")
		root.On("burst", func(so *loop.Socket, ev *loop.Event) {
			for i := 0; i < 20; i++ {
				so.Emit("own", []byte(strconv.Itoa(i)), nil)
				if _, err := io.Broadcast(&loop.Broadcast{Event: "fromloop", Args: []byte(strconv.Itoa(i))}); err != nil {
					panic(err)
				}
			}
		})
		srv.Handle("/socket.io/", io)
	})
	const clients, perGoroutine = 4, 50
	ws := make([]*wsConn, clients)
	pids := make([]string, clients)
	sids := make([]string, clients)
	connectRe := regexp.MustCompile(`^40\{"sid":"([\w-]+)","pid":"([\w-]+)"\}$`)
	for i := range ws {
		ws[i], _ = ts.openWSAt(t, "/socket.io/")
		ws[i].sendText(t, "40")
		m := connectRe.FindStringSubmatch(string(ws[i].msg(t).payload))
		if m == nil {
			t.Fatal("no CONNECT reply with pid")
		}
		sids[i], pids[i] = m[1], m[2]
	}
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				if _, err := io.Broadcast(&loop.Broadcast{Event: "fromgo", Args: []byte(strconv.Itoa(i))}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for _, w := range ws {
		w.sendText(t, `42["burst"]`)
	}
	wg.Wait()
	// Each client gets 2×50 from goroutines, 4×20 from handlers, 20 own.
	want := 2*perGoroutine + clients*20 + 20
	last := make([]uint64, clients)
	for i, w := range ws {
		for n := 0; n < want; n++ {
			p := string(w.msg(t).payload)
			m := offsetOf.FindStringSubmatch(p)
			if m == nil {
				t.Fatalf("client %d: unexpected %q", i, p)
			}
			off, _ := strconv.ParseUint(m[3], 10, 64)
			if off <= last[i] {
				t.Fatalf("client %d: offset %d after %d (%q)", i, off, last[i], p)
			}
			last[i] = off
		}
	}

	// Break client 0's connection without a close frame: "transport error"
	// or "transport close" on the server, both recoverable.
	_ = ws[0].c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for st, _ := io.RecoveryStats(); st.KeptSessions == 0; st, _ = io.RecoveryStats() {
		if time.Now().After(deadline) {
			t.Fatal("session not kept after the connection broke")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		if _, err := io.Broadcast(&loop.Broadcast{Event: "missed", Args: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40{"pid":"`+pids[0]+`","offset":"`+strconv.FormatUint(last[0], 10)+`"}`)
	for i := 0; i < 3; i++ {
		p := string(w.msg(t).payload)
		if m := offsetOf.FindStringSubmatch(p); m == nil || m[1] != "missed" || m[2] != strconv.Itoa(i) {
			t.Fatalf("replay %d: got %q", i, p)
		}
	}
	w.expectMsg(t, `40{"sid":"`+sids[0]+`","pid":"`+pids[0]+`"}`)
	if _, err := io.Broadcast(&loop.Broadcast{Rooms: []string{sids[0]}, Event: "after", Args: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if p := string(w.msg(t).payload); offsetOf.FindStringSubmatch(p) == nil || p[:11] != `42["after",` {
		t.Fatalf("after recovery: %q", p)
	}
}
