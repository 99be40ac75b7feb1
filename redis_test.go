package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRedisSettings checks the Redis adapter's settings: off by default,
// read from env and flags, and errors that hide the password.
func TestRedisSettings(t *testing.T) {
	c, err := LoadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "" || c.RedisKey != "socket.io" || c.RedisRequestTimeout != 5*time.Second ||
		c.RedisPublishRetry != 10*time.Second || c.RedisReadiness {
		t.Errorf("Redis defaults: %+v", c)
	}
	c, err = LoadConfig([]string{"--redis-readiness", "true"},
		env(map[string]string{"REDIS_URL": "rediss://u:pw@redis.example:6380/2", "REDIS_KEY": "app", "REDIS_REQUEST_TIMEOUT": "1500ms", "REDIS_PUBLISH_RETRY": "3s"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "rediss://u:pw@redis.example:6380/2" || c.RedisKey != "app" || c.RedisRequestTimeout != 1500*time.Millisecond ||
		c.RedisPublishRetry != 3*time.Second || !c.RedisReadiness {
		t.Errorf("Redis settings: %+v", c)
	}
	f := func(e map[string]string, want string) {
		t.Helper()
		_, err := LoadConfig(nil, env(e), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("env %v: err %v, want it to contain %q and no password", e, err, want)
		}
	}
	f(map[string]string{"REDIS_URL": "http://u:secret@host:6379"}, `invalid REDIS_URL "http://u:xxxxx@host:6379": want redis://`)
	f(map[string]string{"REDIS_URL": "redis://:secret@host:6379/x"}, `invalid REDIS_URL "redis://:xxxxx@host:6379/x": the path must be a database number`)
	f(map[string]string{"REDIS_URL": "localhost:6379"}, `invalid REDIS_URL`)
	f(map[string]string{"REDIS_KEY": "a*b"}, `invalid REDIS_KEY "a*b"`)
	f(map[string]string{"REDIS_REQUEST_TIMEOUT": "0s"}, `invalid REDIS_REQUEST_TIMEOUT "0s"`)
	f(map[string]string{"REDIS_READINESS": "sometimes"}, `invalid REDIS_READINESS "sometimes": want true or false`)
	f(map[string]string{"REDIS_ADAPTER": "kafka"}, `invalid REDIS_ADAPTER "kafka": want pubsub, streams or sharded`)
	f(map[string]string{"REDIS_STREAM_NAME": "a b"}, `invalid REDIS_STREAM_NAME "a b"`)
	f(map[string]string{"REDIS_STREAM_MAXLEN": "-5"}, `invalid REDIS_STREAM_MAXLEN "-5": want a positive whole number`)
	f(map[string]string{"REDIS_STREAM_MAXLEN": "1e9x"}, `invalid REDIS_STREAM_MAXLEN "1e9x"`)
}

// TestRedisStreamsSettings checks REDIS_ADAPTER and the stream settings:
// defaults, env and flags, and their way to the adapter.
func TestRedisStreamsSettings(t *testing.T) {
	c, err := LoadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisAdapter != "pubsub" || c.RedisStreamName != "socket.io" || c.RedisStreamMaxLen != 10000 {
		t.Errorf("defaults: adapter %q stream %q maxlen %d", c.RedisAdapter, c.RedisStreamName, c.RedisStreamMaxLen)
	}
	c, err = LoadConfig([]string{"--redis-stream-maxlen", "500", "--redis-url", "redis://127.0.0.1:1"},
		env(map[string]string{"REDIS_ADAPTER": "streams", "REDIS_STREAM_NAME": "app-stream", "REDIS_STREAM_MAXLEN": "7"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisAdapter != "streams" || c.RedisStreamName != "app-stream" || c.RedisStreamMaxLen != 500 {
		t.Errorf("settings: adapter %q stream %q maxlen %d", c.RedisAdapter, c.RedisStreamName, c.RedisStreamMaxLen)
	}
	s, err := New(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if ac := s.Cluster.Config(); !ac.Streams || ac.Stream != "app-stream" || ac.StreamMaxLen != 500 || s.Cluster.Stats().Adapter != "streams" {
		t.Errorf("adapter config %+v", ac)
	}
	if s.IO.Sessions != nil {
		t.Error("sessions in Redis without CONNECTION_STATE_RECOVERY")
	}
	// With recovery, the streams adapter keeps the sessions; with pub/sub
	// they stay in the process.
	c.ConnectionStateRecovery = time.Minute
	if s, err = New(c, slog.New(slog.DiscardHandler)); err != nil || s.IO.Sessions != s.Cluster || s.Cluster.Config().SessionWindow != time.Minute {
		t.Errorf("streams with recovery: sessions %v, err %v", s.IO.Sessions, err)
	}
	c.RedisAdapter = "pubsub"
	if s, err = New(c, slog.New(slog.DiscardHandler)); err != nil || s.IO.Sessions != nil {
		t.Errorf("pubsub with recovery: sessions %v, err %v", s.IO.Sessions, err)
	}
}

// TestNewWithRedis builds a service with REDIS_URL: the adapter is set on
// the SocketIO and knows the declared namespaces; an unreachable Redis is
// no error at build time.
func TestNewWithRedis(t *testing.T) {
	c, err := LoadConfig([]string{"--redis-url", "redis://127.0.0.1:1", "--namespaces", "/chat,/org-*"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	s, err := New(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cluster == nil || s.IO.Adapter != s.Cluster {
		t.Fatalf("REDIS_URL set but the adapter is not wired: %+v", s)
	}
	if s.IO.OnNamespace == nil {
		t.Error("no OnNamespace hook: namespaces created from /org-* would not join the cluster")
	}
	c.RedisURL = ""
	if s, err = New(c, log); err != nil || s.Cluster != nil || s.IO.Adapter != nil {
		t.Errorf("without REDIS_URL: cluster %v adapter %v err %v", s.Cluster, s.IO.Adapter, err)
	}
}

// TestRedisTopologySettings checks REDIS_SENTINEL_* , REDIS_CLUSTER_ADDRS
// and REDIS_PASSWORD: their way to the adapter, and the combinations
// refused at start with one line.
func TestRedisTopologySettings(t *testing.T) {
	c, err := LoadConfig([]string{"--redis-sentinel-master", "mymaster"},
		env(map[string]string{"REDIS_SENTINEL_ADDRS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_PASSWORD": "sp", "REDIS_PASSWORD": "dp"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if ac := s.Cluster.Config(); ac.Topology() != "sentinel" || strings.Join(ac.SentinelAddrs, ",") != "10.0.0.1:26379,10.0.0.2:26379" ||
		ac.SentinelMaster != "mymaster" || ac.SentinelPassword != "sp" || ac.Password != "dp" {
		t.Errorf("adapter config %+v", ac)
	}
	c, err = LoadConfig(nil, env(map[string]string{"REDIS_CLUSTER_ADDRS": "n1:7000,[::1]:7001"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = New(c, slog.New(slog.DiscardHandler)); err != nil || s.Cluster.Config().Topology() != "cluster" {
		t.Errorf("cluster: %v", err)
	}
	f := func(e map[string]string, want string) {
		t.Helper()
		_, err := LoadConfig(nil, env(e), io.Discard)
		if err == nil || err.Error() != want {
			t.Errorf("env %v: err %v\nwant %s", e, err, want)
		}
	}
	f(map[string]string{"REDIS_URL": "redis://h:1", "REDIS_CLUSTER_ADDRS": "h:2"},
		"invalid REDIS_URL and REDIS_CLUSTER_ADDRS: set one of REDIS_URL, REDIS_SENTINEL_ADDRS and REDIS_CLUSTER_ADDRS, not several")
	f(map[string]string{"REDIS_SENTINEL_ADDRS": "h:1"},
		`invalid REDIS_SENTINEL_ADDRS "h:1": it needs REDIS_SENTINEL_MASTER, the name of the master the Sentinels monitor`)
	f(map[string]string{"REDIS_SENTINEL_MASTER": "m"}, `invalid REDIS_SENTINEL_MASTER "m": it needs REDIS_SENTINEL_ADDRS`)
	f(map[string]string{"REDIS_URL": "redis://h:1", "REDIS_PASSWORD": "secret"},
		"invalid REDIS_PASSWORD: with REDIS_URL the password goes in the URL (redis://:password@host:port)")
	f(map[string]string{"REDIS_PASSWORD": "secret"}, "invalid REDIS_PASSWORD: it needs REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS")
	f(map[string]string{"REDIS_URL": "redis://h:1", "REDIS_SUBSCRIPTION_MODE": "static"},
		`invalid REDIS_SUBSCRIPTION_MODE "static": it is for REDIS_ADAPTER=sharded (REDIS_ADAPTER is pubsub)`)
	f(map[string]string{"REDIS_ADAPTER": "sharded", "REDIS_SUBSCRIPTION_MODE": "private"},
		`invalid REDIS_SUBSCRIPTION_MODE "private": want dynamic, static or dynamic-private`)
	f(map[string]string{"REDIS_CLUSTER_ADDRS": "h:1,h"},
		`invalid REDIS_CLUSTER_ADDRS "h:1,h": "h" is not host:port: want a list like 10.0.0.1:26379,10.0.0.2:26379`)
}
