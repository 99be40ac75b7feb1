package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	dto "github.com/prometheus/client_model/go"

	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/metrics/metricstest"
	"sioloop/tools/testnet"
)

// testService is a sioloop service running in-process on loopback ports.
// The tests of this package cannot call the composition root (package
// main); startService wires the same parts the same way, and the root's
// own tests (service_test.go beside main.go) cover its wiring.
type testService struct {
	srv   *loop.Server
	main  string // http://127.0.0.1:<port>
	admin string // http://127.0.0.1:<admin port>
	port  int
	ad    *cluster.Adapter // nil without Redis
	stop  context.CancelFunc
	done  chan error
}

// startService runs the service's events and routes on fresh ports, with
// extra flags (those of the binary that the tests vary), and stops it
// when the test ends.
func startService(t testing.TB, extra ...string) *testService {
	t.Helper()
	return startServiceLog(t, io.Discard, extra...)
}

// startServiceLog is startService with the service's log written to w,
// which must be safe for concurrent use.
func startServiceLog(t testing.TB, w io.Writer, extra ...string) *testService {
	t.Helper()
	fs := flag.NewFlagSet("api test service", flag.ContinueOnError)
	namespaces := fs.String("namespaces", "/chat", "")
	token := fs.String("admin-token", "", "")
	loops := fs.Int("event-loops", 0, "")
	maxNameBytes := fs.Int("max-name-bytes", 0, "")
	maxNamespaces := fs.Int("max-namespaces", 0, "")
	maxRooms := fs.Int("max-rooms-per-socket", 0, "")
	redisURL := fs.String("redis-url", "", "")
	readiness := fs.Bool("redis-readiness", false, "")
	redisTimeout := fs.Duration("redis-request-timeout", 5*time.Second, "")
	jwtSecret := fs.String("jwt-secret", "", "")
	maxUserConns := fs.Int("max-user-connections", 0, "")
	redisAdapter := fs.String("redis-adapter", "pubsub", "")
	sentinelAddrs := fs.String("redis-sentinel-addrs", "", "")
	sentinelMaster := fs.String("redis-sentinel-master", "", "")
	clusterAddrs := fs.String("redis-cluster-addrs", "", "")
	if err := fs.Parse(extra); err != nil {
		t.Fatalf("startService(%q): %v", extra, err)
	}
	port, adminLn := testnet.FreePort(t), testnet.Listen(t)
	log := slog.New(slog.NewTextHandler(w, nil))
	srv := loop.New(loop.Config{Addr: "127.0.0.1:" + strconv.Itoa(port), EventLoops: *loops}, log)
	sio := loop.NewSocketIO(srv)
	sio.MaxNamespaces, sio.MaxNameBytes = *maxNamespaces, *maxNameBytes
	sio.MaxUserConnections = *maxUserConns
	nss := []*loop.Namespace{sio.Of("/")}
	for _, n := range strings.Split(*namespaces, ",") {
		nss = append(nss, sio.Of(n))
	}
	auth, err := NewJWTAuth(JWTConfig{Secret: *jwtSecret})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limits{NameBytes: *maxNameBytes, RoomsPerSocket: *maxRooms}
	Install(nss, auth, lim, nil)
	srv.Handle("/socket.io/", sio)
	var ad *cluster.Adapter
	if *redisURL != "" || *sentinelAddrs != "" || *clusterAddrs != "" {
		var err error
		cfg := cluster.Config{URL: *redisURL, RequestTimeout: *redisTimeout, Streams: *redisAdapter == "streams", Sharded: *redisAdapter == "sharded"}
		if *sentinelAddrs != "" {
			cfg.SentinelAddrs, cfg.SentinelMaster = strings.Split(*sentinelAddrs, ","), *sentinelMaster
		}
		if *clusterAddrs != "" {
			cfg.ClusterAddrs = strings.Split(*clusterAddrs, ",")
		}
		if ad, err = cluster.New(cfg, sio, log); err != nil {
			t.Fatal(err)
		}
		if cfg.Sharded {
			sio.OnRoom, sio.OnRoomRemoved = ad.OnRoom, ad.OnRoomRemoved
		}
		for _, ns := range nss {
			if name := ns.Name(); !strings.Contains(name, "*") {
				ad.AddNamespace(name)
			}
		}
		sio.OnNamespace, sio.OnNamespaceRemoved, sio.Adapter = ad.AddNamespace, ad.RemoveNamespace, ad
		ad.Start()
	}
	h := Handler(Service{Server: srv, IO: sio, Cluster: ad, AdminToken: *token, RedisReadiness: *readiness, Limits: lim})
	srv.HandleOther(h.ClientPort)
	admin := &http.Server{Handler: h.Admin}
	go func() { _ = admin.Serve(adminLn) }()

	ctx, cancel := context.WithCancel(context.Background())
	ts := &testService{
		srv:   srv,
		main:  "http://127.0.0.1:" + strconv.Itoa(port),
		admin: "http://" + adminLn.Addr().String(),
		port:  port,
		ad:    ad,
		stop:  cancel,
		done:  make(chan error, 1),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	go func() {
		// As the service's Run: leave the cluster, drain the reactors,
		// then close the admin listener, which answers 503 meanwhile.
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
			if ad != nil {
				_ = ad.Close()
			}
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(sctx)
			scancel()
			err = <-errc
		}
		_ = admin.Close()
		ts.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the service did not stop within 10s")
		}
	})
	select {
	case <-srv.Started():
	case err := <-ts.done:
		t.Fatalf("the service stopped while starting: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the reactors did not start within 10s")
	}
	bases := []string{ts.admin, ts.main}
	for _, base := range bases {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(base + "/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-ts.done:
				t.Fatalf("the service stopped while starting: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not answer GET / within 10s (last error %v)", base, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ts
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; hdr alternates header names and values.
func do(t testing.TB, method, url string, body io.Reader, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// post sends a JSON POST /SendWebsocketEvent.
func post(t testing.TB, base, body string, hdr ...string) response {
	t.Helper()
	return do(t, http.MethodPost, base+"/SendWebsocketEvent", strings.NewReader(body),
		append([]string{"Content-Type", "application/json"}, hdr...)...)
}

// object decodes a JSON object body, keeping numbers exact.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q is no JSON object: %v", r.body, err)
	}
	return m
}

// keys checks that m has exactly the keys want.
func keys(t *testing.T, m map[string]any, want ...string) {
	t.Helper()
	if len(m) != len(want) {
		t.Errorf("keys of %v: want exactly %v", m, want)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %v", k, m)
		}
	}
}

// scrape parses GET /metrics with Prometheus' own text parser.
func scrape(t testing.TB, base string, hdr ...string) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, http.MethodGet, base+"/metrics", nil, hdr...)
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics: Content-Type %q", ct)
	}
	return metricstest.Parse(t, r.body)
}

