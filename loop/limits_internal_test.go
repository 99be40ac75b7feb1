package loop

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestBucket(t *testing.T) {
	var b bucket
	const s = int64(time.Second)
	take := func(now int64, want bool, what string) {
		t.Helper()
		if got := b.take(now, 2, 3); got != want {
			t.Fatalf("%s: take = %v, want %v", what, got, want)
		}
	}
	now := 100 * s
	for range 3 {
		take(now, true, "the burst")
	}
	take(now, false, "past the burst")
	take(now+s/4, false, "half a token")
	take(now+s/2, true, "a whole token, refilled")
	take(now, false, "the clock read late by another reactor")
	now += 60 * s // a long idle refills up to the burst only
	for range 3 {
		take(now, true, "the burst after idling")
	}
	take(now, false, "past the burst after idling")
}

// TestEventBucket drives one socket's bucket on a synthetic clock: the
// burst, refusals that run the bucket into debt, the flood past a burst's
// worth of debt, and the refill that pays the debt back.
func TestEventBucket(t *testing.T) {
	l := newEventLimit(10, 4) // a token every 100 ms, 4 at once
	const ms = int64(time.Millisecond)
	now := 1_000_000 * int64(time.Second)
	var b eventBucket
	b.fill(now, &l)
	take := func(at int64, want eventVerdict, what string) {
		t.Helper()
		if got := b.take(at, &l); got != want {
			t.Fatalf("%s: verdict %d, want %d (tokens %v)", what, got, want, b.tokens)
		}
	}
	for range 4 {
		take(now, eventAccepted, "the burst")
	}
	for range 4 {
		take(now, eventRefused, "past the burst, into debt")
	}
	take(now, eventFlood, "more than a burst in debt")

	// A client that backs off pays the debt back at the rate.
	b.fill(now, &l)
	for range 4 {
		take(now, eventAccepted, "the burst again")
	}
	take(now, eventRefused, "one past it: 1 in debt")
	now += 150 * ms // +1.5 tokens (less a stamp unit's rounding)
	take(now, eventRefused, "half a token: still refused, 0.5 more in debt")
	now += 300 * ms // +3 tokens: 1.5
	take(now, eventAccepted, "debt paid, a token left")
	now += 10_000 * ms
	for range 4 {
		take(now, eventAccepted, "refilled up to the burst only")
	}
	take(now, eventRefused, "past the burst after idling")

	// A sender at twice the rate loses half a token an event: the burst
	// and its refill let 7 through; from then on everything is refused
	// (refused events are charged too) until the debt passes the burst,
	// at the 16th event, 0.8 s in.
	b.fill(now, &l)
	var accepted, refused int
	for i := 0; ; i++ {
		now += 50 * ms
		switch b.take(now, &l) {
		case eventAccepted:
			accepted++
			continue
		case eventRefused:
			refused++
			continue
		}
		if i+1 < 15 || i+1 > 17 || accepted != 7 || refused != i-7 {
			t.Fatalf("flood at event %d after %d accepted, %d refused: want the 16th, after 7 and 8", i+1, accepted, refused)
		}
		break
	}

	// The wall clock stepped back: the bucket refills whole rather than
	// stall until the clock catches up.
	b.fill(now, &l)
	for range 4 {
		take(now, eventAccepted, "a burst")
	}
	take(now-time.Hour.Nanoseconds(), eventAccepted, "after the clock stepped back an hour")
}

func TestNewEventLimit(t *testing.T) {
	f := func(rate float64, burst int, wantBurst float32, wantMsg string) {
		t.Helper()
		l := newEventLimit(rate, burst)
		if l.burst != wantBurst || string(l.refusal) != `{"error":"`+wantMsg+`"}` {
			t.Errorf("newEventLimit(%v, %d): burst %v, refusal %s; want %v, %q", rate, burst, l.burst, l.refusal, wantBurst, wantMsg)
		}
	}
	f(5, 0, 5, "event refused: over MAX_EVENTS_PER_SECOND (5/s, EVENT_BURST 5)")
	f(2.5, 0, 3, "event refused: over MAX_EVENTS_PER_SECOND (2.5/s, EVENT_BURST 3)")
	f(0.5, 0, 1, "event refused: over MAX_EVENTS_PER_SECOND (0.5/s, EVENT_BURST 1)")
	f(100, 20, 20, "event refused: over MAX_EVENTS_PER_SECOND (100/s, EVENT_BURST 20)")
	if l := newEventLimit(0, 10); l.perStamp != 0 || l.refusal != nil {
		t.Errorf("rate 0 must be off: %+v", l)
	}
}

