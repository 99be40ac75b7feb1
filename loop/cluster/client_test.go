package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

func TestConfigCheck(t *testing.T) {
	f := func(c Config, want string) {
		t.Helper()
		_, err := New(c, newFakeLocal(), nil)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%+v: err %v, want %q", c, err, want)
		}
	}
	f(Config{}, "no Redis")
	f(Config{URL: "redis://h:1", ClusterAddrs: []string{"h:2"}}, "one of")
	f(Config{SentinelAddrs: []string{"h:1"}}, "needs SentinelMaster")
	f(Config{URL: "redis://h:1", Password: "x"}, "put it in the URL")
	f(Config{SentinelAddrs: []string{"h:1"}, SentinelMaster: "m", Password: "x"}, "")
	f(Config{ClusterAddrs: []string{"h:1", "h:2"}}, "")
}

// ticker publishes "tick" broadcasts numbered from 0 every 10ms from a
// until stop is closed, and records when each number reaches b.
type ticker struct {
	a, b   *Adapter
	fb     *fakeLocal
	mu     sync.Mutex
	sent   int
	got    map[int]time.Time
	stop   chan struct{} // stops the publisher
	done   chan struct{} // stops the receiver
	closed sync.WaitGroup
}

func startTicker(a, b *Adapter, fb *fakeLocal) *ticker {
	tk := &ticker{a: a, b: b, fb: fb, got: map[int]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	tk.closed.Add(2)
	go func() {
		defer tk.closed.Done()
		for i := 0; ; i++ {
			select {
			case <-tk.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			a.Publish(&loop.Broadcast{Event: "tick", Args: []byte(strconv.Itoa(i))})
			tk.mu.Lock()
			tk.sent = i + 1
			tk.mu.Unlock()
		}
	}()
	go func() {
		defer tk.closed.Done()
		for {
			select {
			case <-tk.done:
				return
			case m := <-fb.got:
				n, _ := strconv.Atoi(string(m.Args))
				tk.mu.Lock()
				tk.got[n] = time.Now()
				tk.mu.Unlock()
			}
		}
	}()
	return tk
}

// receivedSince reports whether a tick published after t reached b.
func (tk *ticker) receivedAfter(t time.Time) bool {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	for _, at := range tk.got {
		if at.After(t) {
			return true
		}
	}
	return false
}

// finish stops the publisher, gives what it published 2s to arrive, and
// returns how many ticks were sent, which numbers never arrived, and the
// longest time between two arrivals.
func (tk *ticker) finish() (sent int, lost []int, gap time.Duration) {
	close(tk.stop)
	time.Sleep(2 * time.Second)
	close(tk.done)
	tk.closed.Wait()
	tk.mu.Lock()
	defer tk.mu.Unlock()
	var prev time.Time
	for i := range tk.sent {
		at, ok := tk.got[i]
		if !ok {
			lost = append(lost, i)
			continue
		}
		if !prev.IsZero() && at.Sub(prev) > gap {
			gap = at.Sub(prev)
		}
		if at.After(prev) {
			prev = at
		}
	}
	return tk.sent, lost, gap
}

// TestSentinelFailover runs a master, a replica and three Sentinels, and
// three pairs of adapters found through the Sentinels, one pair with
// pub/sub, one with streams and one sharded, each publishing a broadcast every 10ms to
// the other. The master is killed (SIGKILL, by PID): the Sentinels
// promote the replica, and every adapter follows it without a restart;
// delivery resumes within 10s (about 3s here: 1s down-after-milliseconds,
// the vote, the promotion, then go-redis's reconnection). What pub/sub
// (and sharded) lost is what was published while the subscriber was not subscribed to
// the new master; streams lose nothing that reached the stream that the
// new master holds.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a Sentinel failover takes several seconds")
	}
	rs := redistest.StartSentinel(t)
	sentinel := func(adapter string) func(*Config) {
		return func(c *Config) {
			c.URL, c.SentinelAddrs, c.SentinelMaster = "", rs.Addrs(), redistest.SentinelMaster
			c.Key = adapter
			switch adapter {
			case "streams":
				c.Streams, c.Stream = true, "failover"
			case "sharded":
				c.Sharded = true
			}
		}
	}
	pair := func(adapter string) *ticker {
		fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
		fb.got = make(chan loop.Broadcast, 10000)
		a := startAdapter(t, "", fa, sentinel(adapter))
		b := startAdapter(t, "", fb, sentinel(adapter))
		if adapter == "streams" {
			waitReading(t, b)
		}
		return startTicker(a, b, fb)
	}
	ps, st, sh := pair("pubsub"), pair("streams"), pair("sharded")
	if m := ps.a.Stats().Master; m != rs.Master.Addr() {
		t.Fatalf("master %q, want %s", m, rs.Master.Addr())
	}
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	rs.Master.Kill()
	waitFor(t, "pub/sub delivery after the failover", 20*time.Second, func() bool { return ps.receivedAfter(killed.Add(time.Second)) })
	resumedPS := time.Since(killed)
	waitFor(t, "streams delivery after the failover", 20*time.Second, func() bool { return st.receivedAfter(killed.Add(time.Second)) })
	resumedST := time.Since(killed)
	waitFor(t, "sharded delivery after the failover", 20*time.Second, func() bool { return sh.receivedAfter(killed.Add(time.Second)) })
	resumedSH := time.Since(killed)
	time.Sleep(500 * time.Millisecond)
	for _, tk := range []*ticker{ps, st, sh} {
		for _, ad := range []*Adapter{tk.a, tk.b} {
			if s := ad.Stats(); s.Master != rs.Replica.Addr() || s.Failovers != 1 || !s.Up || s.Topology != TopologySentinel {
				t.Errorf("after the failover: master %q failovers %d up %v topology %q, want %s 1 true sentinel",
					s.Master, s.Failovers, s.Up, s.Topology, rs.Replica.Addr())
			}
		}
	}
	if n, err := ps.a.ServerCount(context.Background(), "/"); n != 2 || err != nil {
		t.Errorf("ServerCount after the failover: %d, %v", n, err)
	}
	sent, lost, gap := ps.finish()
	t.Logf("pub/sub: delivery resumed %v after the kill; longest gap %v; %d of %d lost: %v", resumedPS.Round(time.Millisecond), gap.Round(time.Millisecond), len(lost), sent, lost)
	if gap > 10*time.Second || len(lost) > sent/2 {
		t.Errorf("pub/sub: gap %v, %d of %d lost", gap, len(lost), sent)
	}
	sent, lost, gap = sh.finish()
	t.Logf("sharded: delivery resumed %v after the kill; longest gap %v; %d of %d lost", resumedSH.Round(time.Millisecond), gap.Round(time.Millisecond), len(lost), sent)
	if gap > 10*time.Second || len(lost) > sent/2 {
		t.Errorf("sharded: gap %v, %d of %d lost", gap, len(lost), sent)
	}
	sent, lost, gap = st.finish()
	t.Logf("streams: delivery resumed %v after the kill; longest gap %v; %d of %d lost: %v", resumedST.Round(time.Millisecond), gap.Round(time.Millisecond), len(lost), sent, lost)
	if gap > 10*time.Second || len(lost) > 0 {
		// A loss here can only be an entry XADDed to the old master that
		// had not reached the replica when it died.
		t.Errorf("streams: gap %v, %d of %d lost: %v", gap, len(lost), sent, lost)
	}
}

