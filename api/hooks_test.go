package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/golang-jwt/jwt/v5"

	"sioloop/api/hooks"
	"sioloop/loop"
	"sioloop/tools/testnet"
)

// hookBackend is a test backend: a handler per hook path (/connect,
// /subscribe, /event, /disconnect) and every request body it got, each
// checked against HOOK_SECRET when one is set.
type hookBackend struct {
	t      *testing.T
	url    string
	secret string

	mu     sync.Mutex
	bodies map[string][][]byte
	unsig  int // requests whose signature did not verify

	handle map[string]func(w http.ResponseWriter, body []byte)
}

func newHookBackend(t *testing.T, secret string) *hookBackend {
	b := &hookBackend{t: t, secret: secret, bodies: map[string][][]byte{}, handle: map[string]func(http.ResponseWriter, []byte){}}
	s := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(s.Close)
	b.url = s.URL
	return b
}

func (b *hookBackend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.bodies[r.URL.Path] = append(b.bodies[r.URL.Path], body)
	if b.secret != "" && !verifyHook(b.secret, r, body) {
		b.unsig++
	}
	h := b.handle[r.URL.Path]
	b.mu.Unlock()
	if h == nil {
		io.WriteString(w, `{}`)
		return
	}
	h(w, body)
}

// verifyHook is a backend's signature check, as README.md shows it.
func verifyHook(secret string, r *http.Request, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.Header.Get("X-Sioloop-Timestamp") + "." + string(body)))
	return hmac.Equal([]byte(r.Header.Get("X-Sioloop-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
}

func (b *hookBackend) on(path string, h func(w http.ResponseWriter, body []byte)) {
	b.mu.Lock()
	b.handle[path] = h
	b.mu.Unlock()
}

func (b *hookBackend) got(path string) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bodies[path])
}

// answer makes a handler that answers status and body.
func answer(status int, body string) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, _ []byte) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// startHooked serves Socket.IO on "/" with the service's events, auth
// (nil for none) and the hooks of hc, on two reactors, and returns its
// port.
func startHooked(t *testing.T, hc hooks.Config, auth *JWTAuth) int {
	t.Helper()
	port := testnet.FreePort(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := loop.New(loop.Config{Addr: "127.0.0.1:" + strconv.Itoa(port), EventLoops: 2, PingInterval: time.Minute, PingTimeout: time.Minute, KeepHeaders: hc.ForwardHeaders}, log)
	sio := loop.NewSocketIO(srv)
	hc.Log = log
	hk := hooks.New(hc)
	Install([]*loop.Namespace{sio.Of("/")}, auth, Limits{}, hk)
	srv.Handle("/socket.io/", sio)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-errc
		hk.Close()
	})
	return port
}

// dialHooked is dialAuth with extra handshake headers.
func dialHooked(t *testing.T, port int, auth string, headers ...string) (*sioClient, string) {
	t.Helper()
	if len(headers) == 0 {
		return dialAuth(t, port, auth)
	}
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return connectRoot(openWS(t, port, "&tenant=acme", h), auth)
}

func TestConnectHookAccepts(t *testing.T) {
	b := newHookBackend(t, "k")
	b.on("/connect", answer(200, `{"user":"42","channels":["news","user:7","`+strings.Repeat("x", 300)+`"],"data":{"plan":"pro"}}`))
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect", EventURL: b.url + "/event", Secret: "k", ForwardHeaders: []string{"X-Tenant", "Cookie"}}, nil)
	c, got := dialHooked(t, port, `{"token":"abc"}`, "X-Tenant", "acme", "Cookie", "a=1", "X-Other", "no")
	if !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	var req struct {
		ID, Namespace, Address string
		Auth                   json.RawMessage
		Query, Headers         map[string]string
		Sub                    *string
	}
	if err := json.Unmarshal(b.got("/connect")[0], &req); err != nil {
		t.Fatal(err)
	}
	if req.ID != c.sid || req.Namespace != "/" || string(req.Auth) != `{"token":"abc"}` || !strings.HasPrefix(req.Address, "127.0.0.1:") ||
		req.Query["tenant"] != "acme" || req.Query["EIO"] != "4" || len(req.Headers) != 2 || req.Headers["x-tenant"] != "acme" || req.Headers["cookie"] != "a=1" || req.Sub != nil {
		t.Fatalf("connect request %s", b.got("/connect")[0])
	}
	// The user room and the channels it may join (not another user's
	// room, not a name over MAX_NAME_BYTES).
	if rooms := c.call(`["subscribe",[]]`); rooms != `[["`+c.sid+`","user:42","news"]]` {
		t.Fatalf("rooms %s", rooms)
	}
	// data goes with the other hooks.
	c.call(`["order",1]`)
	if ev := string(b.got("/event")[0]); !strings.Contains(ev, `"user":"42"`) || !strings.Contains(ev, `"data":{"plan":"pro"}`) {
		t.Fatalf("event request %s", ev)
	}
	if b.unsig != 0 {
		t.Fatalf("%d requests failed the signature check", b.unsig)
	}
}

