package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

func TestHashSlot(t *testing.T) {
	// Values from CLUSTER KEYSLOT of Redis 7.
	f := func(key string, want uint16) {
		t.Helper()
		if got := hashSlot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, want)
		}
	}
	f("123456789", 0x31c3)
	f("foo", 12182)
	f("{user1000}.following", hashSlot("user1000"))
	f("foo{}{bar}", hashSlot("foo{}{bar}"))
}

func TestCheckVersionInfo(t *testing.T) {
	if err := checkVersionInfo("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"); !errors.Is(err, ErrNoShardedPubSub) || !strings.Contains(err.Error(), "6.2.14") {
		t.Errorf("6.2.14: %v", err)
	}
	if err := checkVersionInfo("# Server\r\nredis_version:7.0.15\r\n"); err != nil {
		t.Errorf("7.0.15: %v", err)
	}
}

// TestShardedSingle runs the sharded protocol on one Redis 7 server.
func TestShardedSingle(t *testing.T) {
	redistest.NeedVersion(t, 7)
	rs := redistest.Start(t)
	testSharded(t, func(c *Config) { c.URL = rs.URL })
}

// TestShardedCluster runs the sharded protocol on a 3-master Redis
// Cluster: the channels of the namespace and of each room live on the
// node of their slot.
func TestShardedCluster(t *testing.T) {
	redistest.NeedVersion(t, 7)
	rc := redistest.StartCluster(t)
	testSharded(t, func(c *Config) { c.URL, c.ClusterAddrs = "", rc.Addrs() })
}

