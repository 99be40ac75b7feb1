package loop

import (
	"strings"
	"testing"
)

// recorder is an Observer that writes down what it hears.
type recorder struct {
	log  []string
	sent int
}

func (rc *recorder) observer() *Observer {
	return &Observer{
		Opened:       func(s *Session) { rc.log = append(rc.log, "opened "+s.Transport()) },
		Closed:       func(s *Session, reason string) { rc.log = append(rc.log, "closed "+reason) },
		Upgraded:     func(so *Socket) { rc.log = append(rc.log, "upgraded "+so.Namespace().Name()) },
		Connected:    func(so *Socket) { rc.log = append(rc.log, "connected "+so.Namespace().Name()) },
		Disconnected: func(so *Socket, reason string) { rc.log = append(rc.log, "disconnected "+reason) },
		Joined:       func(so *Socket, room string) { rc.log = append(rc.log, "joined "+room) },
		Left: func(so *Socket, room string) {
			if room == so.ID() {
				room = "<id>"
			}
			rc.log = append(rc.log, "left "+room)
		},
		Received: func(so *Socket, data []byte) { rc.log = append(rc.log, "received "+string(data)) },
		Sent: func(so *Socket, pkt []byte) {
			rc.sent++
			rc.log = append(rc.log, "sent "+string(pkt))
		},
	}
}

func TestObserver(t *testing.T) {
	srv, r := testReactor(Config{})
	io := NewSocketIO(srv)
	rc := &recorder{}
	io.Observe(rc.observer())
	io.Of("/").On("message", func(s *Socket, ev *Event) {
		s.Join("news")
		s.Emit("message", ev.Args, nil)
		s.Ack(ev, ev.Args, nil) // not reported
		s.Leave("news")
		s.Join("sports")
	})
	s, c := wsSession(r, io)
	cs := c.ctx.(*connState)
	for _, p := range []string{"40", `421["message",1]`} {
		c.in = maskedFrame(1, p)
		cs.serve(c, c.in, false)
	}
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`2`), Attachments: [][]byte{{1}}})
	r.deliverBatch([]*encodedBroadcast{eb})
	s.Close()
	want := []string{
		"opened websocket",
		"connected /",
		`received ["message",1]`,
		"joined news",
		`sent 2["message",1]`,
		"left news",
		"joined sports",
		`sent 51-["news",2]`,
		"left <id>", "left sports",
		"disconnected forced close",
		"closed forced close",
	}
	if got := strings.Join(rc.log, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("observer heard:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	io.Observe(nil)
	rc.log = nil
	s2, c2 := wsSession(r, io)
	c2.in = maskedFrame(1, "40")
	c2.ctx.(*connState).serve(c2, c2.in, false)
	s2.Close()
	if len(rc.log) != 0 {
		t.Fatalf("removed observer still heard %q", rc.log)
	}
}
