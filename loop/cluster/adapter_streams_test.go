package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

// streamsCfg makes startAdapter start a Streams adapter on stream name.
func streamsCfg(name string) func(*Config) {
	return func(c *Config) { c.Streams, c.Stream = true, name }
}

// waitReading waits until a's reader has read the stream once, so that
// what is XADDed next is after its start position.
func waitReading(t *testing.T, a *Adapter) {
	t.Helper()
	waitFor(t, "stream reader up", 5*time.Second, a.st.up.Load)
}

func TestStreamsBroadcast(t *testing.T) {
	rs := redistest.Start(t)
	fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
	a := startAdapter(t, rs.URL, fa, streamsCfg("s1"))
	b := startAdapter(t, rs.URL, fb, streamsCfg("s1"))
	waitReading(t, a)
	waitReading(t, b)
	if len(a.UID()) != 16 {
		t.Errorf("uid %q: want 16 hex digits as socket.io-adapter's randomId", a.UID())
	}

	f := func(in loop.Broadcast) {
		t.Helper()
		a.Publish(&in)
		got := recv(t, fb)
		in.Local = true
		if in.Namespace == "" {
			in.Namespace = "/"
		}
		if got.Namespace != in.Namespace || got.Event != in.Event || string(got.Args) != string(in.Args) ||
			!eqStrings(got.Rooms, in.Rooms) || !eqStrings(got.Except, in.Except) || got.Volatile != in.Volatile || !got.Local ||
			len(got.Attachments) != len(in.Attachments) {
			t.Errorf("received %+v\nwant %+v", got, in)
		}
		for i := range in.Attachments {
			if string(got.Attachments[i]) != string(in.Attachments[i]) {
				t.Errorf("attachment %d: %x, want %x", i, got.Attachments[i], in.Attachments[i])
			}
		}
	}
	f(loop.Broadcast{Event: "news", Args: []byte(`{"a":1},"x<&>",[true,null]`)})
	f(loop.Broadcast{Event: "none"})
	f(loop.Broadcast{Namespace: "/chat", Rooms: []string{"r1"}, Event: "room", Args: []byte(`1`)})
	f(loop.Broadcast{Rooms: []string{"r1", "r2"}, Except: []string{"x"}, Volatile: true, Event: "v", Args: []byte(`2`)})
	f(loop.Broadcast{Event: "bin", Args: []byte(`{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}}`),
		Attachments: [][]byte{{0, 1, 2}, []byte("file")}})
	noRecv(t, fa, 200*time.Millisecond) // own entries are skipped by uid

	// The entries are what RedisStreamsAdapter.encode writes.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.Port)})
	defer rdb.Close()
	msgs, err := rdb.XRange(context.Background(), "s1", "-", "+").Result()
	if err != nil || len(msgs) != 5 {
		t.Fatalf("XRANGE: %d entries, %v", len(msgs), err)
	}
	v := msgs[0].Values
	if v["uid"] != a.UID() || v["nsp"] != "/" || v["type"] != "3" ||
		v["data"] != `{"packet":{"type":2,"data":["news",{"a":1},"x<&>",[true,null]],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}}` {
		t.Errorf("entry %v", v)
	}
	if d := msgs[4].Values["data"].(string); d[0] == '{' {
		t.Errorf("binary entry data %q: want base64 msgpack", d)
	}
	if s := b.Stats(); s.Adapter != "streams" || s.StreamRead != 5 || s.Malformed != 0 || !s.Up {
		t.Errorf("stats %+v", s)
	}
}

// TestStreamsLag: the reader measures how far behind the stream's end it
// is, 0 once it has read everything.
func TestStreamsLag(t *testing.T) {
	defer func(d time.Duration) { streamsLagEvery = d }(streamsLagEvery)
	streamsLagEvery = 0
	rs := redistest.Start(t)
	fb := newFakeLocal("b1")
	a := startAdapter(t, rs.URL, newFakeLocal("a1"), streamsCfg("s6"))
	b := startAdapter(t, rs.URL, fb, streamsCfg("s6"))
	waitReading(t, b)
	for range 3 {
		a.Publish(&loop.Broadcast{Event: "x"})
		recv(t, fb)
	}
	a.Publish(&loop.Broadcast{Event: "y"}) // the reader wakes up and measures again
	recv(t, fb)
	waitFor(t, "lag 0", 5*time.Second, func() bool { return b.Stats().StreamLag == 0 })
}