func TestConnectHookRefuses(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/connect", answer(403, `{"message":"banned","data":{"until":"2027-01-01"}}`))
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect"}, nil)
	if _, got := dialAuth(t, port, ""); got != `44{"message":"banned","data":{"until":"2027-01-01"}}` {
		t.Fatalf("CONNECT answer %q", got)
	}
}

// TestConnectHookJWT: the JWT check comes first, its sub is sent and
// stays the user.
func TestConnectHookJWT(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/connect", answer(200, `{"user":"mallory"}`))
	auth, err := NewJWTAuth(JWTConfig{Secret: testJWTSecret})
	if err != nil {
		t.Fatal(err)
	}
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect"}, auth)
	if _, got := dialAuth(t, port, `{"token":"bad"}`); !strings.HasPrefix(got, "44") || len(b.got("/connect")) != 0 {
		t.Fatalf("a bad token: %q, %d hook calls", got, len(b.got("/connect")))
	}
	c, got := dialAuth(t, port, userAuth(t, "alice"))
	if !strings.HasPrefix(got, "40") || !strings.Contains(string(b.got("/connect")[0]), `"sub":"alice"`) {
		t.Fatalf("CONNECT %q, request %s", got, b.got("/connect"))
	}
	if rooms := c.call(`["subscribe",[]]`); !strings.Contains(rooms, `"user:alice"`) {
		t.Fatalf("rooms %s", rooms)
	}
}

func TestConnectHookUnavailable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	b := newHookBackend(t, "")
	b.on("/5xx", answer(502, `bad gateway`))
	b.on("/garbage", answer(200, `<html>`))
	b.on("/slow", func(w http.ResponseWriter, _ []byte) { time.Sleep(700 * time.Millisecond) })
	for _, url := range []string{b.url + "/5xx", b.url + "/garbage", b.url + "/slow", closed.URL} {
		for _, open := range []bool{false, true} {
			port := startHooked(t, hooks.Config{ConnectURL: url, Timeout: 300 * time.Millisecond, FailOpen: open}, nil)
			_, got := dialAuth(t, port, "")
			if want := `44{"message":"backend unavailable"}`; !open && got != want {
				t.Errorf("%s: %q, want %q", url, got, want)
			}
			if open && !strings.HasPrefix(got, `40{"sid"`) {
				t.Errorf("%s, HOOK_FAIL_OPEN: %q, want accepted", url, got)
			}
		}
	}
}

func TestSubscribeHook(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/subscribe", func(w http.ResponseWriter, body []byte) {
		var req struct{ Channels []string }
		_ = json.Unmarshal(body, &req)
		var ok []string
		for _, ch := range req.Channels {
			if strings.HasPrefix(ch, "public-") {
				ok = append(ok, ch)
			}
		}
		json.NewEncoder(w).Encode(map[string][]string{"channels": append(ok, "public-not-asked")})
	})
	port := startHooked(t, hooks.Config{SubscribeURL: b.url + "/subscribe"}, nil)
	c, _ := dialAuth(t, port, "")
	got := c.call(`["subscribe",["public-a","secret","public-b","user:9","public-a"]]`)
	if got != `[["`+c.sid+`","public-a","public-b"]]` {
		t.Fatalf("subscribe acked %s", got)
	}
	// The backend sees only what the server allows, once each.
	if req := string(b.got("/subscribe")[0]); !strings.Contains(req, `"channels":["public-a","secret","public-b"]`) || !strings.Contains(req, `"id":"`+c.sid+`"`) {
		t.Fatalf("subscribe request %s", req)
	}
	// Nothing left to ask: no call.
	c.call(`["subscribe","public-a"]`)
	if n := len(b.got("/subscribe")); n != 1 {
		t.Fatalf("%d subscribe calls, want 1", n)
	}
	b.on("/subscribe", answer(403, `{"message":"no more"}`))
	if got := c.call(`["subscribe","public-c"]`); got != `[{"error":"no more","rooms":["`+c.sid+`","public-a","public-b"]}]` {
		t.Fatalf("refused subscribe acked %s", got)
	}
	b.on("/subscribe", answer(500, ``))
	if got := c.call(`["subscribe","public-c"]`); !strings.HasPrefix(got, `[{"error":"backend unavailable"`) {
		t.Fatalf("subscribe with the backend down acked %s", got)
	}
}

