package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// xService is a service of a recovery test, stopped by stop (a drain, as
// on SIGTERM) or at the end of the test.
type xService struct {
	addr, admin string
	svc         *Service
	stop        func()
}

// startX runs a service with REDIS_ADAPTER=streams and
// CONNECTION_STATE_RECOVERY on redisURL.
func startX(t testing.TB, redisURL, stream string) *xService {
	t.Helper()
	return startXFlags(t, "--redis-url", redisURL, "--redis-adapter", "streams", "--redis-stream-name", stream,
		"--connection-state-recovery", "1m", "--redis-publish-retry", "1s")
}

// startXFlags runs a service with flags.
func startXFlags(t testing.TB, flags ...string) *xService {
	t.Helper()
	port, adminPort := testnet.FreePort(t), testnet.FreePort(t)
	x := &xService{addr: "127.0.0.1:" + strconv.Itoa(port), admin: "127.0.0.1:" + strconv.Itoa(adminPort)}
	cfg, err := LoadConfig(append([]string{"--port", strconv.Itoa(port), "--admin-addr", x.admin, "--shutdown-timeout", "3s"}, flags...),
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if x.svc, err = New(cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.svc.Run(ctx) }()
	var once sync.Once
	x.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(x.stop)
	<-x.svc.Server.Started()
	for deadline := time.Now().Add(5 * time.Second); x.svc.Cluster != nil && !x.svc.Cluster.Up(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the streams adapter does not come up")
		}
	}
	return x
}

// post broadcasts through x's POST /SendWebsocketEvent.
func (x *xService) post(t testing.TB, body string) {
	t.Helper()
	resp, err := http.Post("http://"+x.admin+"/SendWebsocketEvent", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", body, resp.StatusCode, b)
	}
}

// xClient is a raw Socket.IO client over WebSocket.
type xClient struct {
	t    testing.TB
	conn net.Conn
	rw   io.ReadWriter
}

// dialX opens a session on addr and sends CONNECT with auth (nil: none).
func dialX(t testing.TB, addr string, auth any) *xClient {
	t.Helper()
	conn, br, _, err := ws.Dial(context.Background(), "ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	c := &xClient{t: t, conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{bufio.NewReader(r), conn}}
	t.Cleanup(func() { conn.Close() })
	if open := c.read(5 * time.Second); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	connect := "40"
	if auth != nil {
		a, _ := json.Marshal(auth)
		connect += string(a)
	}
	c.send(connect)
	return c
}

func (c *xClient) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next packet but pings, or "" after d.
func (c *xClient) read(d time.Duration) string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		b, err := wsutil.ReadServerText(c.rw)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return ""
			}
			c.t.Fatalf("reading: %v", err)
		}
		if string(b) != "2" {
			return string(b)
		}
		_ = wsutil.WriteClientText(c.conn, []byte("3"))
	}
}

// connected reads the CONNECT answer: sid and pid.
func (c *xClient) connected() (sid, pid string) {
	c.t.Helper()
	m := c.read(5 * time.Second)
	var a struct{ Sid, Pid string }
	if !strings.HasPrefix(m, "40{") || json.Unmarshal([]byte(m[2:]), &a) != nil || a.Sid == "" || a.Pid == "" {
		c.t.Fatalf("CONNECT answer %q: want a sid and a pid", m)
	}
	return a.Sid, a.Pid
}

// event reads an EVENT and returns its name, payload and offset (the
// last argument).
func (c *xClient) event() (name, payload, offset string) {
	c.t.Helper()
	m := c.read(5 * time.Second)
	var args []json.RawMessage
	if !strings.HasPrefix(m, "42[") || json.Unmarshal([]byte(m[2:]), &args) != nil || len(args) < 2 {
		c.t.Fatalf("packet %q: want an EVENT with arguments", m)
	}
	_ = json.Unmarshal(args[0], &name)
	_ = json.Unmarshal(args[len(args)-1], &offset)
	return name, string(args[1]), offset
}

// subscribe joins room through the service's subscribe event.
func (c *xClient) subscribe(room string) {
	c.t.Helper()
	c.send(`421["subscribe",` + strconv.Quote(room) + `]`)
	if m := c.read(5 * time.Second); !strings.HasPrefix(m, "431[") {
		c.t.Fatalf("subscribe answer %q", m)
	}
}

