package loop_test

import (
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sioloop/loop"
)

// asyncServer serves Socket.IO with UseAsync on "/org-*" (a pattern, so
// that a namespace hold left behind would keep its child alive) handing
// every CONNECT's done to the test through calls.
func asyncServer(t *testing.T, connectTimeout time.Duration, recovery time.Duration) (*testServer, *loop.SocketIO, chan asyncCall) {
	t.Helper()
	calls := make(chan asyncCall, 16)
	var io *loop.SocketIO
	ts := startServerWith(t, loop.Config{PingInterval: time.Minute, PingTimeout: time.Minute}, func(srv *loop.Server) {
		io = loop.NewSocketIO(srv)
		io.Recovery = recovery
		if connectTimeout > 0 {
			io.ConnectTimeout = connectTimeout
		}
		org := io.Of("/org-*")
		org.UseAsync = func(so *loop.Socket, auth []byte, done func(error)) {
			if string(auth) == `{"now":true}` {
				done(nil) // answered before returning: inline
				return
			}
			calls <- asyncCall{so: so, auth: string(auth), done: done}
		}
		org.On("ping", func(so *loop.Socket, ev *loop.Event) { so.Ack(ev, []byte(`"pong:`+so.UserID+`"`), nil) })
		srv.Handle("/socket.io/", io)
	})
	return ts, io, calls
}

type asyncCall struct {
	so   *loop.Socket
	auth string
	done func(error)
}

func nextCall(t *testing.T, calls chan asyncCall) asyncCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(ioTimeout):
		t.Fatal("UseAsync was not called")
		return asyncCall{}
	}
}

var connectReply = regexp.MustCompile(`^40/org-1,\{"sid":"[\w-]+"(,"pid":"[\w-]+")?\}$`)

func TestUseAsyncAdmitsLater(t *testing.T) {
	ts, _, calls := asyncServer(t, 0, 0)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40/org-1,{"token":"a"}`)
	c := nextCall(t, calls)
	if c.auth != `{"token":"a"}` {
		t.Fatalf("auth %q", c.auth)
	}
	w.expectQuiet(t, 100*time.Millisecond) // no answer before done
	go func() {
		c.so.UserID = "alice" // before done, from the answering goroutine
		c.done(nil)
		c.done(errors.New("second call")) // ignored
	}()
	if p := string(w.msg(t).payload); !connectReply.MatchString(p) {
		t.Fatalf("CONNECT reply %q", p)
	}
	w.sendText(t, `42/org-1,1["ping"]`)
	w.expectMsg(t, `43/org-1,1["pong:alice"]`)
}

func TestUseAsyncInlineAndRefused(t *testing.T) {
	ts, _, calls := asyncServer(t, 0, 0)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40/org-1,{"now":true}`)
	if p := string(w.msg(t).payload); !connectReply.MatchString(p) {
		t.Fatalf("inline CONNECT reply %q", p)
	}
	w2, _ := ts.openWSAt(t, "/socket.io/")
	w2.sendText(t, `40/org-1,{"token":"bad"}`)
	c := nextCall(t, calls)
	go c.done(&loop.ConnectError{Message: "unauthorized", Data: []byte(`{"reason":"nope"}`)})
	w2.expectMsg(t, `44/org-1,{"message":"unauthorized","data":{"reason":"nope"}}`)
	// The refused socket is not live: a packet for it closes the session
	// as for any namespace not joined.
	w2.sendText(t, `42/org-1,["ping"]`)
	w2.expectClosed(t)
}

// TestUseAsyncSessionClosesWhilePending: the client leaves while its
// CONNECT waits; the late done does nothing and the namespace hold is
// given back (the child namespace goes away).
func TestUseAsyncSessionClosesWhilePending(t *testing.T) {
	ts, io, calls := asyncServer(t, 0, 0)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40/org-1,{}`)
	c := nextCall(t, calls)
	if io.Namespace("/org-1") == nil {
		t.Fatal("the pending CONNECT does not hold its namespace")
	}
	w.c.Close()
	waitFor(t, "the child namespace removed", func() bool { return io.Namespace("/org-1") == nil })
	c.done(nil)
	time.Sleep(50 * time.Millisecond)
	if io.Namespace("/org-1") != nil || c.so.Connected() {
		t.Fatal("a done after the session closed admitted the socket")
	}
}

// TestUseAsyncDuplicateConnect: a second CONNECT while the first waits is
// answered once, by the first one's answer.
func TestUseAsyncDuplicateConnect(t *testing.T) {
	ts, _, calls := asyncServer(t, 0, 0)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40/org-1,{"n":1}`)
	c := nextCall(t, calls)
	w.sendText(t, `40/org-1,{"n":2}`)
	w.expectQuiet(t, 100*time.Millisecond)
	select {
	case c2 := <-calls:
		t.Fatalf("UseAsync called again for the duplicate (%s)", c2.auth)
	default:
	}
	c.done(nil)
	if p := string(w.msg(t).payload); !connectReply.MatchString(p) {
		t.Fatalf("CONNECT reply %q", p)
	}
	w.sendText(t, `42/org-1,5["ping"]`)
	w.expectMsg(t, `43/org-1,5["pong:"]`) // the next frame: no second CONNECT reply
}

// TestUseAsyncTimeout: a middleware that never answers is refused after
// ConnectTimeout, and the session, in another namespace, lives on.
func TestUseAsyncTimeout(t *testing.T) {
	ts, io, calls := asyncServer(t, 300*time.Millisecond, 0)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, "40")
	if p := string(w.msg(t).payload); !strings.HasPrefix(p, `40{"sid":"`) {
		t.Fatalf("CONNECT / reply %q", p)
	}
	w.sendText(t, `40/org-1,{}`)
	c := nextCall(t, calls)
	w.expectMsg(t, `44/org-1,{"message":"connect timeout: the middleware did not answer within 300ms"}`)
	c.done(nil) // too late
	waitFor(t, "the child namespace removed", func() bool { return io.Namespace("/org-1") == nil })
	w.expectQuiet(t, 100*time.Millisecond)
}

// TestUseAsyncRecoveryGiveBack: a pending CONNECT that recovers a kept
// session gives it back when it is refused, so the next try recovers.
func TestUseAsyncRecoveryGiveBack(t *testing.T) {
	ts, io, calls := asyncServer(t, 0, time.Minute)
	w, _ := ts.openWSAt(t, "/socket.io/")
	w.sendText(t, `40/org-1,{"now":true}`)
	m := regexp.MustCompile(`"sid":"([\w-]+)","pid":"([\w-]+)"`).FindStringSubmatch(string(w.msg(t).payload))
	if m == nil {
		t.Fatal("no pid")
	}
	w.c.Close()
	kept := func() int64 { st, _ := io.RecoveryStats(); return st.KeptSessions }
	waitFor(t, "the session kept", func() bool { return kept() == 1 })

	var refusedOnce atomic.Bool
	for try := 0; try < 2; try++ {
		w2, _ := ts.openWSAt(t, "/socket.io/")
		w2.sendText(t, `40/org-1,{"pid":"`+m[2]+`"}`)
		c := nextCall(t, calls)
		if !refusedOnce.Swap(true) {
			if kept() != 0 {
				t.Fatal("the pending CONNECT did not take the kept session")
			}
			c.done(errors.New("try again"))
			w2.expectMsg(t, `44/org-1,{"message":"try again"}`)
			waitFor(t, "the kept session given back", func() bool { return kept() == 1 })
			continue
		}
		c.done(nil)
		w2.expectMsg(t, `40/org-1,{"sid":"`+m[1]+`","pid":"`+m[2]+`"}`)
	}
}