func TestEventHook(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/event", func(w http.ResponseWriter, body []byte) {
		var req struct {
			Event       string
			Args        []json.RawMessage
			Attachments []string
			Ack         bool
		}
		_ = json.Unmarshal(body, &req)
		switch req.Event {
		case "order":
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "args": req.Args, "attachments": req.Attachments, "ack": req.Ack})
		case "refused":
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"no such order"}`)
		case "garbage":
			io.WriteString(w, `{"ok":`)
		default:
			w.WriteHeader(500)
		}
	})
	port := startHooked(t, hooks.Config{EventURL: b.url + "/event"}, nil)
	c, _ := dialAuth(t, port, "")
	if got := c.call(`["order",{"sku":"a"},2]`); got != `[{"ack":true,"args":[{"sku":"a"},2],"attachments":null,"ok":true}]` {
		t.Fatalf("order acked %s", got)
	}
	if got := c.call(`["refused"]`); got != `[{"error":"no such order"}]` {
		t.Fatalf("refused acked %s", got)
	}
	bad := hooks.Errors(hooks.Event, hooks.KindBadAnswer)
	if got := c.call(`["garbage"]`); got != `[{"error":"backend unavailable"}]` {
		t.Fatalf("garbage acked %s", got)
	}
	if hooks.Errors(hooks.Event, hooks.KindBadAnswer) != bad+1 {
		t.Fatal("the bad answer was not counted")
	}
	if got := c.call(`["down"]`); got != `[{"error":"backend unavailable"}]` {
		t.Fatalf("down acked %s", got)
	}
	// The service's own events do not go to the backend.
	n := len(b.got("/event"))
	c.send(`42["message","hi"]`)
	c.expect(`["message","hi"]`)
	c.call(`["refresh",{}]`)
	c.call(`["unsubscribe","x"]`)
	if len(b.got("/event")) != n {
		t.Fatal("a service event reached the event hook")
	}
	// Binary: base64, with its placeholder in args.
	c.ack++
	c.send(`451-` + strconv.Itoa(c.ack) + `["order",{"_placeholder":true,"num":0}]`)
	if err := wsutil.WriteClientBinary(c.conn, []byte{0xde, 0xad}); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); got != `43`+strconv.Itoa(c.ack)+`[{"ack":true,"args":[{"_placeholder":true,"num":0}],"attachments":["3q0="],"ok":true}]` {
		t.Fatalf("binary event acked %s", got)
	}
}

// TestEventHookOrder sends 1,000 events from one client, up to 50 at once
// (the socket's queue holds 64): the backend gets them in the order sent,
// and each ack answers its own event.
func TestEventHookOrder(t *testing.T) {
	b := newHookBackend(t, "")
	var seen []int
	var mu sync.Mutex
	b.on("/event", func(w http.ResponseWriter, body []byte) {
		var req struct{ Args []int }
		_ = json.Unmarshal(body, &req)
		mu.Lock()
		seen = append(seen, req.Args[0])
		mu.Unlock()
		json.NewEncoder(w).Encode(req.Args[0] * 2)
	})
	port := startHooked(t, hooks.Config{EventURL: b.url + "/event"}, nil)
	c, _ := dialAuth(t, port, "")
	const n, window = 1000, 50
	sent, acked := 0, 0
	for acked < n {
		for sent < n && sent-acked < window {
			c.send(`42` + strconv.Itoa(sent+1) + `["seq",` + strconv.Itoa(sent) + `]`)
			sent++
		}
		got := c.read()
		want := `43` + strconv.Itoa(acked+1) + `[` + strconv.Itoa(acked*2) + `]`
		if got != want {
			t.Fatalf("ack %q, want %q", got, want)
		}
		acked++
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n || !sort.IntsAreSorted(seen) {
		t.Fatalf("the backend saw %d events, in order: %v", len(seen), sort.IntsAreSorted(seen))
	}
}

// TestEventHookQueueFull: past MaxSocketQueue events waiting behind a
// slow call, one more is refused at once.
func TestEventHookQueueFull(t *testing.T) {
	b := newHookBackend(t, "")
	release := make(chan struct{})
	b.on("/event", func(w http.ResponseWriter, _ []byte) {
		<-release
		io.WriteString(w, `"ok"`)
	})
	port := startHooked(t, hooks.Config{EventURL: b.url + "/event", Timeout: 10 * time.Second}, nil)
	c, _ := dialAuth(t, port, "")
	full := hooks.Errors(hooks.Event, hooks.KindQueueFull)
	for i := 1; i <= MaxSocketQueue+2; i++ {
		c.send(`42` + strconv.Itoa(i) + `["slow"]`)
	}
	if got := c.read(); !strings.HasPrefix(got, `43`+strconv.Itoa(MaxSocketQueue+2)+`[{"error":"event refused: too many events`) {
		t.Fatalf("one event too many: %q", got)
	}
	if hooks.Errors(hooks.Event, hooks.KindQueueFull) != full+1 {
		t.Fatal("not counted")
	}
	close(release)
	for i := 1; i <= MaxSocketQueue+1; i++ {
		if got := c.read(); got != `43`+strconv.Itoa(i)+`["ok"]` {
			t.Fatalf("ack %q, want %d", got, i)
		}
	}
}

func TestDisconnectHook(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/connect", answer(200, `{"user":"42"}`))
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect", DisconnectURL: b.url + "/disconnect", BatchInterval: 50 * time.Millisecond}, nil)
	c1, _ := dialAuth(t, port, "")
	c2, _ := dialAuth(t, port, "")
	// A socket counts right after its CONNECT answer went out (OnConnect).
	time.Sleep(50 * time.Millisecond)
	c1.send("41") // client namespace disconnect
	time.Sleep(100 * time.Millisecond)
	// transport close: the WebSocket closes cleanly.
	if err := wsutil.WriteClientMessage(c2.conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	c2.conn.Close()
	var recs []hooks.DisconnectRecord
	deadline := time.Now().Add(5 * time.Second)
	for len(recs) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		recs = nil
		for _, body := range b.got("/disconnect") {
			var batch []hooks.DisconnectRecord
			if err := json.Unmarshal(body, &batch); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, batch...)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("disconnects %+v", recs)
	}
	want := []hooks.DisconnectRecord{
		{ID: c1.sid, User: "42", Namespace: "/", Reason: "client namespace disconnect", UserSocketsLeft: 1},
		{ID: c2.sid, User: "42", Namespace: "/", Reason: "transport close", UserSocketsLeft: 0, Last: true},
	}
	for i, r := range recs {
		if time.Since(time.UnixMilli(r.At)) > 5*time.Second {
			t.Errorf("record %d at %d", i, r.At)
		}
		r.At = 0
		if g, w := r, want[i]; g.ID != w.ID || g.User != w.User || g.Namespace != w.Namespace || g.Reason != w.Reason || g.UserSocketsLeft != w.UserSocketsLeft || g.Last != w.Last {
			t.Errorf("record %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestHookCanary: while the backend sleeps 5 s on every call, with
// CONNECTs, subscribes and events waiting for it from sockets on both
// reactors, other clients' echo keeps its usual latency: no reactor waits
// for the backend.
func TestHookCanary(t *testing.T) {
	b := newHookBackend(t, "")
	stop := make(chan struct{})
	b.on("/event", func(w http.ResponseWriter, _ []byte) {
		select {
		case <-time.After(5 * time.Second):
		case <-stop:
		}
		io.WriteString(w, `"late"`)
	})
	b.on("/subscribe", func(w http.ResponseWriter, _ []byte) {
		select {
		case <-time.After(5 * time.Second):
		case <-stop:
		}
		io.WriteString(w, `{"channels":[]}`)
	})
	b.on("/connect", func(w http.ResponseWriter, body []byte) {
		if strings.Contains(string(body), `"slow"`) {
			select {
			case <-time.After(5 * time.Second):
			case <-stop:
			}
		}
		io.WriteString(w, `{}`)
	})
	defer close(stop)
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect", EventURL: b.url + "/event", SubscribeURL: b.url + "/subscribe", Timeout: 10 * time.Second}, nil)
	// CONNECTs waiting for the connect hook, on both reactors.
	for range 4 {
		c := openRaw(t, port)
		c.send(`40{"slow":true}`)
	}
	var hooked []*sioClient
	for range 8 {
		c, _ := dialAuth(t, port, "")
		hooked = append(hooked, c)
		for i := 1; i <= 5; i++ {
			c.send(`42` + strconv.Itoa(i) + `["slow",` + strconv.Itoa(i) + `]`)
		}
		c.send(`42` + strconv.Itoa(9) + `["subscribe","x"]`)
	}
	// Let the calls reach the backend.
	deadline := time.Now().Add(5 * time.Second)
	for len(b.got("/event")) < len(hooked) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var worst time.Duration
	var lat []time.Duration
	for _, canary := range []*sioClient{must(dialAuth(t, port, "")), must(dialAuth(t, port, ""))} { // one per reactor (round robin)
		for i := range 50 {
			start := time.Now()
			canary.send(`42["message",` + strconv.Itoa(i) + `]`)
			canary.expect(`["message",` + strconv.Itoa(i) + `]`)
			d := time.Since(start)
			lat = append(lat, d)
			worst = max(worst, d)
		}
	}
	slices.Sort(lat)
	t.Logf("echo while the backend sleeps: p50 %v, p99 %v, max %v", lat[len(lat)/2], lat[len(lat)*99/100], worst)
	if worst > time.Second {
		t.Fatalf("an echo took %v while the backend slept: a reactor waited", worst)
	}
	if n := len(b.got("/event")); n > len(hooked) {
		t.Fatalf("%d event calls for %d sockets: more than one in flight per socket", n, len(hooked))
	}
}

// openRaw opens a WebSocket session that has joined no namespace yet.
func openRaw(t *testing.T, port int) *sioClient {
	t.Helper()
	return openSIO(t, &testService{port: port})
}

func must(c *sioClient, got string) *sioClient {
	if !strings.HasPrefix(got, "40") {
		c.t.Fatalf("CONNECT answer %q", got)
	}
	return c
}

// TestHooksSigned: every hook's requests verify with the README's check.
func TestHooksSigned(t *testing.T) {
	b := newHookBackend(t, "topsecret")
	b.on("/subscribe", answer(200, `{"channels":["a"]}`))
	port := startHooked(t, hooks.Config{ConnectURL: b.url + "/connect", SubscribeURL: b.url + "/subscribe", EventURL: b.url + "/event",
		DisconnectURL: b.url + "/disconnect", BatchInterval: 20 * time.Millisecond, Secret: "topsecret"}, nil)
	c, _ := dialAuth(t, port, "")
	c.call(`["subscribe","a"]`)
	c.call(`["e"]`)
	c.send("41")
	deadline := time.Now().Add(5 * time.Second)
	for len(b.got("/disconnect")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var total atomic.Int64
	for _, p := range []string{"/connect", "/subscribe", "/event", "/disconnect"} {
		if len(b.got(p)) == 0 {
			t.Errorf("no %s call", p)
		}
		total.Add(int64(len(b.got(p))))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unsig != 0 {
		t.Fatalf("%d of %d requests failed the signature check", b.unsig, total.Load())
	}
}

// TestSubscribeHookAfterJWT: the token's channels claim applies first;
// the backend is asked only about the channels it allows.
func TestSubscribeHookAfterJWT(t *testing.T) {
	b := newHookBackend(t, "")
	b.on("/subscribe", func(w http.ResponseWriter, body []byte) {
		var req struct{ Channels []string }
		_ = json.Unmarshal(body, &req)
		json.NewEncoder(w).Encode(map[string][]string{"channels": req.Channels[:1]})
	})
	auth, err := NewJWTAuth(JWTConfig{Secret: testJWTSecret})
	if err != nil {
		t.Fatal(err)
	}
	port := startHooked(t, hooks.Config{SubscribeURL: b.url + "/subscribe"}, auth)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ann", "channels": []string{"team-*"}}).SignedString([]byte(testJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := dialAuth(t, port, tokenAuth(tok))
	if got := c.call(`["subscribe",["news","team-a","team-b"]]`); got != `[["`+c.sid+`","user:ann","team-a"]]` {
		t.Fatalf("subscribe acked %s", got)
	}
	if req := string(b.got("/subscribe")[0]); !strings.Contains(req, `"user":"ann"`) || !strings.Contains(req, `"channels":["team-a","team-b"]`) {
		t.Fatalf("subscribe request %s", req)
	}
}