// TestStreamsRecoveryAcrossServers: a client of A, in room "news", gets
// an event with its offset (a stream entry ID); A shuts down (drain, as
// on SIGTERM); events are posted on B meanwhile. The client comes back
// to B with {pid, offset}: same socket id and pid, the events it missed
// that targeted it (room news, the whole namespace, not room "other"),
// once each and in order, each with its offset, then CONNECT; the next
// event reaches it once.
func TestStreamsRecoveryAcrossServers(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startX(t, rs.URL, "x1"), startX(t, rs.URL, "x1")
	c := dialX(t, a.addr, nil)
	sid, pid := c.connected()
	c.subscribe("news")
	time.Sleep(100 * time.Millisecond) // b's reader is past its start position
	b.post(t, `{"channel":"news","payload":0,"rooms":"news"}`)
	name, payload, off := c.event()
	if name != "news" || payload != `{"payload":0}` || !isEntryID(off) {
		t.Fatalf("event %s %s offset %q: want news, payload 0 and a stream entry ID", name, payload, off)
	}

	a.stop() // the drain closes c with 1001 "going away"
	// The drain saved the session as Node does: PX the window.
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port)})
	defer rdb.Close()
	if ttl := rdb.PTTL(context.Background(), cluster.SessionKeyPrefix+pid).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL of the session after the drain %v: want at most the window", ttl)
	}
	b.post(t, `{"channel":"news","payload":1,"rooms":"news"}`)
	b.post(t, `{"channel":"other","payload":2,"rooms":"other"}`)
	b.post(t, `{"event":"all","data":3}`)
	b.post(t, `{"channel":"news","payload":4,"rooms":"news"}`)

	c2 := dialX(t, b.addr, map[string]string{"pid": pid, "offset": off})
	var offs []string
	for _, want := range []string{`news {"payload":1}`, `all 3`, `news {"payload":4}`} {
		name, payload, o := c2.event()
		if got := name + " " + payload; got != want {
			t.Fatalf("replayed %q, want %q", got, want)
		}
		if !isEntryID(o) || (len(offs) > 0 && !entryBefore(offs[len(offs)-1], o)) {
			t.Fatalf("offsets %v then %q: want growing stream entry IDs", offs, o)
		}
		offs = append(offs, o)
	}
	sid2, pid2 := c2.connected()
	if sid2 != sid || pid2 != pid {
		t.Fatalf("recovered as %s/%s, want %s/%s", sid2, pid2, sid, pid)
	}
	b.post(t, `{"channel":"news","payload":5,"rooms":"news"}`)
	if name, payload, o := c2.event(); name != "news" || payload != `{"payload":5}` || !entryBefore(offs[2], o) {
		t.Fatalf("after recovery: %s %s %s", name, payload, o)
	}
	if m := c2.read(300 * time.Millisecond); m != "" {
		t.Fatalf("unexpected %q: every event once", m)
	}
	st := b.svc.Cluster.Stats()
	if st.SessionsRestored != 1 || st.SessionsPersisted == 0 {
		t.Errorf("stats %+v: want 1 session restored", st)
	}
	if rst, _ := b.svc.IO.RecoveryStats(); rst.Recovered != 1 || rst.Replayed != 3 {
		t.Errorf("recovery stats %+v", rst)
	}
}

// TestStreamsRecoveryAfterKill: A cannot write anything when it goes
// away (its Redis connection is cut first, as if it were killed), yet the
// session it saved when the client connected and subscribed restores on B.
func TestStreamsRecoveryAfterKill(t *testing.T) {
	rs := redistest.Start(t)
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", rs.Port))
	a, b := startX(t, "redis://"+px.addr, "x2"), startX(t, rs.URL, "x2")
	c := dialX(t, a.addr, nil)
	sid, pid := c.connected()
	c.subscribe("news")
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port)})
	defer rdb.Close()
	// The session with its room is saved within a few milliseconds.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v, _ := rdb.Get(context.Background(), cluster.SessionKeyPrefix+pid).Result()
		if v != "" && b.svc.Cluster.Stats().Up {
			ttl := rdb.PTTL(context.Background(), cluster.SessionKeyPrefix+pid).Val()
			if ttl <= time.Minute || ttl > 2*time.Minute {
				t.Errorf("TTL of a live session %v: want twice the window", ttl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session was not saved on connect")
		}
	}
	time.Sleep(100 * time.Millisecond)
	b.post(t, `{"channel":"news","payload":0,"rooms":"news"}`)
	_, _, off := c.event()

	px.cut() // A loses Redis: nothing it does from here reaches it
	c.conn.Close()
	b.post(t, `{"channel":"news","payload":1,"rooms":"news"}`)
	c2 := dialX(t, b.addr, map[string]string{"pid": pid, "offset": off})
	if name, payload, _ := c2.event(); name != "news" || payload != `{"payload":1}` {
		t.Fatalf("replayed %s %s", name, payload)
	}
	if sid2, _ := c2.connected(); sid2 != sid {
		t.Fatalf("socket id %s, want %s", sid2, sid)
	}
}