// sum adds every sample of a counter or gauge family.
func sum(mfs map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	for _, m := range mfs[name].GetMetric() {
		s += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return s
}

// sioClient is a Socket.IO v5 client over a raw WebSocket, enough to see
// what a broadcast delivers.
type sioClient struct {
	t    testing.TB
	conn net.Conn
	rw   io.ReadWriter
	ns   string
	sid  string // the socket id the server gave in its CONNECT answer
	ack  int
}

// dialSIO opens a WebSocket session and joins namespace ns.
func dialSIO(t testing.TB, ts *testService, ns string) *sioClient {
	t.Helper()
	return dialSIOAuth(t, ts, ns, "")
}

// dialSIOAuth is dialSIO with auth (raw JSON, "" for none) in the CONNECT.
func dialSIOAuth(t testing.TB, ts *testService, ns, auth string) *sioClient {
	t.Helper()
	c := openSIO(t, ts)
	c.ns = ns
	got := c.connect(ns, auth)
	ackPrefix := "40{"
	if ns != "/" {
		ackPrefix = "40" + ns + ",{"
	}
	if !strings.HasPrefix(got, ackPrefix) {
		t.Fatalf("CONNECT answer %q, want %s…", got, ackPrefix)
	}
	var m struct{ Sid string }
	if err := json.Unmarshal([]byte(got[len(ackPrefix)-1:]), &m); err != nil || m.Sid == "" {
		t.Fatalf("CONNECT answer %q: no sid (%v)", got, err)
	}
	c.sid = m.Sid
	return c
}

// connect sends a CONNECT to namespace ns with auth (raw JSON, "" for
// none) and returns the server's answer.
func (c *sioClient) connect(ns, auth string) string {
	c.t.Helper()
	if ns == "/" {
		c.send("40" + auth)
	} else {
		c.send("40" + ns + "," + auth)
	}
	return c.read()
}

// openSIO opens a WebSocket session that has joined no namespace yet.
func openSIO(t testing.TB, ts *testService) *sioClient {
	t.Helper()
	return openWS(t, ts.port, "", nil)
}

// openWS opens a WebSocket session on port with more query parameters
// ("&k=v…", or "") and handshake headers (or nil), and reads the open
// packet.
func openWS(t testing.TB, port int, query string, h http.Header) *sioClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + "/socket.io/?EIO=4&transport=websocket" + query
	d := ws.Dialer{}
	if h != nil {
		d.Header = ws.HandshakeHeaderHTTP(h)
	}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &sioClient{t: t, conn: conn}
	// The server may send the open packet with the 101 response: it is
	// then in br, which reads on from conn once drained.
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	c.rw = struct {
		io.Reader
		io.Writer
	}{r, conn}
	t.Cleanup(func() { conn.Close() })
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("first packet %q, want the Engine.IO open packet", open)
	}
	return c
}

