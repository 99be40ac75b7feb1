package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

// fakeLocal is an in-memory stand-in for loop.SocketIO: sockets with
// rooms, and a record of the broadcasts it was asked to deliver.
type fakeLocal struct {
	mu      sync.Mutex
	sockets map[string]map[string]bool // id → rooms (the id room included)
	got     chan loop.Broadcast
	ackArgs string // what every socket acknowledges a broadcast with ack with
}

func newFakeLocal(ids ...string) *fakeLocal {
	f := &fakeLocal{sockets: map[string]map[string]bool{}, got: make(chan loop.Broadcast, 100), ackArgs: `["ok"]`}
	for _, id := range ids {
		f.sockets[id] = map[string]bool{id: true}
	}
	return f
}

// pick returns the ids selected by t, sorted.
func (f *fakeLocal) pick(t loop.Target) []string {
	var out []string
	for id, rooms := range f.sockets {
		in := len(t.Rooms) == 0
		for _, r := range t.Rooms {
			in = in || rooms[r]
		}
		for _, r := range t.Except {
			if rooms[r] {
				in = false
			}
		}
		if in {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fakeLocal) Broadcast(b *loop.Broadcast) (int, error) {
	c := *b
	c.Args = append([]byte(nil), b.Args...)
	c.Attachments = slices.Clone(b.Attachments)
	f.got <- c
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pick(loop.Target{Rooms: b.Rooms, Except: b.Except})), nil
}

func (f *fakeLocal) BroadcastWithAck(b *loop.Broadcast, _ time.Duration) ([]loop.AckResponse, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []loop.AckResponse
	for _, id := range f.pick(loop.Target{Rooms: b.Rooms, Except: b.Except}) {
		out = append(out, loop.AckResponse{ID: id, Args: []byte(f.ackArgs)})
	}
	return out, 0, nil
}

func (f *fakeLocal) FetchSockets(t loop.Target) ([]loop.SocketInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []loop.SocketInfo
	for _, id := range f.pick(t) {
		var rooms []string
		for r := range f.sockets[id] {
			rooms = append(rooms, r)
		}
		sort.Strings(rooms)
		out = append(out, loop.SocketInfo{ID: id, Namespace: nsName(t.Namespace), Rooms: rooms, Address: "127.0.0.1:1", Transport: "websocket", UserID: "u-" + id})
	}
	return out, nil
}

func (f *fakeLocal) Join(t loop.Target, rooms []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.pick(t)
	for _, id := range ids {
		for _, r := range rooms {
			f.sockets[id][r] = true
		}
	}
	return len(ids), nil
}

func (f *fakeLocal) Leave(t loop.Target, rooms []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.pick(t)
	for _, id := range ids {
		for _, r := range rooms {
			if r != id {
				delete(f.sockets[id], r)
			}
		}
	}
	return len(ids), nil
}

func (f *fakeLocal) Disconnect(t loop.Target, _ bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.pick(t)
	for _, id := range ids {
		delete(f.sockets, id)
	}
	return len(ids), nil
}

func (f *fakeLocal) AllRooms(string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for _, rooms := range f.sockets {
		for r := range rooms {
			set[r] = true
		}
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeLocal) rooms(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for r := range f.sockets[id] {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// testLog is the adapters' logger: debug lines in -v runs.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// startAdapter returns a started adapter on namespaces "/" and "/chat",
// closed when t ends, once its subscriptions are confirmed.
func startAdapter(t *testing.T, url string, local Local, mod func(*Config)) *Adapter {
	t.Helper()
	cfg := Config{URL: url, RequestTimeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg, local, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	a.AddNamespace("/")
	a.AddNamespace("/chat")
	a.Start()
	t.Cleanup(func() { _ = a.Close() })
	waitFor(t, "adapter up", 5*time.Second, a.Up)
	return a
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func recv(t *testing.T, f *fakeLocal) loop.Broadcast {
	t.Helper()
	select {
	case b := <-f.got:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no broadcast arrived within 5s")
		return loop.Broadcast{}
	}
}

func noRecv(t *testing.T, f *fakeLocal, d time.Duration) {
	t.Helper()
	select {
	case b := <-f.got:
		t.Fatalf("unexpected broadcast %q %s", b.Event, b.Args)
	case <-time.After(d):
	}
}

func TestAdapterBroadcast(t *testing.T) {
	rs := redistest.Start(t)
	fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
	a := startAdapter(t, rs.URL, fa, nil)
	startAdapter(t, rs.URL, fb, nil)

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
	f(loop.Broadcast{Event: "news", Args: []byte(`{"a":1},"x",[true,null]`)})
	f(loop.Broadcast{Event: "none"})
	f(loop.Broadcast{Namespace: "/chat", Rooms: []string{"r1"}, Event: "room", Args: []byte(`1`)})
	f(loop.Broadcast{Rooms: []string{"r1", "r2"}, Except: []string{"x"}, Volatile: true, Event: "v", Args: []byte(`2`)})
	f(loop.Broadcast{Event: "bin", Args: []byte(`{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}}`),
		Attachments: [][]byte{{0, 1, 2}, []byte("file")}})
	// The publisher does not receive its own broadcasts.
	noRecv(t, fa, 200*time.Millisecond)
	if s := a.Stats(); s.Sent[kindBroadcast] != 5 || s.Dropped != 0 || !s.Up {
		t.Errorf("stats %+v", s)
	}
	// A namespace the receiver does not serve is not delivered.
	a.AddNamespace("/other")
	a.Publish(&loop.Broadcast{Namespace: "/other", Event: "x"})
	noRecv(t, fb, 200*time.Millisecond)
}

// TestAdapterNodeMessages publishes the messages that Node's adapter and
// emitter produced (testdata/vectors.json) through Redis and checks that
// the adapter delivers them.
func TestAdapterNodeMessages(t *testing.T) {
	rs := redistest.Start(t)
	fb := newFakeLocal("b1")
	startAdapter(t, rs.URL, fb, nil)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + itoa(rs.Port)})
	defer rdb.Close()
	for _, vec := range loadVectors(t).Broadcasts {
		if err := rdb.Publish(context.Background(), vec.Channel, []byte(vec.Msg)).Err(); err != nil {
			t.Fatal(err)
		}
		got := recv(t, fb)
		if got.Event != vec.Event || string(got.Args) != vec.Args || got.Namespace != vec.Nsp {
			t.Errorf("%s: got %q %s on %s, want %q %s on %s", vec.Name, got.Event, got.Args, got.Namespace, vec.Event, vec.Args, vec.Nsp)
		}
	}
}

func TestAdapterRequests(t *testing.T) {
	rs := redistest.Start(t)
	fa, fb, fc := newFakeLocal("a1", "a2"), newFakeLocal("b1"), newFakeLocal("c1", "c2")
	a := startAdapter(t, rs.URL, fa, nil)
	b := startAdapter(t, rs.URL, fb, nil)
	startAdapter(t, rs.URL, fc, nil)
	ctx := context.Background()

	if n, err := a.ServerCount(ctx, "/"); n != 3 || err != nil {
		t.Fatalf("ServerCount = %d, %v; want 3", n, err)
	}

	list, reach, err := a.FetchSockets(ctx, loop.Target{})
	if err != nil || reach != (Reach{3, 3}) || len(list) != 5 {
		t.Fatalf("FetchSockets = %d sockets, %+v, %v; want 5 from 3 servers", len(list), reach, err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
		if s.UserID != "u-"+s.ID || s.Address == "" || s.Namespace != "/" || s.Transport != "websocket" {
			t.Errorf("socket %+v", s)
		}
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "a1,a2,b1,c1,c2" {
		t.Errorf("ids %v", ids)
	}

	// Join everywhere but c2, then fetch that room.
	n, err := a.Join(loop.Target{Except: []string{"c2"}}, []string{"room"})
	if n != 2 || err != nil {
		t.Errorf("Join = %d, %v; want the 2 local sockets", n, err)
	}
	waitFor(t, "c1 in room", 2*time.Second, func() bool { return slices.Contains(fc.rooms("c1"), "room") })
	if slices.Contains(fc.rooms("c2"), "room") {
		t.Error("c2 joined despite except")
	}
	list, _, _ = b.FetchSockets(ctx, loop.Target{Rooms: []string{"room"}})
	if len(list) != 4 {
		t.Errorf("FetchSockets(room) = %d sockets, want 4: %+v", len(list), list)
	}
	rooms, reach, err := b.AllRooms(ctx, "/")
	sort.Strings(rooms)
	if err != nil || !reach.Complete() || strings.Join(rooms, ",") != "a1,a2,b1,c1,c2,room" {
		t.Errorf("AllRooms = %v, %+v, %v", rooms, reach, err)
	}
	if _, err := b.Leave(loop.Target{Rooms: []string{"room"}}, []string{"room"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a1 left room", 2*time.Second, func() bool { return !slices.Contains(fa.rooms("a1"), "room") })
	if _, err := b.Disconnect(loop.Target{Rooms: []string{"c2"}}, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c2 disconnected", 2*time.Second, func() bool { return fc.rooms("c2") == nil })

	// Server-side emit with acks: b answers, c has no handler (like a
	// Node server without a listener), so the request times out with b's.
	b.OnServerSideEmit = func(nsp, ev string, args []byte, _ [][]byte, ack func([]byte)) {
		ack([]byte(`{"from":"b","ev":"` + ev + `","args":[` + string(args) + `]}`))
	}
	vals, reach, err := a.ServerSideEmitWithAck(ctx, "/", "hi", []byte(`1,"x"`))
	if !errors.Is(err, ErrTimeout) || len(vals) != 1 || string(vals[0]) != `{"from":"b","ev":"hi","args":[1,"x"]}` || reach != (Reach{3, 2}) {
		t.Errorf("ServerSideEmitWithAck = %s, %+v, %v", vals, reach, err)
	}

	// Broadcast with acks: every socket of every server answers "ok".
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
	if s := a.Stats(); s.Timeouts != 1 || s.Malformed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestAdapterRedisDown kills Redis under two adapters: publishing goes on
// without blocking, what cannot be sent within PublishRetry is dropped and
// counted, and once Redis is back the adapters reconnect, subscribe again
// and carry broadcasts again.
func TestAdapterRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	fa, fb := newFakeLocal("a1"), newFakeLocal("b1")
	mod := func(c *Config) { c.PublishRetry = 300 * time.Millisecond; c.QueueSize = 50 }
	a := startAdapter(t, rs.URL, fa, mod)
	b := startAdapter(t, rs.URL, fb, mod)

	rs.Kill()
	waitFor(t, "a down", 5*time.Second, func() bool { return !a.Up() })
	start := time.Now()
	for i := 0; i < 100; i++ {
		a.Publish(&loop.Broadcast{Event: "lost", Args: []byte(itoa(i))})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("100 publishes with Redis down took %v: Publish must not block", d)
	}
	waitFor(t, "all dropped", 5*time.Second, func() bool { return a.Stats().Dropped == 100 && a.Stats().Queued == 0 })
	if _, reach, err := a.FetchSockets(context.Background(), loop.Target{}); !errors.Is(err, ErrRedisDown) || reach.Answered != 1 {
		t.Errorf("FetchSockets with Redis down: %+v, %v; want ErrRedisDown", reach, err)
	}

	rs.Restart(t)
	waitFor(t, "a up", 10*time.Second, a.Up)
	waitFor(t, "b up", 10*time.Second, b.Up)
	a.Publish(&loop.Broadcast{Event: "back"})
	if got := recv(t, fb); got.Event != "back" {
		t.Errorf("after the restart got %q, want back", got.Event)
	}
	s := a.Stats()
	if s.Reconnects < 1 || s.Errors < 1 {
		t.Errorf("stats after a restart %+v: want reconnects and errors counted", s)
	}
}

func TestNewBadURL(t *testing.T) {
	_, err := New(Config{URL: "http://user:secret@host"}, newFakeLocal(), nil)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("New with a bad URL: %v", err)
	}
	for _, u := range []string{"redis://localhost:6379", "redis://:pw@127.0.0.1:6380/2", "rediss://u:p@example.com:6380/0"} {
		if _, err := New(Config{URL: u}, newFakeLocal(), nil); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

func TestEventData(t *testing.T) {
	d, err := eventData("ev", []byte(`1,{"a":2}`))
	if err != nil || string(d) != `["ev",1,{"a":2}]` {
		t.Errorf("eventData = %s, %v", d, err)
	}
	if _, err := eventData("ev", []byte(`1,`)); err == nil {
		t.Error("eventData accepted invalid JSON")
	}
	var v []any
	if d, _ := eventData("", nil); json.Unmarshal(d, &v) != nil || len(v) != 1 {
		t.Errorf("eventData with no args = %s", d)
	}
}

// TestAdapterRemoveNamespace: RemoveNamespace unsubscribes what
// AddNamespace subscribed (the server stops counting in PUBSUB NUMSUB for
// that namespace), leaves the others alone, and a namespace can come back.
func TestAdapterRemoveNamespace(t *testing.T) {
	rs := redistest.Start(t)
	a := startAdapter(t, rs.URL, newFakeLocal("a1"), nil)
	ctx := context.Background()
	count := func(nsp string) int {
		n, err := a.ServerCount(ctx, nsp)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a.AddNamespace("/org-1")
	waitFor(t, "/org-1 subscribed", 5*time.Second, func() bool { return count("/org-1") == 1 })
	a.RemoveNamespace("/org-1")
	a.RemoveNamespace("/never-added") // no-op
	waitFor(t, "/org-1 unsubscribed", 5*time.Second, func() bool { return count("/org-1") == 0 })
	if count("/") != 1 || count("/chat") != 1 {
		t.Fatal("removing /org-1 unsubscribed other namespaces")
	}
	// Added, removed and added again before the subscriber runs: subscribed.
	a.AddNamespace("/org-2")
	a.RemoveNamespace("/org-2")
	a.AddNamespace("/org-2")
	a.AddNamespace("/org-1")
	waitFor(t, "/org-1 and /org-2 subscribed", 5*time.Second, func() bool { return count("/org-1") == 1 && count("/org-2") == 1 })
}