// TestStreamsEntries XADDs what a Node server would, and garbage: the
// good ones are applied, the bad ones counted and skipped.
func TestStreamsEntries(t *testing.T) {
	rs := redistest.Start(t)
	fa := newFakeLocal("a1")
	a := startAdapter(t, rs.URL, fa, streamsCfg("s2"))
	waitReading(t, a)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(rs.Port)})
	defer rdb.Close()
	add := func(vals ...any) {
		t.Helper()
		if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: "s2", Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	add("uid", "node1", "nsp", "/", "type", "x", "data", "{}")                              // bad type
	add("uid", "node1", "nsp", "/", "type", "3", "data", "{nope")                           // bad JSON
	add("uid", "node1", "nsp", "/", "type", "3", "data", "!!!")                             // bad base64
	add("uid", "node1", "nsp", "/", "type", "3", "data", "kQE=")                            // msgpack [1]: not a map
	add("uid", "node1", "nsp", "/", "type", "99", "data", "{}")                             // unknown type
	add("uid", "node1", "nsp", "/", "type", "3", "data", `{"packet":{"type":0},"opts":{}}`) // not an event
	add("uid", "node1", "type", "3", "data", `{}`)                                          // no nsp: skipped silently
	add("uid", "node1", "nsp", "/nope", "type", "3", "data", `{}`)                          // not served: skipped
	add("uid", "node1", "nsp", "/", "type", "2")                                            // heartbeat: ignored
	add("uid", "node1", "nsp", "/", "type", "4", "data", `{"opts":{"rooms":[],"except":[]},"rooms":["r"]}`)
	// A broadcast with a Buffer, as @msgpack/msgpack encodes it: {packet:
	// {type: 2, data: ["b", <bin 01 02>], nsp: "/"}, opts: {rooms: ["r"], except: [], flags: {}}}.
	add("uid", "node1", "nsp", "/", "type", "3", "data", "gqZwYWNrZXSDpHR5cGUCpGRhdGGSoWLEAgECo25zcKEvpG9wdHODpXJvb21zkaFypmV4Y2VwdJClZmxhZ3OA")
	got := recv(t, fa)
	if got.Event != "b" || string(got.Args) != `{"_placeholder":true,"num":0}` || len(got.Attachments) != 1 ||
		string(got.Attachments[0]) != "\x01\x02" || !eqStrings(got.Rooms, []string{"r"}) {
		t.Errorf("binary broadcast %+v", got)
	}
	if !slices.Contains(fa.rooms("a1"), "r") {
		t.Error("SOCKETS_JOIN not applied")
	}
	if s := a.Stats(); s.Malformed != 6 {
		t.Errorf("malformed %d, want 6 (%+v)", s.Malformed, s)
	}
}

