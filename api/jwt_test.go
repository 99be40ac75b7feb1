package api

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKey is a signing key with its kid, its public PEM and its JWK.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   any
	pub    any
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

// newKey makes a key of kind "rsa", "ec" or "ed". RSA keys are slow to
// make: the first one is reused.
func newKey(t testing.TB, kind, kid string) *testKey {
	t.Helper()
	switch kind {
	case "rsa":
		var err error
		if kid == "" || strings.HasSuffix(kid, "-shared") {
			rsaOnce.Do(func() { rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048) })
			if err != nil {
				t.Fatal(err)
			}
			return &testKey{kid: kid, method: jwt.SigningMethodRS256, priv: rsaPriv, pub: &rsaPriv.PublicKey}
		}
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return &testKey{kid: kid, method: jwt.SigningMethodRS256, priv: k, pub: &k.PublicKey}
	case "ec":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &testKey{kid: kid, method: jwt.SigningMethodES256, priv: k, pub: &k.PublicKey}
	case "ed":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &testKey{kid: kid, method: jwt.SigningMethodEdDSA, priv: priv, pub: pub}
	}
	t.Fatalf("BUG: key kind %q", kind)
	return nil
}

func (k *testKey) pem(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (k *testKey) jwk() map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "RS256", "n": enc(p.N.Bytes()), "e": enc(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		return map[string]string{"kty": "EC", "kid": k.kid, "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": k.kid, "crv": "Ed25519", "x": enc(p)}
	}
	return nil
}

// sign makes a token with claims; exp is relative to now (0: no exp).
func (k *testKey) sign(t testing.TB, sub string, exp time.Duration, more jwt.MapClaims) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "iat": time.Now().Unix()}
	if exp != 0 {
		claims["exp"] = time.Now().Add(exp).Unix()
	}
	for n, v := range more {
		claims[n] = v
	}
	tok := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		tok.Header["kid"] = k.kid
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hsSign signs claims with HS256 and secret, with an optional kid.
func hsSign(t testing.TB, secret []byte, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noneToken is an unsigned token (alg none) with claims.
func noneToken(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refusedFor checks that a refuses token with the metric label want.
func refusedFor(t *testing.T, a *JWTAuth, what, token, want string) {
	t.Helper()
	c, err := a.Verify(token)
	if err == nil {
		t.Errorf("%s: accepted (sub %q), want refused (%s)", what, c.Subject, want)
		return
	}
	if label, _ := classify(err); label != want {
		t.Errorf("%s: refused as %q (%v), want %q", what, label, err, want)
	}
}

func accepted(t *testing.T, a *JWTAuth, what, token, sub string) {
	t.Helper()
	c, err := a.Verify(token)
	if err != nil || c.Subject != sub {
		t.Errorf("%s: %v (claims %+v), want sub %q", what, err, c, sub)
	}
}

// jwksServer serves a key set the test changes, and counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []*testKey
	down    bool
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...*testKey) *jwksServer {
	js := &jwksServer{keys: keys}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		js.mu.Lock()
		defer js.mu.Unlock()
		if js.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for _, k := range js.keys {
			set.Keys = append(set.Keys, k.jwk())
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) set(down bool, keys ...*testKey) {
	js.mu.Lock()
	js.keys, js.down = keys, down
	js.mu.Unlock()
}

func TestJWTAlgNoneRefused(t *testing.T) {
	rk, ek, dk := newKey(t, "rsa", ""), newKey(t, "ec", ""), newKey(t, "ed", "")
	js := newJWKSServer(t, newKey(t, "rsa", "r1-shared"))
	claims := jwt.MapClaims{"sub": "eve", "exp": time.Now().Add(time.Hour).Unix()}
	for _, cfg := range []JWTConfig{
		{Secret: "s3cret"}, {PublicKeyPEM: rk.pem(t)}, {PublicKeyPEM: ek.pem(t)}, {PublicKeyPEM: dk.pem(t)}, {JWKSURL: js.URL},
	} {
		a, err := NewJWTAuth(cfg)
		if err != nil {
			t.Fatal(err)
		}
		refusedFor(t, a, "alg none against "+a.methods[0], noneToken(t, "r1-shared", claims), "algorithm")
	}
}

// TestJWTKeyConfusion: a token signed HS256 with the bytes of the public
// key (the PEM, or for a JWKS the served JSON) as the HMAC secret is
// refused by a server that holds that public key.
func TestJWTKeyConfusion(t *testing.T) {
	rk := newKey(t, "rsa", "r1-shared")
	claims := jwt.MapClaims{"sub": "eve", "exp": time.Now().Add(time.Hour).Unix()}
	a, err := NewJWTAuth(JWTConfig{PublicKeyPEM: rk.pem(t)})
	if err != nil {
		t.Fatal(err)
	}
	accepted(t, a, "RS256 with the key", rk.sign(t, "alice", time.Hour, nil), "alice")
	refusedFor(t, a, "HS256 with the PEM as secret", hsSign(t, rk.pem(t), "", claims), "algorithm")
	refusedFor(t, a, "HS256 with the DER as secret", hsSign(t, rk.pem(t)[27:], "", claims), "algorithm")

	js := newJWKSServer(t, rk)
	j, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL})
	if err != nil {
		t.Fatal(err)
	}
	accepted(t, j, "RS256 from the JWKS", rk.sign(t, "alice", time.Hour, nil), "alice")
	set, _ := json.Marshal(map[string]any{"keys": []any{rk.jwk()}})
	n, _ := base64.RawURLEncoding.DecodeString(rk.jwk()["n"])
	for what, secret := range map[string][]byte{"the JWKS JSON": set, "the PEM": rk.pem(t), "the modulus": n} {
		refusedFor(t, j, "JWKS: HS256 with "+what+" as secret", hsSign(t, secret, rk.kid, claims), "algorithm")
	}
	// The kid of an RSA key with an ES256 token: the key says RS256.
	ek := newKey(t, "ec", rk.kid)
	refusedFor(t, j, "ES256 naming an RSA kid", ek.sign(t, "eve", time.Hour, nil), "algorithm")
}

