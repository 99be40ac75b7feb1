package metrics

import (
	"bytes"
	"sioloop/metrics/metricstest"
	"testing"

	"sioloop/loop/cluster"
)

type fakeCluster struct{ s cluster.Stats }

func (f *fakeCluster) Stats() cluster.Stats { return f.s }

// TestClusterFamilies checks the Redis adapter's families: read at scrape
// time, labelled by message type, parseable by Prometheus.
func TestClusterFamilies(t *testing.T) {
	srv, _ := newServer(t)
	s := New(srv, nil)
	src := &fakeCluster{cluster.Stats{Up: true, Errors: 3, Reconnects: 1, Dropped: 7, Malformed: 2, Timeouts: 4, Queued: 5, PubSubIn: 9}}
	src.s.Sent[0], src.s.Sent[1], src.s.Sent[2] = 10, 11, 12
	src.s.Received[0], src.s.Received[2] = 20, 22
	s.AddCluster(src)
	var b bytes.Buffer
	s.WritePrometheus(&b)
	mfs := metricstest.Parse(t, b.Bytes())
	f := func(name string, want float64, labels ...string) {
		t.Helper()
		if v, ok := metricstest.Value(mfs, name, labels...); !ok || v != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, v, ok, want)
		}
	}
	f("sioloop_redis_up", 1)
	f("sioloop_redis_errors_total", 3)
	f("sioloop_redis_reconnects_total", 1)
	f("sioloop_redis_pubsub_messages_total", 9)
	f("sioloop_cluster_messages_sent_total", 10, "type", "broadcast")
	f("sioloop_cluster_messages_sent_total", 11, "type", "request")
	f("sioloop_cluster_messages_sent_total", 12, "type", "response")
	f("sioloop_cluster_messages_received_total", 20, "type", "broadcast")
	f("sioloop_cluster_messages_received_total", 0, "type", "request")
	f("sioloop_cluster_publish_dropped_total", 7)
	f("sioloop_cluster_publish_queued", 5)
	f("sioloop_cluster_malformed_total", 2)
	f("sioloop_cluster_request_timeouts_total", 4)

	src.s.Adapter, src.s.StreamRead, src.s.StreamReadErrors, src.s.StreamLag = "streams", 40, 2, 17
	b.Reset()
	s.WritePrometheus(&b)
	mfs = metricstest.Parse(t, b.Bytes())
	f("sioloop_cluster_adapter_info", 1, "adapter", "streams")
	f("sioloop_redis_stream_entries_read_total", 40)
	f("sioloop_redis_stream_read_errors_total", 2)
	f("sioloop_redis_stream_lag_entries", 17)

	src.s.Sessions, src.s.SessionsPersisted, src.s.SessionSaveErrors, src.s.SessionsRestored = true, 50, 1, 6
	src.s.SessionsFailed[4] = 3
	b.Reset()
	s.WritePrometheus(&b)
	mfs = metricstest.Parse(t, b.Bytes())
	f("sioloop_redis_sessions_persisted_total", 50)
	f("sioloop_redis_session_save_errors_total", 1)
	f("sioloop_redis_sessions_restored_total", 6)
	f("sioloop_redis_session_restore_failures_total", 3, "reason", "redis_unavailable")
	f("sioloop_redis_session_restore_failures_total", 0, "reason", "bad_offset")
	src.s.Topology, src.s.Master, src.s.Failovers = "sentinel", "10.0.0.2:6379", 3
	b.Reset()
	s.WritePrometheus(&b)
	mfs = metricstest.Parse(t, b.Bytes())
	f("sioloop_redis_info", 1, "topology", "sentinel", "master", "10.0.0.2:6379")
	f("sioloop_redis_failovers_total", 3)

	src.s.Up = false
	b.Reset()
	s.WritePrometheus(&b)
	if v, _ := metricstest.Value(metricstest.Parse(t, b.Bytes()), "sioloop_redis_up"); v != 0 {
		t.Errorf("sioloop_redis_up = %v after Redis went down, want 0", v)
	}
}
