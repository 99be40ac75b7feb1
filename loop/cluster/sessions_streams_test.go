package cluster

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

// TestSessionEncoding: a session key's value is what
// @socket.io/redis-streams-adapter 0.3.1's persistSession writes
// (base64 of @msgpack/msgpack's {sid, pid, rooms, data}, vectors from
// Node), and it decodes back; garbage does not decode.
func TestSessionEncoding(t *testing.T) {
	var c Codec
	f := func(s loop.StoredSession, node string) {
		t.Helper()
		got, err := c.encodeSession(&s)
		if err != nil || got != node {
			t.Errorf("encode %+v: %q %v\nwant %q", s, got, err, node)
		}
		back, err := c.decodeSession(node)
		if err != nil || back.ID != s.ID || back.PID != s.PID || back.UserID != s.UserID || !slices.Equal(back.Rooms, s.Rooms) {
			t.Errorf("decode %q: %+v %v", node, back, err)
		}
	}
	f(loop.StoredSession{ID: "Ab_1234567890123456-", PID: "p1", Rooms: []string{"Ab_1234567890123456-", "news"}, UserID: "u1"},
		"hKNzaWS0QWJfMTIzNDU2Nzg5MDEyMzQ1Ni2jcGlkonAxpXJvb21zkrRBYl8xMjM0NTY3ODkwMTIzNDU2LaRuZXdzpGRhdGGBpnVzZXJJZKJ1MQ==")
	f(loop.StoredSession{ID: "s", PID: "p", Rooms: []string{"s"}}, "hKNzaWShc6NwaWShcKVyb29tc5Ghc6RkYXRhgA==")
	for _, bad := range []string{"", "!!", "hKNzaWShc6NwaWShcKVyb29tc5Ghc6RkYXRh", "kQ==", "gA=="} {
		if s, err := c.decodeSession(bad); err == nil {
			t.Errorf("decode %q: %+v, want an error", bad, s)
		}
	}
}

// TestValidOffset: offsets are checked as restoreSession does, /^[0-9]+-[0-9]+$/.
func TestValidOffset(t *testing.T) {
	for _, s := range []string{"0-0", "1700000000000-0", "1700000000000-12"} {
		if !validOffset(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "1", "-1", "1-", "a-1", "1-1-1", "1 -1", "17000000000000000000000-0", "$", "+"} {
		if validOffset(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestSessionKeys: a live session is written with PX twice the window and
// again every half window; a disconnected one with PX the window (as
// Node); a forgotten one is deleted; writes are coalesced per pid.
func TestSessionKeys(t *testing.T) {
	rs := redistest.Start(t)
	const window = 2 * time.Second
	a := startAdapter(t, rs.URL, newFakeLocal("a1"), func(c *Config) { c.Streams, c.Stream, c.SessionWindow = true, "k1", window })
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.Port)})
	defer rdb.Close()
	ctx := context.Background()
	ttl := func(pid string) time.Duration { return rdb.PTTL(ctx, SessionKeyPrefix+pid).Val() }

	a.Save(&loop.StoredSession{ID: "s1", PID: "p1", Rooms: []string{"s1"}})
	a.Save(&loop.StoredSession{ID: "s1", PID: "p1", Rooms: []string{"s1", "r"}}) // coalesced with the first
	a.Save(&loop.StoredSession{ID: "s2", PID: "p2", Rooms: []string{"s2"}})
	waitFor(t, "saved", 2*time.Second, func() bool { return ttl("p1") > 0 && ttl("p2") > 0 })
	if d := ttl("p1"); d <= window || d > 2*window {
		t.Errorf("live TTL %v: want twice the window", d)
	}
	var c Codec
	if s, err := c.decodeSession(rdb.Get(ctx, SessionKeyPrefix+"p1").Val()); err != nil || len(s.Rooms) != 2 {
		t.Errorf("p1 holds %+v %v: want the last save", s, err)
	}
	a.Save(&loop.StoredSession{ID: "s2", PID: "p2", Rooms: []string{"s2"}, Disconnected: true})
	a.Forget("p1")
	waitFor(t, "p1 deleted, p2 kept for the window", 2*time.Second, func() bool { d := ttl("p2"); return ttl("p1") == -2*time.Nanosecond && d > 0 && d <= window })
	a.Save(&loop.StoredSession{ID: "s3", PID: "p3", Rooms: []string{"s3"}})
	time.Sleep(window/2 + window/4) // one refresh
	if d := ttl("p3"); d <= window+window/2 {
		t.Errorf("TTL %v after a refresh: want it written again (near twice the window)", d)
	}
	if st := a.Stats(); !st.Sessions || st.SessionsPersisted < 5 || st.SessionSaveErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}
