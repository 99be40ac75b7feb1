package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"sioloop/loop"
	"sioloop/tools/testnet"
)

// startAuthServer serves Socket.IO on "/" with the service's events and
// auth, and returns its port.
func startAuthServer(t *testing.T, auth *JWTAuth, recovery time.Duration) int {
	t.Helper()
	port := testnet.FreePort(t)
	srv := loop.New(loop.Config{Addr: "127.0.0.1:" + strconv.Itoa(port), EventLoops: 2, PingInterval: time.Minute, PingTimeout: time.Minute},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	sio := loop.NewSocketIO(srv)
	sio.Recovery = recovery
	Install([]*loop.Namespace{sio.Of("/")}, auth, Limits{}, nil)
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
	})
	return port
}

// dialAuth opens a WebSocket session, sends CONNECT to "/" with auth and
// returns the client and the server's answer.
func dialAuth(t *testing.T, port int, auth string) (*sioClient, string) {
	t.Helper()
	return connectRoot(openWS(t, port, "", nil), auth)
}

// connectRoot sends CONNECT to "/" with auth and returns c, its sid set
// when accepted, and the server's answer.
func connectRoot(c *sioClient, auth string) (*sioClient, string) {
	c.t.Helper()
	c.ns = "/"
	got := c.connect("/", auth)
	if m := regexp.MustCompile(`^40\{"sid":"([\w-]+)"`).FindStringSubmatch(got); m != nil {
		c.sid = m[1]
	}
	return c, got
}

func tokenAuth(tok string) string { return `{"token":"` + tok + `"}` }

func counter(name string) uint64 { return vm.GetOrCreateCounter(name).Get() }

// expectExpired reads the token_expired event and the DISCONNECT, no
// sooner than at.
func expectExpired(t *testing.T, c *sioClient, at time.Time) {
	t.Helper()
	// With recovery on the event carries its offset as one more argument.
	if got := c.read(); !strings.HasPrefix(got, `42["token_expired",{"reason":"token expired"}`) {
		t.Fatalf("got %q, want the token_expired event", got)
	}
	if time.Now().Before(at) {
		t.Fatalf("expired %v before its exp", time.Until(at))
	}
	if got := c.read(); got != "41" {
		t.Fatalf("got %q, want DISCONNECT", got)
	}
}

// stillConnected checks that the socket answers an echo.
func stillConnected(t *testing.T, c *sioClient) {
	t.Helper()
	c.ack++
	c.send("42" + strconv.Itoa(c.ack) + `["message","hi"]`)
	if got := c.read(); got != `42["message","hi"]` {
		t.Fatalf("echo %q", got)
	}
	if got, want := c.read(), "43"+strconv.Itoa(c.ack)+`["hi"]`; got != want {
		t.Fatalf("echo ack %q, want %q", got, want)
	}
}

// expOf is the unix exp a token signed now with d gets.
func expOf(d time.Duration) time.Time { return time.Unix(time.Now().Add(d).Unix(), 0) }

func TestTokenExpiresMidConnection(t *testing.T) {
	k := newKey(t, "ed", "")
	a, _ := NewJWTAuth(JWTConfig{PublicKeyPEM: k.pem(t)})
	port := startAuthServer(t, a, 0)
	before := counter(`sioloop_token_expired_total`)
	at := expOf(2 * time.Second)
	c, got := dialAuth(t, port, tokenAuth(k.sign(t, "alice", 2*time.Second, nil)))
	if c.sid == "" {
		t.Fatalf("CONNECT answer %q", got)
	}
	stillConnected(t, c)
	expectExpired(t, c, at)
	if n := counter(`sioloop_token_expired_total`) - before; n != 1 {
		t.Fatalf("sioloop_token_expired_total moved by %d, want 1", n)
	}
	// A token without exp keeps today's behaviour: no expiry.
	c2, _ := dialAuth(t, port, tokenAuth(k.sign(t, "bob", 0, nil)))
	time.Sleep(1500 * time.Millisecond)
	stillConnected(t, c2)
}

func TestTokenRefresh(t *testing.T) {
	k := newKey(t, "ec", "")
	a, _ := NewJWTAuth(JWTConfig{PublicKeyPEM: k.pem(t)})
	port := startAuthServer(t, a, 0)
	refreshed := counter(`sioloop_token_refreshed_total`)
	refusedSub := counter(TokenRefused + `{stage="refresh",reason="other_subject"}`)

	c, _ := dialAuth(t, port, tokenAuth(k.sign(t, "alice", 2*time.Second, nil)))
	fresh := k.sign(t, "alice", time.Hour, nil)
	want := `[{"exp":` + strconv.FormatInt(expOf(time.Hour).Unix(), 10) + `}]`
	if got := c.call(`["refresh",{"token":"` + fresh + `"}]`); got != want {
		t.Fatalf("refresh ack %s, want %s", got, want)
	}
	time.Sleep(2500 * time.Millisecond) // past the first exp: the stale timer fired and did nothing
	stillConnected(t, c)
	if n := counter(`sioloop_token_refreshed_total`) - refreshed; n != 1 {
		t.Fatalf("sioloop_token_refreshed_total moved by %d", n)
	}

	// Refusals: the socket keeps its token, and expires at its exp.
	at := expOf(3 * time.Second)
	d, _ := dialAuth(t, port, tokenAuth(k.sign(t, "bob", 3*time.Second, nil)))
	other := newKey(t, "ec", "")
	for _, tc := range []struct{ what, args, want string }{
		{"other sub", `{"token":"` + k.sign(t, "mallory", time.Hour, nil) + `"}`, "another subject"},
		{"bad signature", `{"token":"` + other.sign(t, "bob", time.Hour, nil) + `"}`, "invalid signature"},
		{"expired fresh token", `{"token":"` + k.sign(t, "bob", -time.Minute, nil) + `"}`, "token expired"},
		{"garbage", `{"token":"x.y.z"}`, "malformed token"},
		{"no token", `"just a string"`, "refresh wants {token}"},
	} {
		got := d.call(`["refresh",` + tc.args + `]`)
		var ack []struct{ Error string }
		if json.Unmarshal([]byte(got), &ack) != nil || len(ack) != 1 || !strings.Contains(ack[0].Error, tc.want) {
			t.Errorf("%s: ack %s, want an error with %q", tc.what, got, tc.want)
		}
	}
	if n := counter(TokenRefused+`{stage="refresh",reason="other_subject"}`) - refusedSub; n != 1 {
		t.Errorf("refresh other_subject counted %d times", n)
	}
	expectExpired(t, d, at)
}

