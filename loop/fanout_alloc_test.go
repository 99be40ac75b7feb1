//go:build !race

package loop

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFanoutAllocs guards the promise of the fan-out path: delivering one
// pre-encoded broadcast to 1,000 WebSocket clients allocates nothing per
// recipient (and nothing at all once the reactor's scratch has grown).
func TestFanoutAllocs(t *testing.T) {
	io, r, conns := fanoutSetup(1000)
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	batch := []*encodedBroadcast{eb}
	r.deliverBatch(batch) // grow the scratch buffers
	allocs := testing.AllocsPerRun(20, func() { r.deliverBatch(batch) })
	if allocs != 0 {
		t.Fatalf("deliverBatch to 1000 sockets: %.1f allocs, want 0", allocs)
	}
	// The CONNECT reply, the warm-up, AllocsPerRun's own warm-up and 20 runs.
	for i, c := range conns {
		if c.writes != 23 {
			t.Fatalf("conn %d got %d writes, want 23", i, c.writes)
		}
	}
}

// TestFanoutAllocsRecovery is TestFanoutAllocs with connection state
// recovery on: every socket has its recovery state and the broadcast its
// offset, recorded once in the history, so the per-recipient path only
// adds a comparison.
func TestFanoutAllocsRecovery(t *testing.T) {
	io, r, conns := fanoutSetupRecovery(1000, time.Minute)
	var eb *encodedBroadcast
	io.recovery().record(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)},
		func(e *encodedBroadcast) { eb = e })
	if eb.off == 0 || len(io.rec.hist) != 1 || !strings.HasSuffix(string(eb.poll), `,"1"]`) {
		t.Fatalf("broadcast not recorded with its offset: %q", eb.poll)
	}
	batch := []*encodedBroadcast{eb}
	r.deliverBatch(batch)
	allocs := testing.AllocsPerRun(20, func() { r.deliverBatch(batch) })
	if allocs != 0 {
		t.Fatalf("deliverBatch to 1000 sockets with recovery on: %.1f allocs, want 0", allocs)
	}
	for i, c := range conns {
		if c.writes != 23 {
			t.Fatalf("conn %d got %d writes, want 23", i, c.writes)
		}
	}
}

// TestFanoutAllocsIOURing is TestFanoutAllocs on the io_uring path: the
// 1,000 connections have real sockets (socket pairs) and every frame goes
// through the reactor's ring.
func TestFanoutAllocsIOURing(t *testing.T) {
	io, r, conns := fanoutSetup(1000)
	peers := givePeers(t, conns)
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	batch := []*encodedBroadcast{eb}
	r.deliverBatch(batch)
	requireRing(t, r)
	allocs := testing.AllocsPerRun(20, func() { r.deliverBatch(batch) })
	if allocs != 0 {
		t.Fatalf("deliverBatch to 1000 sockets through io_uring: %.1f allocs, want 0", allocs)
	}
	if n := r.ctr.ringSends.Load(); n != 22*1000 {
		t.Fatalf("%d io_uring sends, want 22,000", n)
	}
	// The warm-up, AllocsPerRun's own warm-up and 20 runs, all on the socket.
	buf := make([]byte, 64<<10)
	for i, fd := range peers {
		n, err := unix.Read(fd, buf)
		if err != nil || n != 22*len(eb.frames) {
			t.Fatalf("peer %d read %d bytes (%v), want %d", i, n, err, 22*len(eb.frames))
		}
		if _, err := unix.Read(fd, buf); err != syscall.EAGAIN {
			t.Fatalf("peer %d: more bytes than sent (%v)", i, err)
		}
		if conns[i].writes != 1 {
			t.Fatalf("conn %d: %d writes through gnet, want only the CONNECT reply", i, conns[i].writes)
		}
	}
}

// TestEchoAllocs guards the echo path: a 42["message",{...}] frame is
// decoded, dispatched and answered without allocating.
func TestEchoAllocs(t *testing.T) {
	cl, frame := echoSetup(t)
	buf := make([]byte, len(frame))
	run := func() {
		// The frame is unmasked in place, so each round gets a fresh copy.
		cl.c.in = buf[:copy(buf, frame)]
		cl.r.srv.OnTraffic(cl.c) // the reactor's entry, with its panic guard
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("echo round: %.1f allocs, want 0", allocs)
	}
}

// TestEchoAllocsEventRate is TestEchoAllocs with MaxEventsPerSecond on:
// accepted events, and refused ones answered with the error ack, charge
// the socket's bucket without allocating.
func TestEchoAllocsEventRate(t *testing.T) {
	srv, r := testReactor(Config{})
	io := NewSocketIO(srv)
	io.MaxEventsPerSecond, io.EventBurst = 1000, 1000
	io.Of("/").On("message", func(s *Socket, ev *Event) {
		s.Emit("message", ev.Args, ev.Attachments)
		s.Ack(ev, ev.Args, nil)
	})
	s, c := wsSession(r, io)
	cl := &sioClient{r: r, s: s, c: c, cs: c.ctx.(*connState)}
	c.in = maskedFrame(1, "40")
	cl.cs.serve(c, c.in, false)
	frame := maskedFrame(1, `421["message",{"user":"alice","text":"hello world","seq":12345}]`)
	buf := make([]byte, len(frame))
	run := func() {
		cl.c.in = buf[:copy(buf, frame)]
		cl.r.srv.OnTraffic(cl.c)
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("echo round under the event limit: %.1f allocs, want 0", allocs)
	}
	// The clock stands still: the bucket is spent and the rest are refused.
	for range 1000 {
		run()
	}
	refused := srv.Snapshot().EventsRefused
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 || refused == 0 {
		t.Fatalf("refused event acked: %.1f allocs (%d refused), want 0", allocs, refused)
	}
	if s.Closed() {
		t.Fatal("the session was closed as a flood")
	}
}

// TestFanoutAllocsObserver checks that an observer that only counts adds
// no allocation per recipient to the fan-out path (the admin UI's does
// its own bounding on top).
func TestFanoutAllocsObserver(t *testing.T) {
	io, r, _ := fanoutSetup(1000)
	n := 0
	o := (&recorder{}).observer()
	o.Sent = func(*Socket, []byte) { n++ }
	io.Observe(o)
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`{"payload":"hello"}`)})
	batch := []*encodedBroadcast{eb}
	r.deliverBatch(batch)
	if n != 1000 {
		t.Fatalf("Sent called %d times for 1000 recipients", n)
	}
	if allocs := testing.AllocsPerRun(20, func() { r.deliverBatch(batch) }); allocs != 0 {
		t.Fatalf("deliverBatch with a counting observer: %.1f allocs, want 0", allocs)
	}
}
