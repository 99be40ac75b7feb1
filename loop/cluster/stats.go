package cluster

import "sync/atomic"

// kind classifies the messages between servers for the counters.
type kind uint8

const (
	kindBroadcast kind = iota // on a broadcast channel (msgpack [uid, packet, opts])
	kindRequest               // on a request channel
	kindResponse              // on a response channel
	numKinds
)

// KindNames names the kinds of Stats.Sent and Stats.Received, by index,
// as the type label of the metrics.
var KindNames = [numKinds]string{"broadcast", "request", "response"}

// counters are the adapter's atomic counters.
type counters struct {
	errors, reconnects, dropped, malformed, timeouts atomic.Uint64
	sent, received                                   [numKinds]atomic.Uint64
}

// Stats is a point-in-time copy of the adapter's counters.
type Stats struct {
	Up         bool   // Redis reachable (see Adapter.Up)
	Errors     uint64 // Redis commands and reads that failed
	Reconnects uint64 // subscription connections established again after a loss
	// Sent counts messages published, Received messages delivered by the
	// subscription, by kind (KindNames).
	Sent, Received [numKinds]uint64
	Dropped        uint64 // messages not published: queue full or Redis unreachable for PublishRetry
	Malformed      uint64 // received messages ignored because they could not be read or applied
	Timeouts       uint64 // cluster-wide requests that some server did not answer in time
	Queued         int    // messages waiting to be published now
}

// Stats returns the adapter's counters. Any goroutine may call it.
func (a *Adapter) Stats() Stats {
	s := Stats{
		Up:         a.Up(),
		Errors:     a.ctr.errors.Load(),
		Reconnects: a.ctr.reconnects.Load(),
		Dropped:    a.ctr.dropped.Load(),
		Malformed:  a.ctr.malformed.Load(),
		Timeouts:   a.ctr.timeouts.Load(),
		Queued:     len(a.out),
	}
	for k := range numKinds {
		s.Sent[k] = a.ctr.sent[k].Load()
		s.Received[k] = a.ctr.received[k].Load()
	}
	return s
}