func TestJWTAudienceIssuer(t *testing.T) {
	a, err := NewJWTAuth(JWTConfig{Secret: "s3cret", Audience: "app", Issuer: "https://idp"})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(claims jwt.MapClaims) string {
		claims["sub"], claims["exp"] = "alice", time.Now().Add(time.Hour).Unix()
		return hsSign(t, []byte("s3cret"), "", claims)
	}
	accepted(t, a, "aud and iss", tok(jwt.MapClaims{"aud": "app", "iss": "https://idp"}), "alice")
	accepted(t, a, "aud among several", tok(jwt.MapClaims{"aud": []string{"other", "app"}, "iss": "https://idp"}), "alice")
	refusedFor(t, a, "other aud", tok(jwt.MapClaims{"aud": "other", "iss": "https://idp"}), "audience")
	refusedFor(t, a, "no aud", tok(jwt.MapClaims{"iss": "https://idp"}), "audience")
	refusedFor(t, a, "other iss", tok(jwt.MapClaims{"aud": "app", "iss": "https://evil"}), "issuer")
	refusedFor(t, a, "no iss", tok(jwt.MapClaims{"aud": "app"}), "issuer")
	// Without the settings neither is checked.
	b, _ := NewJWTAuth(JWTConfig{Secret: "s3cret"})
	accepted(t, b, "no settings", tok(jwt.MapClaims{"aud": "other"}), "alice")
}

