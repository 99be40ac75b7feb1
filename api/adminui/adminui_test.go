package adminui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/crypto/bcrypt"

	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// server is a sioloop with the admin namespace, on loopback.
type server struct {
	port int
	io   *loop.SocketIO
	ui   *UI
}

// start runs a server whose "/" echoes "message" and joins the room named
// by "join", with the admin UI configured by cfg (credentials
// admin/secret unless NoAuth).
func start(t *testing.T, cfg Config) *server { t.Helper(); return startOn(t, cfg, "") }

// startOn is start joined to the cluster on Redis at redisURL ("" for
// none).
func startOn(t *testing.T, cfg Config, redisURL string) *server {
	t.Helper()
	port := testnet.FreePort(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := loop.New(loop.Config{Addr: "127.0.0.1:" + strconv.Itoa(port), EventLoops: 2}, log)
	sio := loop.NewSocketIO(srv)
	root := sio.Of("/")
	root.On("message", func(s *loop.Socket, ev *loop.Event) { s.Emit("message", ev.Args, nil) })
	root.On("join", func(s *loop.Socket, ev *loop.Event) {
		var room string
		_ = json.Unmarshal(ev.Args, &room)
		s.Join(room)
	})
	if !cfg.NoAuth && cfg.PasswordHash == "" {
		h, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
		cfg.Username, cfg.PasswordHash = "admin", string(h)
	}
	var ad *cluster.Adapter
	if redisURL != "" {
		var err error
		if ad, err = cluster.New(cluster.Config{URL: redisURL, RequestTimeout: 2 * time.Second}, sio, log); err != nil {
			t.Fatal(err)
		}
		sio.Adapter = ad
	}
	ui, err := New(sio, ad, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ad != nil {
		ad.AddNamespace("/")
		ad.AddNamespace(ui.Namespace())
		ad.Start()
		t.Cleanup(func() { _ = ad.Close() })
	}
	srv.Handle("/socket.io/", sio)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		t.Fatal(err)
	}
	ui.Start()
	t.Cleanup(func() {
		ui.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &server{port: port, io: sio, ui: ui}
}

// client is a raw Socket.IO client over WebSocket.
type client struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader
	// wait bounds one read; zero means 5 s.
	wait time.Duration
}

func dial(t *testing.T, s *server) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(s.port)+"/socket.io/?EIO=4&transport=websocket&x=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: conn}
	if br != nil {
		c.r = br
	}
	if p := c.read(); !strings.HasPrefix(p, "0{") {
		t.Fatalf("open packet %q", p)
	}
	return c
}

func (c *client) read() string {
	c.t.Helper()
	wait := c.wait
	if wait == 0 {
		wait = 5 * time.Second
	}
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		b, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			c.t.Fatalf("reading: %v", err)
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

func (c *client) send(p string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(p)); err != nil {
		c.t.Fatalf("writing %q: %v", p, err)
	}
}

// connect joins ns with auth and returns the server's answer.
func (c *client) connect(ns, auth string) string {
	c.t.Helper()
	if ns == "/" {
		c.send("40" + auth)
	} else {
		c.send("40" + ns + "," + auth)
	}
	return c.read()
}

// sid returns the socket id of a CONNECT answer.
func sid(t *testing.T, answer string) string {
	t.Helper()
	i := strings.Index(answer, "{")
	var m struct{ Sid string }
	if i < 0 || json.Unmarshal([]byte(answer[i:]), &m) != nil || m.Sid == "" {
		t.Fatalf("CONNECT answer %q has no sid", answer)
	}
	return m.Sid
}

// until reads admin events until one named name comes, and returns its
// arguments (the JSON array without the name).
func (c *client) until(name string) []json.RawMessage {
	c.t.Helper()
	for range 1000 {
		p := c.read()
		if !strings.HasPrefix(p, "42/admin,") {
			continue
		}
		var a []json.RawMessage
		if err := json.Unmarshal([]byte(p[len("42/admin,"):]), &a); err != nil {
			c.t.Fatalf("admin event %q: %v", p, err)
		}
		var n string
		_ = json.Unmarshal(a[0], &n)
		if n == name {
			return a[1:]
		}
	}
	c.t.Fatalf("no %s event", name)
	return nil
}

func TestAuth(t *testing.T) {
	s := start(t, Config{})
	c := dial(t, s)
	for _, auth := range []string{``, `{"username":"admin","password":"nope"}`, `{"username":"x","password":"secret"}`, `{"sessionId":"abc"}`} {
		if got, want := c.connect("/admin", auth), `44/admin,{"message":"invalid credentials"}`; got != want {
			t.Fatalf("auth %s: got %q, want %q", auth, got, want)
		}
	}
	sid(t, c.connect("/admin", `{"username":"admin","password":"secret"}`))
	var session string
	_ = json.Unmarshal(c.until("session")[0], &session)
	if len(session) != 16 {
		t.Fatalf("session id %q", session)
	}
	cfg := c.until("config")
	if string(cfg[0]) != `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS"]}` {
		t.Fatalf("config %s", cfg[0])
	}
	// The page reconnects with its session id, as after a reload.
	c2 := dial(t, s)
	sid(t, c2.connect("/admin", `{"sessionId":"`+session+`"}`))
	c2.until("config")
}

func TestNoAuthRequired(t *testing.T) {
	if _, err := New(loop.NewSocketIO(loop.New(loop.Config{}, nil)), nil, Config{}); err != ErrNoAuth {
		t.Fatalf("no credentials, no NoAuth: %v, want ErrNoAuth", err)
	}
	if _, err := New(loop.NewSocketIO(loop.New(loop.Config{}, nil)), nil, Config{Username: "a", PasswordHash: "plain"}); err == nil {
		t.Fatal("a hash that is not bcrypt was accepted")
	}
}

// TestProductionStats checks server_stats: its fields, the namespaces
// with their sockets, and the aggregated connections and packets.
func TestProductionStats(t *testing.T) {
	s := start(t, Config{NoAuth: true, ServerID: "replica-1"})
	page := dial(t, s)
	sid(t, page.connect("/admin", ""))
	page.until("config")
	cl := dial(t, s)
	sid(t, cl.connect("/", ""))
	cl.send(`42["message","hi"]`)
	cl.read()
	var st struct {
		ServerID            string
		Hostname            string
		PID                 int
		Uptime              float64
		ClientsCount        int
		PollingClientsCount int
		AggregatedEvents    []struct {
			Timestamp int64
			Type      string
			Count     int
		}
		Namespaces []struct {
			Name         string
			SocketsCount int
		}
	}
	deadline := time.Now().Add(6 * time.Second)
	for {
		cl.send(`42["message","hi"]`)
		cl.read()
		a := page.until("server_stats")
		if err := json.Unmarshal(a[0], &st); err != nil {
			t.Fatal(err)
		}
		types := map[string]int{}
		for _, e := range st.AggregatedEvents {
			if e.Timestamp%1000 != 0 {
				t.Fatalf("aggregated event timestamp %d not on a second", e.Timestamp)
			}
			types[e.Type] += e.Count
		}
		if types["packetsIn"] > 0 && types["bytesOut"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no packets in the aggregated events: %s", a[0])
		}
	}
	if st.ServerID != "replica-1" || st.PID == 0 || st.ClientsCount != 2 || st.Uptime <= 0 {
		t.Fatalf("server_stats %+v", st)
	}
	counts := map[string]int{}
	for _, n := range st.Namespaces {
		counts[n.Name] = n.SocketsCount
	}
	if counts["/"] != 1 || counts["/admin"] != 1 {
		t.Fatalf("namespaces %+v", st.Namespaces)
	}
}

// TestDevelopment follows one client's life in the page: all_sockets,
// socket_connected, room_joined, event_received, event_sent, and the
// page's join, leave and _disconnect.
func TestDevelopment(t *testing.T) {
	s := start(t, Config{Development: true})
	early := dial(t, s)
	earlyID := sid(t, early.connect("/", ""))
	page := dial(t, s)
	sid(t, page.connect("/admin", `{"username":"admin","password":"secret"}`))
	if cfg := page.until("config"); !strings.Contains(string(cfg[0]), `"ALL_EVENTS"`) {
		t.Fatalf("config %s", cfg[0])
	}
	all := page.until("all_sockets")
	var list []struct {
		ID, ClientID, Transport, Nsp string
		Handshake                    struct {
			Address string
			Query   map[string]string
			Issued  int64
		}
		Rooms []string
	}
	if err := json.Unmarshal(all[0], &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, so := range list {
		if so.ID == earlyID {
			found = true
			if so.Nsp != "/" || so.Transport != "websocket" || len(so.ClientID) != 12 || so.Handshake.Query["x"] != "1" ||
				so.Handshake.Issued == 0 || !strings.HasPrefix(so.Handshake.Address, "127.0.0.1") || len(so.Rooms) != 1 {
				t.Fatalf("all_sockets entry %+v", so)
			}
		}
	}
	if !found {
		t.Fatalf("all_sockets %s lacks %s", all[0], earlyID)
	}

	cl := dial(t, s)
	id := sid(t, cl.connect("/", ""))
	a := page.until("socket_connected")
	if !strings.Contains(string(a[0]), `"id":"`+id+`"`) || !strings.HasSuffix(string(a[1]), `Z"`) {
		t.Fatalf("socket_connected %s", a)
	}
	cl.send(`42["join","news"]`)
	a = page.until("room_joined")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","news","`+id+`"]` {
		t.Fatalf("room_joined %s", j)
	}
	cl.send(`42["message",{"a":1}]`)
	a = page.until("event_received")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","`+id+`",["message",{"a":1}]]` {
		t.Fatalf("event_received %s", j)
	}
	a = page.until("event_sent")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","`+id+`",["message",{"a":1}]]` {
		t.Fatalf("event_sent %s", j)
	}
	cl.read() // the echo

	page.send(`42/admin,["join","/","sports","` + id + `"]`)
	a = page.until("room_joined")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","sports","`+id+`"]` {
		t.Fatalf("room_joined after the page's join %s", j)
	}
	page.send(`42/admin,["leave","/","news","sports"]`)
	a = page.until("room_left")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","news","`+id+`"]` {
		t.Fatalf("room_left after the page's leave %s", j)
	}
	page.send(`42/admin,["emit","/","sports","hello",1,"two"]`)
	if got := cl.read(); got != `42["hello",1,"two"]` {
		t.Fatalf("the page's emit reached the client as %q", got)
	}
	page.send(`42/admin,["_disconnect","/",false,"` + id + `"]`)
	if got := cl.read(); got != "41" {
		t.Fatalf("the page's _disconnect: client got %q, want 41", got)
	}
	a = page.until("socket_disconnected")
	if j, _ := json.Marshal(a[:3]); string(j) != `["/","`+id+`","server namespace disconnect"]` {
		t.Fatalf("socket_disconnected %s", j)
	}
}

