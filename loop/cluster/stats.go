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
	pubsubIn                                         atomic.Uint64 // every pub/sub message read, before any filter
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
	// PubSubIn counts every pub/sub message Redis delivered to this
	// server, on any channel, before any filter (its own messages and
	// those for rooms it has no member of included): what the
	// subscriptions cost it, to compare REDIS_ADAPTER=pubsub and sharded.
	PubSubIn uint64
	Queued   int // messages waiting to be published now

	// Adapter is the protocol: "pubsub", "streams" or "sharded"
	// (REDIS_ADAPTER).
	Adapter string
	// With streams: StreamRead counts the entries read from the stream
	// (this server's own included), StreamReadErrors the XREAD failures,
	// and StreamLag is how many entries the reader is behind the stream's
	// end, measured every 5s (-1 while unknown: Redis < 7, or never
	// caught up yet).
	StreamRead, StreamReadErrors uint64
	StreamLag                    int64

	// With streams and connection state recovery (sessions_streams.go):
	// SessionsPersisted counts the session keys written (SET or DEL),
	// SessionSaveErrors those given up after PublishRetry, SessionsRestored
	// the sessions restored, SessionsFailed the restores that failed, by
	// reason (RestoreFailureNames); Sessions is whether the adapter keeps
	// them.
	Sessions                             bool
	SessionsPersisted, SessionSaveErrors uint64
	SessionsRestored                     uint64
	SessionsFailed                       [restoreReasons]uint64

	// Topology is the Redis deployment: "single", "sentinel" or
	// "cluster" (Config.Topology).
	Topology string
	// Master is the address of the Redis node the adapter last connected
	// to: with Sentinel, the master the Sentinels named then ("" before
	// the first connection and with a Redis Cluster).
	Master string
	// Failovers counts the changes of master seen with Sentinel: a new
	// connection went to another address than the one before.
	Failovers uint64
	// Nodes are the nodes of a Redis Cluster (masters and replicas) or
	// the Sentinels, each with whether it answered the last PING (every
	// 5s); nil with a single Redis and before the first round. Shared:
	// do not modify.
	Nodes []NodeState
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
		PubSubIn:   a.ctr.pubsubIn.Load(),
		Queued:     len(a.out),
		Adapter:    "pubsub",
		Topology:   a.cfg.Topology(),
		Master:     a.nodes.current(),
		Failovers:  a.nodes.failovers.Load(),
		Nodes:      a.nodes.probedNodes(),
	}
	if a.sh != nil {
		s.Adapter = "sharded"
	} else if st := a.st; st != nil {
		s.Adapter = "streams"
		s.StreamRead, s.StreamReadErrors, s.StreamLag = st.read.Load(), st.errors.Load(), st.lag.Load()
	}
	if ss := a.ss; ss != nil {
		s.Sessions = true
		s.SessionsPersisted, s.SessionSaveErrors, s.SessionsRestored = ss.persisted.Load(), ss.saveErrors.Load(), ss.restored.Load()
		for i := range s.SessionsFailed {
			s.SessionsFailed[i] = ss.failed[i].Load()
		}
	}
	for k := range numKinds {
		s.Sent[k] = a.ctr.sent[k].Load()
		s.Received[k] = a.ctr.received[k].Load()
	}
	return s
}
