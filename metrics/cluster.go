package metrics

import (
	"io"

	"sioloop/loop/cluster"
)

// ClusterSource is what the Redis adapter reports at scrape time;
// *cluster.Adapter implements it.
type ClusterSource interface {
	Stats() cluster.Stats
}

// AddCluster adds the sioloop_redis_* and sioloop_cluster_* families,
// read from src at every scrape. Call it once, when building the handler.
func (s *Set) AddCluster(src ClusterSource) {
	s.set.RegisterMetricsWriter(func(w io.Writer) {
		st := src.Stats()
		var b []byte
		for i := range clusterFamilies {
			b = clusterFamilies[i].append(b, st)
		}
		_, _ = w.Write(b)
	})
}

// clusterFamily is a family written from the adapter's Stats.
type clusterFamily struct {
	name, typ, help string
	samples         func(a *appender, s *cluster.Stats)
}

func (f *clusterFamily) append(b []byte, s cluster.Stats) []byte {
	r := family{name: f.name, typ: f.typ, help: f.help, samples: func(a *appender, _ *reading) { f.samples(a, &s) }}
	return r.append(b, nil)
}

// clusterFamilies are the metrics of the Redis adapter (REDIS_URL).
var clusterFamilies = []clusterFamily{
	{"sioloop_redis_up", "gauge", "1 while Redis is reachable (subscriptions confirmed, last publish succeeded), else 0.",
		func(a *appender, s *cluster.Stats) {
			v := int64(0)
			if s.Up {
				v = 1
			}
			a.int("", v)
		}},
	{"sioloop_redis_errors_total", "counter", "Redis commands and subscription reads that failed.",
		func(a *appender, s *cluster.Stats) { a.uint("", s.Errors) }},
	{"sioloop_redis_reconnects_total", "counter", "Times the subscription connection to Redis was established again after a loss.",
		func(a *appender, s *cluster.Stats) { a.uint("", s.Reconnects) }},
	{"sioloop_cluster_messages_sent_total", "counter", "Messages published to the other servers, by type (broadcast, request, response).",
		func(a *appender, s *cluster.Stats) {
			for k, name := range cluster.KindNames {
				a.uint(`type="`+name+`"`, s.Sent[k])
			}
		}},
	{"sioloop_cluster_messages_received_total", "counter", "Messages received from Redis, by type (broadcast, request, response), own ones included.",
		func(a *appender, s *cluster.Stats) {
			for k, name := range cluster.KindNames {
				a.uint(`type="`+name+`"`, s.Received[k])
			}
		}},
	{"sioloop_redis_node_up", "gauge", "1 if the node (role master or replica of a Redis Cluster, or sentinel) answered the last PING (every 5s), else 0; absent with a single Redis.",
		func(a *appender, s *cluster.Stats) {
			for _, n := range s.Nodes {
				v := int64(0)
				if n.Up {
					v = 1
				}
				a.int(`addr="`+n.Addr+`",role="`+n.Role+`"`, v)
			}
		}},
	{"sioloop_redis_pubsub_messages_total", "counter", "Pub/sub messages Redis delivered to this server, every channel, before any filter (own messages and rooms without a local member included).",
		func(a *appender, s *cluster.Stats) { a.uint("", s.PubSubIn) }},
	{"sioloop_cluster_publish_dropped_total", "counter", "Messages for the other servers dropped: publish queue full, or Redis unreachable for longer than REDIS_PUBLISH_RETRY.",
		func(a *appender, s *cluster.Stats) { a.uint("", s.Dropped) }},
	{"sioloop_cluster_publish_queued", "gauge", "Messages waiting to be published to Redis.",
		func(a *appender, s *cluster.Stats) { a.int("", int64(s.Queued)) }},
	{"sioloop_cluster_malformed_total", "counter", "Messages from Redis ignored because they could not be read or applied.",
		func(a *appender, s *cluster.Stats) { a.uint("", s.Malformed) }},
	{"sioloop_cluster_adapter_info", "gauge", "1, labelled with the protocol of the cluster (REDIS_ADAPTER): pubsub or streams.",
		func(a *appender, s *cluster.Stats) {
			if s.Adapter != "" {
				a.int(`adapter="`+s.Adapter+`"`, 1)
			}
		}},
	{"sioloop_redis_stream_entries_read_total", "counter", "Entries read from the Redis stream (REDIS_ADAPTER=streams), this server's own included.",
		func(a *appender, s *cluster.Stats) {
			if s.Adapter == "streams" {
				a.uint("", s.StreamRead)
			}
		}},
	{"sioloop_redis_stream_read_errors_total", "counter", "Reads of the Redis stream that failed (REDIS_ADAPTER=streams); each is retried from the last entry read.",
		func(a *appender, s *cluster.Stats) {
			if s.Adapter == "streams" {
				a.uint("", s.StreamReadErrors)
			}
		}},
	{"sioloop_redis_stream_lag_entries", "gauge", "Entries of the Redis stream not read yet (REDIS_ADAPTER=streams), measured every 5s from XINFO STREAM (Redis 7 or later); absent while unknown.",
		func(a *appender, s *cluster.Stats) {
			if s.Adapter == "streams" && s.StreamLag >= 0 {
				a.int("", s.StreamLag)
			}
		}},
	{"sioloop_redis_sessions_persisted_total", "counter", "Session keys of connection state recovery written to Redis (SET or DEL; REDIS_ADAPTER=streams with CONNECTION_STATE_RECOVERY).",
		sessionCounter(func(s *cluster.Stats) uint64 { return s.SessionsPersisted })},
	{"sioloop_redis_session_save_errors_total", "counter", "Session keys not written: Redis unreachable for longer than REDIS_PUBLISH_RETRY.",
		sessionCounter(func(s *cluster.Stats) uint64 { return s.SessionSaveErrors })},
	{"sioloop_redis_sessions_restored_total", "counter", "Sessions restored from Redis (connection state recovery across servers).",
		sessionCounter(func(s *cluster.Stats) uint64 { return s.SessionsRestored })},
	{"sioloop_redis_session_restore_failures_total", "counter", "Restores from Redis that gave the client a fresh session, by reason.",
		func(a *appender, s *cluster.Stats) {
			if s.Sessions {
				for i, name := range cluster.RestoreFailureNames {
					a.uint(`reason="`+name+`"`, s.SessionsFailed[i])
				}
			}
		}},
	{"sioloop_redis_info", "gauge", "1, labelled with the Redis deployment (topology: single, sentinel or cluster) and, except on a cluster, the node the adapter last connected to (master: with Sentinel, the master the Sentinels name).",
		func(a *appender, s *cluster.Stats) {
			if s.Topology != "" {
				a.int(`topology="`+s.Topology+`",master="`+s.Master+`"`, 1)
			}
		}},
	{"sioloop_redis_failovers_total", "counter", "Changes of master seen through the Sentinels (REDIS_SENTINEL_ADDRS): a new connection went to another master than the one before.",
		func(a *appender, s *cluster.Stats) {
			if s.Topology == cluster.TopologySentinel {
				a.uint("", s.Failovers)
			}
		}},
	{"sioloop_cluster_request_timeouts_total", "counter", "Cluster-wide requests (fetch sockets, all rooms, acks) that some server did not answer within REDIS_REQUEST_TIMEOUT.",
		func(a *appender, s *cluster.Stats) { a.uint("", s.Timeouts) }},
}

// sessionCounter appends the counter pick returns, for an adapter that
// keeps sessions in Redis (absent otherwise).
func sessionCounter(pick func(*cluster.Stats) uint64) func(*appender, *cluster.Stats) {
	return func(a *appender, s *cluster.Stats) {
		if s.Sessions {
			a.uint("", pick(s))
		}
	}
}