// TestLiveEventsBound floods the page with event_sent (50 clients, 20
// broadcasts) under a bucket of 10 per second: it gets at most the burst
// and the refill, the rest is dropped, and the socket list, whose changes
// were dropped too, comes back whole with all_sockets.
func TestLiveEventsBound(t *testing.T) {
	s := start(t, Config{NoAuth: true, Development: true, LiveEventsPerSecond: 10})
	page := dial(t, s)
	sid(t, page.connect("/admin", ""))
	page.until("all_sockets")
	dropped := eventsDropped.Get()
	for range 50 {
		c := dial(t, s)
		sid(t, c.connect("/", ""))
	}
	start := time.Now()
	for range 20 {
		if _, err := s.io.Broadcast(&loop.Broadcast{Event: "tick", Args: []byte("1")}); err != nil {
			t.Fatal(err)
		}
	}
	// A resync may come while the clients still connect (it goes out at
	// most every 10 s, on a stats tick): then it lists some of them, and
	// the page learns of the rest from socket_connected or a later
	// resync. Either way its list must come to all 51.
	page.wait = 15 * time.Second
	got, listed := 0, -1 // listed: the page's list since the last all_sockets
	for listed != 51 {
		p := page.read()
		switch {
		case strings.HasPrefix(p, `42/admin,["all_sockets",`):
			listed = strings.Count(p, `"clientId"`)
		case strings.HasPrefix(p, `42/admin,["socket_connected"`):
			got++
			if listed >= 0 {
				listed++
			}
		case strings.HasPrefix(p, `42/admin,["event_sent"`), strings.HasPrefix(p, `42/admin,["room_joined"`):
			got++
		}
		if listed > 51 || time.Since(start) > 30*time.Second {
			t.Fatalf("the page lists %d sockets after the resync, want 51", listed)
		}
	}
	max := 20 + int(time.Since(start).Seconds()*10) + 2
	if got > max || eventsDropped.Get()-dropped < 1000-uint64(max) {
		t.Fatalf("page got %d live events (max %d), %d dropped", got, max, eventsDropped.Get()-dropped)
	}
}