// TestStreamsRecoveryRefused: a bad offset, a session that does not
// decode, an unknown pid and a Redis that is down each give a fresh
// session, promptly, counted by reason.
func TestStreamsRecoveryRefused(t *testing.T) {
	rs := redistest.Start(t)
	b := startX(t, rs.URL, "x3")
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port)})
	defer rdb.Close()
	id, err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: "x3", Values: []any{"uid", "x", "nsp", "/", "type", "2"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.Set(context.Background(), cluster.SessionKeyPrefix+"garbage", "!!not base64 msgpack", time.Minute)
	fresh := func(auth map[string]string) {
		t.Helper()
		start := time.Now()
		c := dialX(t, b.addr, auth)
		if _, pid := c.connected(); pid == auth["pid"] {
			t.Errorf("auth %v: recovered, want a fresh session", auth)
		}
		if d := time.Since(start); d > cluster.RestoreTimeout+time.Second {
			t.Errorf("auth %v: answered after %v", auth, d)
		}
	}
	fresh(map[string]string{"pid": "p1", "offset": "not-an-id"})
	fresh(map[string]string{"pid": "garbage", "offset": id})
	fresh(map[string]string{"pid": "nobody", "offset": id})
	st := b.svc.Cluster.Stats()
	if st.SessionsFailed != [5]uint64{1, 1, 0, 1, 0} {
		t.Errorf("failures %v (%v): want one each of not_found, bad_offset, bad_session", st.SessionsFailed, cluster.RestoreFailureNames)
	}
	rs.Kill()
	fresh(map[string]string{"pid": "p2", "offset": id})
	if st := b.svc.Cluster.Stats(); st.SessionsFailed[4] != 1 {
		t.Errorf("failures %v: want one redis_unavailable", st.SessionsFailed)
	}
	// Redis down: events are delivered at once, without offset.
	c := dialX(t, b.addr, nil)
	c.connected()
	start := time.Now()
	if _, err := b.svc.IO.Broadcast(&loop.Broadcast{Event: "e", Args: []byte(`"x"`)}); err != nil {
		t.Fatal(err)
	}
	if m := c.read(time.Second); m != `42["e","x"]` || time.Since(start) > 500*time.Millisecond {
		t.Errorf("with Redis down: %q after %v, want the event at once without offset", m, time.Since(start))
	}
}

// isEntryID reports whether s is a stream entry ID <ms>-<seq>.
func isEntryID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	_, e1 := strconv.ParseUint(ms, 10, 64)
	_, e2 := strconv.ParseUint(seq, 10, 64)
	return ok && e1 == nil && e2 == nil
}

// entryBefore reports whether stream entry ID a comes before b.
func entryBefore(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	i, _ := strconv.ParseUint(as, 10, 64)
	j, _ := strconv.ParseUint(bs, 10, 64)
	return x < y || x == y && i < j
}

// proxy is a TCP proxy that the test can cut: every connection closes
// and new ones are refused.
type proxy struct {
	addr string
	ln   net.Listener
	mu   sync.Mutex
	cs   []net.Conn
}

func startProxy(t *testing.T, to string) *proxy {
	ln := testnet.Listen(t)
	p := &proxy{addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.cs = append(p.cs, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cs {
		c.Close()
	}
	p.cs = nil
}

// TestStreamsRecoveryOrder: events broadcast at the same time on A and
// on B reach a client of A in the stream's order, so its last offset is
// always its newest and a recovery never replays what it saw.
func TestStreamsRecoveryOrder(t *testing.T) {
	rs := redistest.Start(t)
	a, b := startX(t, rs.URL, "x4"), startX(t, rs.URL, "x4")
	c := dialX(t, a.addr, nil)
	c.connected()
	time.Sleep(100 * time.Millisecond)
	const n = 1000
	var wg sync.WaitGroup
	for _, x := range []*xService{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := x.svc.IO.Broadcast(&loop.Broadcast{Event: "e", Args: []byte(strconv.Itoa(i))}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	prev := ""
	for i := range 2 * n {
		_, _, off := c.event()
		if prev != "" && !entryBefore(prev, off) {
			t.Fatalf("event %d: offset %s after %s", i, off, prev)
		}
		prev = off
	}
	wg.Wait()
}
