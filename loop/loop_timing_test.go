package loop

import (
	"sync/atomic"
	"testing"
	"time"
)

// fanoutSetup connects n in-memory WebSocket clients to "/".
func fanoutSetup(n int) (*SocketIO, *reactor, []*memConn) {
	return fanoutSetupRecovery(n, 0)
}

// fanoutSetupRecovery is fanoutSetup with connection state recovery on
// for window (off when 0).
func fanoutSetupRecovery(n int, window time.Duration) (*SocketIO, *reactor, []*memConn) {
	srv, r := testReactor(Config{})
	io := NewSocketIO(srv)
	io.Recovery = window
	conns := make([]*memConn, n)
	for i := range conns {
		s, c := wsSession(r, io)
		cs := c.ctx.(*connState)
		c.in = maskedFrame(1, "40")
		cs.serve(c, c.in, false)
		conns[i] = c
		_ = s
	}
	r.endBatch()
	return io, r, conns
}

// echoSetup connects one client to "/" with the echo app.
func echoSetup(t testing.TB) (*sioClient, []byte) { return echoSetupWith(t, nil) }

// echoSetupWith is echoSetup with configure applied to the SocketIO first.
func echoSetupWith(t testing.TB, configure func(io *SocketIO)) (*sioClient, []byte) {
	srv, r := testReactor(Config{})
	io := NewSocketIO(srv)
	if configure != nil {
		configure(io)
	}
	io.Of("/").On("message", func(s *Socket, ev *Event) {
		s.Emit("message", ev.Args, ev.Attachments)
	})
	s, c := wsSession(r, io)
	cl := &sioClient{r: r, s: s, c: c, cs: c.ctx.(*connState)}
	c.in = maskedFrame(1, "40")
	cl.cs.serve(c, c.in, false)
	frame := maskedFrame(1, `42["message",{"user":"alice","text":"hello world","seq":12345,"ts":1732712345678}]`)
	return cl, frame
}

// BenchmarkEchoMessage measures decode-and-dispatch of a ~100-byte
// 42["message",{...}] frame plus the encoded echo reply written back.
func BenchmarkEchoMessage(b *testing.B) {
	cl, frame := echoSetup(b)
	buf := make([]byte, len(frame))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		// The frame is unmasked in place, so each round gets a fresh copy.
		cl.c.in = buf[:copy(buf, frame)]
		cl.cs.serve(cl.c, cl.c.in, false)
		cl.r.endBatch()
	}
}

// BenchmarkEchoMessageEventRate is BenchmarkEchoMessage with
// MAX_EVENTS_PER_SECOND on: the cost of charging each event to the
// socket's bucket. The clock moves 1 µs a round, so the bucket never runs
// out.
func BenchmarkEchoMessageEventRate(b *testing.B) {
	cl, frame := echoSetupWith(b, func(io *SocketIO) { io.MaxEventsPerSecond = MaxEventRate })
	buf := make([]byte, len(frame))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		cl.r.srv.clock.Add(int64(time.Microsecond))
		cl.c.in = buf[:copy(buf, frame)]
		cl.cs.serve(cl.c, cl.c.in, false)
		cl.r.endBatch()
	}
	if n := cl.r.srv.Snapshot().EventsRefused; n != 0 {
		b.Fatalf("%d events refused", n)
	}
}

// BenchmarkFanout1000 measures one broadcast delivered to 1,000 in-memory
// WebSocket clients; ns/op divided by 1,000 is the cost per recipient
// without the write syscall.
func BenchmarkFanout1000(b *testing.B) {
	io, r, _ := fanoutSetup(1000)
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	batch := []*encodedBroadcast{eb}
	b.ReportAllocs()
	for b.Loop() {
		r.deliverBatch(batch)
	}
}

// BenchmarkFanout1000Observed is BenchmarkFanout1000 while a monitor
// watches whose bucket is empty, as the Admin UI's is on a busy server:
// every recipient costs the Sent call and one atomic load.
func BenchmarkFanout1000Observed(b *testing.B) {
	io, r, _ := fanoutSetup(1000)
	var tokens atomic.Int64
	var dropped atomic.Uint64
	io.Observe(&Observer{Sent: func(*Socket, []byte) {
		if tokens.Load() <= 0 {
			dropped.Add(1)
		}
	}})
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	batch := []*encodedBroadcast{eb}
	b.ReportAllocs()
	for b.Loop() {
		r.deliverBatch(batch)
	}
}

// BenchmarkFanoutBatch16x1000 delivers 16 queued broadcasts at once: each
// client gets one writev of 16 frames.
func BenchmarkFanoutBatch16x1000(b *testing.B) {
	io, r, _ := fanoutSetup(1000)
	batch := make([]*encodedBroadcast, 16)
	for i := range batch {
		batch[i] = encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	}
	b.ReportAllocs()
	for b.Loop() {
		r.deliverBatch(batch)
	}
}

// BenchmarkOnReactor measures the check every server-side operation makes
// to learn whether it runs on a reactor (a goroutine id lookup).
func BenchmarkOnReactor(b *testing.B) {
	srv, _ := testReactor(Config{})
	b.ReportAllocs()
	for b.Loop() {
		if srv.onReactor() != nil {
			b.Fatal("the benchmark goroutine is taken for a reactor")
		}
	}
}