func TestJWTPublicKeyKinds(t *testing.T) {
	for _, kind := range []string{"rsa", "ec", "ed"} {
		k := newKey(t, kind, "")
		a, err := NewJWTAuth(JWTConfig{PublicKeyPEM: k.pem(t)})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		accepted(t, a, kind, k.sign(t, "alice", time.Hour, nil), "alice")
		other := newKey(t, kind, "")
		if kind != "rsa" {
			refusedFor(t, a, kind+" signed by another key", other.sign(t, "eve", time.Hour, nil), "signature")
		}
		refusedFor(t, a, kind+" expired", k.sign(t, "alice", -time.Minute, nil), "expired")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if _, err := NewJWTAuth(JWTConfig{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("a P-384 key: %v, want refused naming the curve", err)
	}
	if _, err := NewJWTAuth(JWTConfig{PublicKeyPEM: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}); err == nil {
		t.Error("a garbage PEM was accepted")
	}
}

// waitVerify runs verify and waits for its answer, at once or later.
func waitVerify(t *testing.T, a *JWTAuth, token string) (*Claims, error, bool) {
	t.Helper()
	type res struct {
		c   *Claims
		err error
	}
	ch := make(chan res, 1)
	c, err, wait := a.verify(token, func(c *Claims, err error) { ch <- res{c, err} })
	if !wait {
		return c, err, false
	}
	select {
	case r := <-ch:
		return r.c, r.err, true
	case <-time.After(10 * time.Second):
		t.Fatal("verify never answered")
		return nil, nil, true
	}
}

// TestJWKSRotation follows a key rotation: the old kid works from the
// cache, a new kid is fetched on demand, an unknown kid is refused after
// the one refresh it may cause (and at once within the minimum interval),
// and an endpoint that goes down leaves the last keys in use.
func TestJWKSRotation(t *testing.T) {
	k1, k2, k3 := newKey(t, "rsa", "k1-shared"), newKey(t, "ed", "k2"), newKey(t, "ec", "k3")
	js := newJWKSServer(t, k1)
	const gap = 300 * time.Millisecond
	a, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL, JWKSRefresh: time.Hour, JWKSMinInterval: gap})
	if err != nil {
		t.Fatal(err)
	}
	if js.fetches.Load() != 1 {
		t.Fatalf("%d fetches at start, want 1", js.fetches.Load())
	}
	accepted(t, a, "k1", k1.sign(t, "alice", time.Hour, nil), "alice")

	// Rotation: the set now holds k1 and k2; k2 is fetched on demand.
	js.set(false, k1, k2)
	time.Sleep(gap)
	c, err, wait := waitVerify(t, a, k2.sign(t, "bob", time.Hour, nil))
	if err != nil || !wait || c.Subject != "bob" {
		t.Fatalf("new kid: claims %+v, err %v, waited %v; want bob after one fetch", c, err, wait)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	accepted(t, a, "old kid after the rotation", k1.sign(t, "alice", time.Hour, nil), "alice")

	// An unknown kid within the minimum interval: refused without a fetch.
	if _, err, wait := waitVerify(t, a, k3.sign(t, "eve", time.Hour, nil)); wait || !errors.Is(err, errUnknownKID) {
		t.Fatalf("unknown kid just after a fetch: err %v, waited %v; want refused at once", err, wait)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a rate-limited unknown kid, want 2", n)
	}
	// After it: one fetch, which does not have it either, then refused.
	time.Sleep(gap)
	if _, err, wait := waitVerify(t, a, k3.sign(t, "eve", time.Hour, nil)); !wait || !errors.Is(err, errUnknownKID) {
		t.Fatalf("unknown kid: err %v, waited %v; want refused after one fetch", err, wait)
	}
	if n := js.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}

	// The endpoint goes down: the fetch fails, the keys stay.
	js.set(true)
	time.Sleep(gap)
	if _, err, wait := waitVerify(t, a, k3.sign(t, "eve", time.Hour, nil)); !wait || !errors.Is(err, errUnknownKID) {
		t.Fatalf("unknown kid, endpoint down: err %v, waited %v", err, wait)
	}
	accepted(t, a, "k2 with the endpoint down", k2.sign(t, "bob", time.Hour, nil), "bob")
	accepted(t, a, "k1 with the endpoint down", k1.sign(t, "alice", time.Hour, nil), "alice")

	// Back up with k3 only: a periodic refresh replaces the set.
	js.set(false, k3)
	b, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL, JWKSRefresh: 100 * time.Millisecond, JWKSMinInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	defer b.Close()
	accepted(t, b, "k3", k3.sign(t, "carol", time.Hour, nil), "carol")
	js.set(false, k2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Verify(k2.sign(t, "bob", time.Hour, nil)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the periodic refresh did not pick up k2")
		}
		time.Sleep(20 * time.Millisecond)
	}
	refusedFor(t, b, "k3 once the set dropped it", k3.sign(t, "carol", time.Hour, nil), "unknown_kid")
}

// TestJWKSConcurrentUnknownKid: many tokens with the new kid at once cause
// one fetch, and all are answered.
func TestJWKSConcurrentUnknownKid(t *testing.T) {
	k1, k2 := newKey(t, "ed", "a"), newKey(t, "ed", "b")
	js := newJWKSServer(t, k1)
	a, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL, JWKSMinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	js.set(false, k1, k2)
	time.Sleep(5 * time.Millisecond)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err, _ := waitVerify(t, a, k2.sign(t, "bob", time.Hour, nil)); err == nil && c.Subject == "bob" {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Fatalf("%d of 20 verified", ok.Load())
	}
	if n := js.fetches.Load(); n > 3 {
		t.Fatalf("%d fetches for 20 tokens with one new kid", n)
	}
}

func TestJWKSStartAndBadSets(t *testing.T) {
	js := newJWKSServer(t)
	js.set(true)
	if _, err := NewJWTAuth(JWTConfig{JWKSURL: js.URL}); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("endpoint down at start: %v, want an error", err)
	}
	f := func(body, want string) {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
		defer srv.Close()
		if _, err := NewJWTAuth(JWTConfig{JWKSURL: srv.URL}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("set %.60q: %v, want an error with %q", body, err, want)
		}
	}
	f(`<html>`, "not a JWKS")
	f(`{"keys":[]}`, "no usable signature key")
	f(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`, "no usable signature key")
	f(`{"keys":[{"kty":"EC","crv":"P-256","kid":"bad","x":"AAAA","y":"AAAA"}]}`, "no usable signature key")
	f(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, "no usable signature key")
	f(`{"keys":[`+strings.Repeat(" ", JWKSMaxBytes)+`]}`, "larger than")
	// A usable key next to ignored ones is enough.
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	}))
	defer ok.Close()
	if _, err := NewJWTAuth(JWTConfig{JWKSURL: ok.URL}); err != nil {
		t.Fatal(err)
	}
}