// TestRedisCluster runs both protocols on a 3-master Redis Cluster:
// PUBLISH reaches the subscribers of every node, the server count sums
// PUBSUB NUMSUB over the nodes, and the stream lives on the one node of
// its slot.
func TestRedisCluster(t *testing.T) {
	rc := redistest.StartCluster(t)
	onCluster := func(streams bool) func(*Config) {
		return func(c *Config) {
			c.URL, c.ClusterAddrs = "", rc.Addrs()[:1] // one seed: the others are discovered
			if streams {
				c.Streams, c.Stream = true, "cluster-stream"
			}
		}
	}
	ctx := context.Background()
	t.Run("pubsub", func(t *testing.T) {
		fa, fb := newFakeLocal("a1"), newFakeLocal("b1", "b2")
		a := startAdapter(t, "", fa, onCluster(false))
		startAdapter(t, "", fb, onCluster(false))
		a.Publish(&loop.Broadcast{Namespace: "/chat", Rooms: []string{"r"}, Event: "hi", Args: []byte(`1`)})
		if got := recv(t, fb); got.Event != "hi" || got.Namespace != "/chat" || string(got.Args) != "1" {
			t.Errorf("received %+v", got)
		}
		// A subscriber of the request channel on each node: the count is
		// the sum over the nodes, wherever each subscription lives.
		for _, addr := range rc.Addrs() {
			c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
			ps := c.Subscribe(ctx, RequestChannel(DefaultKey, "/"))
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ps.Close(); c.Close() })
		}
		if n, err := a.ServerCount(ctx, "/"); n != 5 || err != nil {
			t.Errorf("ServerCount = %d, %v; want 2 adapters + 3 subscribers", n, err)
		}
		if s := a.Stats(); s.Topology != TopologyCluster || s.Master != "" {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("pubsub requests", func(t *testing.T) {
		fa, fb := newFakeLocal("a1"), newFakeLocal("b1", "b2")
		a := startAdapter(t, "", fa, func(c *Config) { onCluster(false)(c); c.Key = "req" })
		startAdapter(t, "", fb, func(c *Config) { onCluster(false)(c); c.Key = "req" })
		list, reach, err := a.FetchSockets(ctx, loop.Target{})
		if err != nil || reach != (Reach{2, 2}) || len(list) != 3 {
			t.Errorf("FetchSockets = %v, %+v, %v", list, reach, err)
		}
	})
	t.Run("streams", func(t *testing.T) {
		fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
		a := startAdapter(t, "", fa, onCluster(true))
		b := startAdapter(t, "", fb, onCluster(true))
		waitReading(t, b)
		for i := range 3 {
			a.Publish(&loop.Broadcast{Event: "e", Args: []byte(strconv.Itoa(i))})
		}
		for i := range 3 {
			if got := recv(t, fb); string(got.Args) != strconv.Itoa(i) {
				t.Errorf("entry %d: %+v", i, got)
			}
		}
		list, reach, err := b.FetchSockets(ctx, loop.Target{})
		if err != nil || reach != (Reach{2, 2}) || len(list) != 2 {
			t.Errorf("FetchSockets = %v, %+v, %v", list, reach, err)
		}
	})
}