// TestCluster runs two servers on one Redis: a page on the first sees both
// servers in server_stats, the second's sockets in all_sockets and its
// live events, and its _disconnect reaches a client of the second.
func TestCluster(t *testing.T) {
	rs := redistest.Start(t)
	a := startOn(t, Config{NoAuth: true, Development: true, ServerID: "a"}, rs.URL)
	b := startOn(t, Config{NoAuth: true, Development: true, ServerID: "b"}, rs.URL)
	early := dial(t, b)
	earlyID := sid(t, early.connect("/", ""))
	time.Sleep(300 * time.Millisecond) // the subscriptions
	page := dial(t, a)
	sid(t, page.connect("/admin", ""))
	if all := page.until("all_sockets"); !strings.Contains(string(all[0]), `"id":"`+earlyID+`"`) {
		t.Fatalf("all_sockets on a lacks b's socket %s: %s", earlyID, all[0])
	}
	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); !seen["a"] || !seen["b"]; {
		if time.Now().After(deadline) {
			t.Fatalf("server_stats from %v only", seen)
		}
		var st struct{ ServerID string }
		_ = json.Unmarshal(page.until("server_stats")[0], &st)
		seen[st.ServerID] = true
	}
	// b watches for a's page now: its live events come through.
	cl := dial(t, b)
	id := sid(t, cl.connect("/", ""))
	if a := page.until("socket_connected"); !strings.Contains(string(a[0]), `"id":"`+id+`"`) {
		t.Fatalf("socket_connected %s", a[0])
	}
	page.send(`42/admin,["_disconnect","/",false,"` + earlyID + `"]`)
	if got := early.read(); got != "41" {
		t.Fatalf("b's client got %q after the page's _disconnect on a, want 41", got)
	}
	a2 := page.until("socket_disconnected")
	if j, _ := json.Marshal(a2[:3]); string(j) != `["/","`+earlyID+`","server namespace disconnect"]` {
		t.Fatalf("socket_disconnected %s", j)
	}
}