// TestEventBucketSize: the event bucket stays 8 bytes (Socket's size
// class is guarded by TestConnSizes).
func TestEventBucketSize(t *testing.T) {
	if n := unsafe.Sizeof(eventBucket{}); n != 8 {
		t.Errorf("eventBucket is %d bytes, want 8", n)
	}
}

// TestEventRateSocket runs MaxEventsPerSecond through the Socket.IO layer
// on a frozen coarse clock that the test moves: events within the burst go
// to their handler, the next are refused (acked with the error when the
// client asked, dropped otherwise), the client's ACKs are not charged, and
// the event that would pass a burst's worth of debt disconnects the socket.
func TestEventRateSocket(t *testing.T) {
	io, r := testIO(t)
	io.MaxEventsPerSecond, io.EventBurst = 2, 3
	var reasons []string
	io.Of("/").OnDisconnect = func(_ *Socket, reason string) { reasons = append(reasons, reason) }
	clock := &r.srv.clock
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.expectSID("40")
	for i := range 3 {
		cl.send(1, `42["message",`+strconv.Itoa(i)+`]`)
		cl.expect(`42["echo",` + strconv.Itoa(i) + `]`)
	}
	const refusal = `[{"error":"event refused: over MAX_EVENTS_PER_SECOND (2/s, EVENT_BURST 3)"}]`
	cl.send(1, `427["message",3]`)
	cl.expect(`437` + refusal)
	cl.send(1, `42["message",4]`)
	cl.expect() // dropped
	// ACKs are not charged: a thousand of them leave the bucket as it was.
	for range 1000 {
		cl.send(1, `439[1]`)
	}
	cl.expect()
	// +3.2 tokens (stamps are ~1 ms units, so a hair less): the debt of 2
	// paid, 1.2 left.
	clock.Add(int64(1600 * time.Millisecond))
	cl.send(1, `428["message",5]`)
	cl.expect(`42["echo",5]`, `438[5]`)
	for i := range 3 { // into debt, not yet 3 tokens deep: refused
		cl.send(1, `42["message",`+strconv.Itoa(6+i)+`]`)
	}
	cl.expect()
	if st := r.srv.Snapshot(); st.EventsRefused != 5 || st.Refusals[RefusedEventFlood] != 0 {
		t.Fatalf("refused %d, floods %d; want 5 and 0", st.EventsRefused, st.Refusals[RefusedEventFlood])
	}
	cl.send(1, `429["message",9]`) // 4 in debt: a flood
	cl.expect(`41`, "close")
	if !cl.s.Closed() || strings.Join(reasons, ",") != ReasonEventFlood {
		t.Fatalf("session closed %v, disconnect reasons %q; want closed, %q", cl.s.Closed(), reasons, ReasonEventFlood)
	}
	if st := r.srv.Snapshot(); st.EventsRefused != 6 || st.Refusals[RefusedEventFlood] != 1 {
		t.Fatalf("refused %d, floods %d; want 6 and 1", st.EventsRefused, st.Refusals[RefusedEventFlood])
	}
	for _, st := range io.NamespaceStats() {
		if st.Name == "/" && st.EventsIn != 10 {
			t.Errorf("events in %d, want 10: refused events were received too", st.EventsIn)
		}
	}
}

// TestEventRateOff: with MaxEventsPerSecond 0 the bucket is never touched.
func TestEventRateOff(t *testing.T) {
	io, r := testIO(t)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.expectSID("40")
	for i := range 100 {
		cl.send(1, `42["message",`+strconv.Itoa(i)+`]`)
		cl.expect(`42["echo",` + strconv.Itoa(i) + `]`)
	}
	so := cl.s.sio.sockets[0]
	if so.ev != (eventBucket{}) || r.srv.Snapshot().EventsRefused != 0 {
		t.Fatalf("bucket %+v with the limit off", so.ev)
	}
}