// testSharded starts three servers a, b, c in dynamic mode; b has a
// member of room "r1" (its OnRoom hook called, as loop does), c none. A
// broadcast to r1 reaches b only: c receives no Redis message at all for
// it. A broadcast to everyone, requests and remote joins reach all.
func testSharded(t *testing.T, redis func(*Config)) {
	cfg := func(mode string) func(*Config) {
		return func(c *Config) { redis(c); c.Sharded, c.SubscriptionMode = true, mode }
	}
	fa, fb, fc := newFakeLocal("a1"), newFakeLocal("b1"), newFakeLocal("c1", "c2")
	a := startAdapter(t, "", fa, cfg(""))
	b := startAdapter(t, "", fb, cfg(""))
	c := startAdapter(t, "", fc, cfg(""))
	ctx := context.Background()
	// Up says every SSUBSCRIBE was sent; Redis may not have run the last
	// one yet.
	waitFor(t, "ServerCount 3", 5*time.Second, func() bool { n, err := a.ServerCount(ctx, "/"); return n == 3 && err == nil })
	b.OnRoom("/", "r1")
	b.OnRoom("/", "r1") // a second reactor: one subscription
	waitFor(t, "r1 subscribed", 5*time.Second, func() bool {
		n, _ := numShard(ctx, a, b.sh.roomChannel("/", "r1"))
		return n == 1
	})
	received := func(ad *Adapter) uint64 { return ad.Stats().Received[kindBroadcast] }
	b0, c0 := received(b), received(c)
	for i := range 5 {
		a.Publish(&loop.Broadcast{Rooms: []string{"r1"}, Event: "room", Args: []byte{'0' + byte(i)}})
	}
	for range 5 {
		if got := recv(t, fb); got.Event != "room" || !slices.Equal(got.Rooms, []string{"r1"}) {
			t.Errorf("b received %+v", got)
		}
	}
	a.Publish(&loop.Broadcast{Event: "all", Args: []byte(`{"_placeholder":true,"num":0}`), Attachments: [][]byte{{1, 2}}})
	for _, f := range []*fakeLocal{fb, fc} {
		if got := recv(t, f); got.Event != "all" || len(got.Attachments) != 1 || string(got.Attachments[0]) != "\x01\x02" {
			t.Errorf("received %+v", got)
		}
	}
	noRecv(t, fc, 100*time.Millisecond)
	if db, dc := received(b)-b0, received(c)-c0; db != 6 || dc != 1 {
		t.Errorf("Redis messages received for 5 broadcasts to r1 and 1 to all: b %d (want 6), c %d (want 1)", db, dc)
	}
	t.Logf("5 broadcasts to room r1 (member on b only) and 1 to all: b received %d Redis messages, c %d", received(b)-b0, received(c)-c0)

	// The room's last member leaves b: the channel is unsubscribed.
	b.OnRoomRemoved("/", "r1")
	b.OnRoomRemoved("/", "r1")
	waitFor(t, "r1 unsubscribed", 5*time.Second, func() bool {
		n, _ := numShard(ctx, a, b.sh.roomChannel("/", "r1"))
		return n == 0
	})

	list, reach, err := c.FetchSockets(ctx, loop.Target{})
	if err != nil || reach != (Reach{3, 3}) || len(list) != 4 {
		t.Errorf("FetchSockets = %d sockets, %+v, %v", len(list), reach, err)
	}
	if _, err := a.Join(loop.Target{Rooms: []string{"c2"}}, []string{"j"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c2 joined j", 5*time.Second, func() bool { return slices.Contains(fc.rooms("c2"), "j") })
	acks, clients, reach, err := b.BroadcastWithAck(ctx, &loop.Broadcast{Event: "ask"}, time.Second)
	if err != nil || clients != 4 || len(acks) != 4 || reach != (Reach{3, 3}) {
		t.Errorf("BroadcastWithAck = %d acks of %d clients, %+v, %v", len(acks), clients, reach, err)
	}
	if s := a.Stats(); s.Adapter != "sharded" || !s.Up || s.Malformed != 0 {
		t.Errorf("stats %+v", s)
	}

	// Static mode: the room broadcast goes on the namespace's channel,
	// which every server receives.
	fd, fe := newFakeLocal("d1"), newFakeLocal("e1")
	d := startAdapter(t, "", fd, func(c *Config) { cfg(SubscribeStatic)(c); c.Key = "static" })
	e := startAdapter(t, "", fe, func(c *Config) { cfg(SubscribeStatic)(c); c.Key = "static" })
	e.OnRoom("/", "r1")
	d.Publish(&loop.Broadcast{Rooms: []string{"r1"}, Event: "room"})
	if got := recv(t, fe); got.Event != "room" {
		t.Errorf("static: received %+v", got)
	}
}

// numShard returns PUBSUB SHARDNUMSUB of ch, asked of the node of its slot.
func numShard(ctx context.Context, a *Adapter, ch string) (int, error) { return a.sh.numSub(ctx, ch) }

// TestShardedDynamicPrivate: in dynamic-private mode a broadcast to one
// socket id goes on that socket's own channel, which only its server
// subscribes (loop reports the id room with PrivateRooms): a server
// without the socket receives nothing; in dynamic mode the same broadcast
// goes on the namespace's channel, which every server receives.
func TestShardedDynamicPrivate(t *testing.T) {
	redistest.NeedVersion(t, 7)
	rs := redistest.Start(t)
	const sid = "AbCdEfGhIjKlMnOpQrSt" // 20 characters: a socket id
	for _, mode := range []string{SubscribeDynamicPrivate, SubscribeDynamic} {
		t.Run(mode, func(t *testing.T) {
			cfg := func(c *Config) { c.URL, c.Key, c.Sharded, c.SubscriptionMode = rs.URL, "k-"+mode, true, mode }
			fa, fb, fc := newFakeLocal("a1"), newFakeLocal(sid), newFakeLocal("c1")
			a := startAdapter(t, "", fa, cfg)
			b := startAdapter(t, "", fb, cfg)
			c := startAdapter(t, "", fc, cfg)
			ctx := context.Background()
			waitFor(t, "ServerCount 3", 5*time.Second, func() bool { n, err := a.ServerCount(ctx, "/"); return n == 3 && err == nil })
			b.OnRoom("/", sid) // the socket joined its namespace on b
			if mode == SubscribeDynamicPrivate {
				waitFor(t, "the socket's channel subscribed", 5*time.Second, func() bool {
					n, _ := numShard(ctx, a, b.sh.roomChannel("/", sid))
					return n == 1
				})
			}
			received := func(ad *Adapter) uint64 { return ad.Stats().Received[kindBroadcast] }
			c0 := received(c)
			a.Publish(&loop.Broadcast{Rooms: []string{sid}, Event: "private", Args: []byte("1")})
			if got := recv(t, fb); got.Event != "private" {
				t.Fatalf("b received %+v", got)
			}
			if mode == SubscribeDynamicPrivate {
				noRecv(t, fc, 200*time.Millisecond)
				if dc := received(c) - c0; dc != 0 {
					t.Errorf("c received %d Redis messages for a broadcast to a socket of b", dc)
				}
			} else {
				waitFor(t, "c to receive the namespace's message", 5*time.Second, func() bool { return received(c)-c0 == 1 })
			}
		})
	}
}