// read returns the next Engine.IO packet, answering pings on the way.
func (c *sioClient) read() string {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := wsutil.ReadServerText(c.rw)
		if err != nil {
			c.t.Fatalf("socket %s: reading: %v", c.sid, err)
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

func (c *sioClient) send(pkt string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientText(c.conn, []byte(pkt)); err != nil {
		c.t.Fatalf("socket %s: writing %q: %v", c.sid, pkt, err)
	}
}

// prefix is the Socket.IO packet prefix of type typ in c's namespace,
// e.g. "42" or "42/chat,".
func (c *sioClient) prefix(typ string) string {
	if c.ns == "/" {
		return "4" + typ
	}
	return "4" + typ + c.ns + ","
}

// event returns the next EVENT as its JSON array, e.g. `["news",{…}]`.
func (c *sioClient) event() string {
	c.t.Helper()
	p := c.read()
	if !strings.HasPrefix(p, c.prefix("2")) {
		c.t.Fatalf("socket %s: got %q, want an EVENT", c.sid, p)
	}
	return p[len(c.prefix("2")):]
}

// expect reads the next events and compares them with want, in order.
func (c *sioClient) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.event(); got != w {
			c.t.Errorf("socket %s received %s, want %s", c.sid, got, w)
		}
	}
}

// call emits an event with an ack id and returns the ack's arguments.
func (c *sioClient) call(args string) string {
	c.t.Helper()
	c.ack++
	id := strconv.Itoa(c.ack)
	c.send(c.prefix("2") + id + args)
	p := c.read()
	if !strings.HasPrefix(p, c.prefix("3")+id) {
		c.t.Fatalf("socket %s: got %q, want ACK %s", c.sid, p, id)
	}
	return p[len(c.prefix("3")+id):]
}

// subscribe joins a channel room through the service's "subscribe" event.
func (c *sioClient) subscribe(room string) {
	c.t.Helper()
	if got := c.call(`["subscribe","` + room + `"]`); !strings.Contains(got, `"`+room+`"`) {
		c.t.Fatalf("socket %s: subscribe %q acked %s", c.sid, room, got)
	}
}