// TestTokenExpiryAfterRecovery: a recovered socket takes the token of its
// new CONNECT (the middleware runs again) and expires with it; a recovery
// with an expired token is refused.
func TestTokenExpiryAfterRecovery(t *testing.T) {
	const secret = "s3cret"
	a, _ := NewJWTAuth(JWTConfig{Secret: secret})
	port := startAuthServer(t, a, time.Minute)
	tok := func(sub string, d time.Duration) string {
		return hsSign(t, []byte(secret), "", map[string]any{"sub": sub, "exp": time.Now().Add(d).Unix()})
	}
	c, got := dialAuth(t, port, tokenAuth(tok("alice", time.Hour)))
	m := regexp.MustCompile(`"pid":"([\w-]+)"`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("CONNECT answer %q: no pid", got)
	}
	c.conn.Close() // transport close: the session is kept
	time.Sleep(100 * time.Millisecond)
	_, got = dialAuth(t, port, `{"token":"`+tok("alice", -time.Minute)+`","pid":"`+m[1]+`"}`)
	if !strings.HasPrefix(got, `44{"message":"unauthorized","data":{"reason":"token expired"}}`) {
		t.Fatalf("recovery with an expired token: %q", got)
	}
	at := expOf(2 * time.Second)
	r, got := dialAuth(t, port, `{"token":"`+tok("alice", 2*time.Second)+`","pid":"`+m[1]+`"}`)
	if !strings.Contains(got, `"sid":"`+c.sid+`"`) {
		t.Fatalf("not recovered: %q (first sid %s)", got, c.sid)
	}
	expectExpired(t, r, at)
}

// TestTokenRefreshNewKid: with a JWKS, a refresh whose token names a kid
// the server has not fetched yet is acked after the fetch.
func TestTokenRefreshNewKid(t *testing.T) {
	k1, k2 := newKey(t, "ed", "one"), newKey(t, "ed", "two")
	js := newJWKSServer(t, k1)
	a, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL, JWKSMinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	port := startAuthServer(t, a, 0)
	c, _ := dialAuth(t, port, tokenAuth(k1.sign(t, "alice", time.Hour, nil)))
	js.set(false, k1, k2)
	want := `[{"exp":` + strconv.FormatInt(expOf(2*time.Hour).Unix(), 10) + `}]`
	if got := c.call(`["refresh",{"token":"` + k2.sign(t, "alice", 2*time.Hour, nil) + `"}]`); got != want {
		t.Fatalf("refresh ack %s, want %s", got, want)
	}
	// A CONNECT with the new kid is admitted without another fetch.
	n := js.fetches.Load()
	if d, got := dialAuth(t, port, tokenAuth(k2.sign(t, "bob", time.Hour, nil))); d.sid == "" {
		t.Fatalf("CONNECT with the new kid: %q", got)
	}
	if js.fetches.Load() != n {
		t.Fatal("a known kid caused a fetch")
	}
	// Unknown kid at CONNECT: refused after the fetch (UseAsync).
	k3 := newKey(t, "ed", "three")
	time.Sleep(5 * time.Millisecond)
	if _, got := dialAuth(t, port, tokenAuth(k3.sign(t, "eve", time.Hour, nil))); got != `44{"message":"unauthorized","data":{"reason":"unknown key id (kid)"}}` {
		t.Fatalf("unknown kid at CONNECT: %q", got)
	}
	if js.fetches.Load() != n+1 {
		t.Fatalf("%d fetches for an unknown kid, want 1", js.fetches.Load()-n)
	}
	// And a new kid at CONNECT, fetched on demand.
	k4 := newKey(t, "ec", "four")
	js.set(false, k4)
	time.Sleep(5 * time.Millisecond)
	if d, got := dialAuth(t, port, tokenAuth(k4.sign(t, "dan", time.Hour, nil))); d.sid == "" {
		t.Fatalf("CONNECT with a kid fetched on demand: %q", got)
	}
}

func TestRefreshWithoutAuth(t *testing.T) {
	port := startAuthServer(t, nil, 0)
	c, _ := dialAuth(t, port, "")
	if got := c.call(`["refresh",{"token":"x"}]`); !strings.Contains(got, "token refresh needs JWT auth") {
		t.Fatalf("refresh without auth: %s", got)
	}
}