// TestStreamsRequests runs the requests of the protocol between three
// adapters: fetch sockets, join/leave/disconnect, server-side emit with
// acks, broadcast with acks, and the server count.
func TestStreamsRequests(t *testing.T) {
	rs := redistest.Start(t)
	fa, fb, fc := newFakeLocal("a1", "a2"), newFakeLocal("b1"), newFakeLocal("c1", "c2")
	a := startAdapter(t, rs.URL, fa, streamsCfg("s3"))
	b := startAdapter(t, rs.URL, fb, streamsCfg("s3"))
	startAdapter(t, rs.URL, fc, streamsCfg("s3"))
	for _, x := range []*Adapter{a, b} {
		waitReading(t, x)
	}
	ctx := context.Background()
	if n, err := a.ServerCount(ctx, "/"); n != 3 || err != nil {
		t.Fatalf("ServerCount = %d, %v", n, err)
	}
	list, reach, err := a.FetchSockets(ctx, loop.Target{})
	if err != nil || reach != (Reach{3, 3}) || len(list) != 5 {
		t.Fatalf("FetchSockets = %d, %+v, %v", len(list), reach, err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
		if s.UserID != "u-"+s.ID || s.Transport != "websocket" {
			t.Errorf("socket %+v", s)
		}
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "a1,a2,b1,c1,c2" {
		t.Errorf("ids %v", ids)
	}
	if n, err := a.Join(loop.Target{Except: []string{"c2"}}, []string{"room"}); n != 2 || err != nil {
		t.Errorf("Join = %d, %v", n, err)
	}
	waitFor(t, "c1 in room", 2*time.Second, func() bool { return slices.Contains(fc.rooms("c1"), "room") })
	if slices.Contains(fc.rooms("c2"), "room") {
		t.Error("c2 joined despite except")
	}
	list, _, _ = b.FetchSockets(ctx, loop.Target{Rooms: []string{"room"}})
	if len(list) != 4 {
		t.Errorf("FetchSockets(room) = %d sockets, want 4", len(list))
	}
	if _, err := b.Leave(loop.Target{Rooms: []string{"room"}}, []string{"room"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a1 left room", 2*time.Second, func() bool { return !slices.Contains(fa.rooms("a1"), "room") })
	if _, err := b.Disconnect(loop.Target{Rooms: []string{"c2"}}, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c2 disconnected", 2*time.Second, func() bool { return fc.rooms("c2") == nil })
	if _, _, err := a.AllRooms(ctx, "/"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("AllRooms err %v", err)
	}

	b.OnServerSideEmit = func(nsp, ev string, args []byte, _ [][]byte, ack func([]byte)) {
		ack([]byte(`{"from":"b","ev":"` + ev + `","args":[` + string(args) + `]}`))
	}
	vals, reach, err := a.ServerSideEmitWithAck(ctx, "/", "hi", []byte(`1,"x"`))
	if !errors.Is(err, ErrTimeout) || len(vals) != 1 || string(vals[0]) != `{"from":"b","ev":"hi","args":[1,"x"]}` || reach != (Reach{3, 2}) {
		t.Errorf("ServerSideEmitWithAck = %s, %+v, %v", vals, reach, err)
	}

	fb.ackArgs = `[{"b":true},"ignored"]`
	acks, clients, reach, err := a.BroadcastWithAck(ctx, &loop.Broadcast{Event: "ask", Args: []byte(`"q"`)}, time.Second)
	if err != nil || clients != 4 || len(acks) != 4 || reach != (Reach{3, 3}) {
		t.Fatalf("BroadcastWithAck = %d acks of %d clients, %+v, %v", len(acks), clients, reach, err)
	}
	var vs []string
	for _, ack := range acks {
		vs = append(vs, string(ack.Value))
	}
	sort.Strings(vs)
	if strings.Join(vs, " ") != `"ok" "ok" "ok" {"b":true}` {
		t.Errorf("ack values %v", vs)
	}
	if s := a.Stats(); s.Malformed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestStreamsOutage kills Redis for 3s while server a publishes steadily
// to server b: b gets every broadcast that reached the stream, in order,
// once; what a published during the outage is queued and XADDed when
// Redis is back (within PublishRetry), so nothing is lost at all here.
func TestStreamsOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("kills redis-server for 3s")
	}
	rs := redistest.Start(t)
	fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
	fb.got = make(chan loop.Broadcast, 10000)
	a := startAdapter(t, rs.URL, fa, streamsCfg("s4"))
	b := startAdapter(t, rs.URL, fb, streamsCfg("s4"))
	waitReading(t, b)
	const total = 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			a.Publish(&loop.Broadcast{Event: "tick", Args: []byte(strconv.Itoa(i))})
			time.Sleep(15 * time.Millisecond) // 6s of broadcasts
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	rs.Kill()
	time.Sleep(3 * time.Second)
	rs.Restart(t)
	<-done
	for i := range total {
		select {
		case got := <-fb.got:
			if string(got.Args) != strconv.Itoa(i) {
				t.Fatalf("broadcast %d: got %s (out of order, lost or duplicated)", i, got.Args)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("broadcast %d never arrived (stats a %+v, b %+v)", i, a.Stats(), b.Stats())
		}
	}
	noRecv(t, fb, 300*time.Millisecond)
	sa, sb := a.Stats(), b.Stats()
	if sa.Dropped != 0 || sb.StreamReadErrors == 0 || !sb.Up {
		t.Errorf("stats a %+v\nb %+v", sa, sb)
	}
	t.Logf("a: %d errors; b: %d read errors, lag %d", sa.Errors, sb.StreamReadErrors, sb.StreamLag)
}

// TestStreamsDropped: a broadcast that cannot reach Redis within
// PublishRetry is dropped and counted; the local delivery never waited.
func TestStreamsDropped(t *testing.T) {
	rs := redistest.Start(t)
	a := startAdapter(t, rs.URL, newFakeLocal("a1"), func(c *Config) {
		streamsCfg("s5")(c)
		c.PublishRetry = 300 * time.Millisecond
	})
	rs.Kill()
	for i := range 3 {
		a.Publish(&loop.Broadcast{Event: fmt.Sprint("e", i)})
	}
	waitFor(t, "dropped", 5*time.Second, func() bool { return a.Stats().Dropped == 3 })
	if a.Up() {
		t.Error("Up with Redis down")
	}
}
