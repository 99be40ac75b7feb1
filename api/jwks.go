package api

// JSON Web Key Sets (RFC 7517) as identity providers publish them, so
// that signing keys rotate without a restart.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// Defaults of the JWKS settings.
const (
	// DefaultJWKSRefresh is how often the key set is fetched again
	// (JWT_JWKS_REFRESH).
	DefaultJWKSRefresh = 5 * time.Minute
	// DefaultJWKSMinInterval bounds the fetches tokens with unknown kids
	// cause: at most one per interval, whatever clients send.
	DefaultJWKSMinInterval = 10 * time.Second
	// JWKSFetchTimeout bounds one fetch, connection to last byte.
	JWKSFetchTimeout = 5 * time.Second
	// JWKSMaxBytes bounds the body of a key set: real ones hold a few keys
	// in a few kilobytes.
	JWKSMaxBytes = 1 << 20
)

// jwksMethods are the algorithms a JWKS key may verify.
var jwksMethods = []string{"RS256", "ES256", "EdDSA"}

// JWKS fetch outcomes and the size of the key set in use, in /metrics.
var (
	jwksFetchOK    = vm.NewCounter(`sioloop_jwks_fetch_total{result="ok"}`)
	jwksFetchError = vm.NewCounter(`sioloop_jwks_fetch_total{result="error"}`)
	jwksKeyCount   atomic.Int64
	_              = vm.NewGauge(`sioloop_jwks_keys`, func() float64 { return float64(jwksKeyCount.Load()) })
)

// JWKS is the key set of a JWKS endpoint: fetched at start, again every
// refresh interval, and at once when a token names a kid it does not hold
// (at most once per minimum interval). A failed fetch is logged and
// counted, and the last good set stays in use. Any goroutine.
type JWKS struct {
	url    string
	client *http.Client
	every  time.Duration
	minGap time.Duration
	log    *slog.Logger

	mu       sync.Mutex
	keys     map[string]jwk // by kid ("" for a key without one)
	lastTry  time.Time      // when the last fetch began
	fetching bool
	waiters  []func() // called when the fetch in flight ends

	stop chan struct{}
	done chan struct{}
}

// jwk is one usable key: the public key and the algorithm it verifies.
type jwk struct {
	key any
	alg string
}

// newJWKS fetches the key set once; it fails when that fetch fails, so
// that a server never starts without keys.
func newJWKS(cfg JWTConfig, log *slog.Logger) (*JWKS, error) {
	if !strings.HasPrefix(cfg.JWKSURL, "https://") && !strings.HasPrefix(cfg.JWKSURL, "http://") {
		return nil, errors.New("api: the JWKS URL must be http:// or https://")
	}
	j := &JWKS{url: cfg.JWKSURL, client: cfg.Client, every: cfg.JWKSRefresh, minGap: cfg.JWKSMinInterval, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	if j.client == nil {
		j.client = &http.Client{Timeout: JWKSFetchTimeout}
	}
	if j.every <= 0 {
		j.every = DefaultJWKSRefresh
	}
	if j.minGap <= 0 {
		j.minGap = DefaultJWKSMinInterval
	}
	j.lastTry = time.Now()
	keys, err := j.fetch()
	if err != nil {
		jwksFetchError.Inc()
		return nil, fmt.Errorf("api: no key set from the JWKS URL: %w", err)
	}
	jwksFetchOK.Inc()
	j.keys = keys
	jwksKeyCount.Store(int64(len(keys)))
	return j, nil
}

// lookup returns the key of kid.
func (j *JWKS) lookup(kid string) (jwk, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k, ok := j.keys[kid]
	return k, ok
}

// refreshSoon makes then run once a fetch of the key set ends: the one in
// flight, or one it starts. It returns false, and starts nothing, when
// the last fetch began less than the minimum interval ago.
func (j *JWKS) refreshSoon(then func()) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fetching {
		j.waiters = append(j.waiters, then)
		return true
	}
	if time.Since(j.lastTry) < j.minGap {
		return false
	}
	j.waiters = append(j.waiters, then)
	j.begin()
	go j.refresh()
	return true
}

// begin marks a fetch in flight. j.mu held.
func (j *JWKS) begin() {
	j.fetching = true
	j.lastTry = time.Now()
}

// refresh fetches the key set, keeps it if it is good, and runs the
// waiters. The caller called begin.
func (j *JWKS) refresh() {
	keys, err := j.fetch()
	j.mu.Lock()
	if err == nil {
		j.keys = keys
		jwksKeyCount.Store(int64(len(keys)))
	}
	waiters := j.waiters
	j.waiters, j.fetching = nil, false
	j.mu.Unlock()
	if err != nil {
		jwksFetchError.Inc()
		j.log.Error("JWKS fetch failed; the last key set stays in use", "url", j.url, "err", err)
	} else {
		jwksFetchOK.Inc()
	}
	for _, w := range waiters {
		w()
	}
}

// start refreshes the key set every interval until close, in one
// goroutine for the process.
func (j *JWKS) start() {
	go func() {
		defer close(j.done)
		t := time.NewTicker(j.every)
		defer t.Stop()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
			}
			j.mu.Lock()
			busy := j.fetching
			if !busy {
				j.begin()
			}
			j.mu.Unlock()
			if !busy {
				j.refresh()
			}
		}
	}()
}

// close stops the refreshes of start, and waits for a fetch in progress.
func (j *JWKS) close() {
	select {
	case <-j.stop:
		return
	default:
	}
	close(j.stop)
	<-j.done
}

// fetch gets and parses the key set.
func (j *JWKS) fetch() (map[string]jwk, error) {
	ctx, cancel := context.WithTimeout(context.Background(), JWKSFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", j.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, JWKSMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", j.url, err)
	}
	if len(body) > JWKSMaxBytes {
		return nil, fmt.Errorf("GET %s: the key set is larger than %d bytes", j.url, JWKSMaxBytes)
	}
	keys, skipped, err := parseJWKS(body)
	for _, s := range skipped {
		j.log.Warn("JWKS key ignored", "url", j.url, "why", s)
	}
	return keys, err
}

// parseJWKS reads the usable signature keys of a key set, and says why it
// ignored the others. A set without a usable key is an error.
func parseJWKS(body []byte) (map[string]jwk, []string, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS: %w", err)
	}
	keys := make(map[string]jwk, len(set.Keys))
	var skipped []string
	for _, raw := range set.Keys {
		var k rawJWK
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, "not a JSON object")
			continue
		}
		key, err := k.parse()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("kid %q: %v", k.Kid, err))
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			skipped = append(skipped, fmt.Sprintf("kid %q: a second key with this kid", k.Kid))
			continue
		}
		keys[k.Kid] = key
	}
	if len(keys) == 0 {
		return nil, skipped, errors.New("the key set has no usable signature key (RSA, EC P-256 or Ed25519)")
	}
	return keys, skipped, nil
}

// rawJWK is one key of a set (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).
type rawJWK struct {
	Kty, Kid, Use, Alg, Crv string
	N, E, X, Y              string
}

// parse turns a JWK into a verification key. Symmetric keys ("oct") are
// refused: a key set is public, and an HMAC key there would let anyone
// sign.
func (k *rawJWK) parse() (jwk, error) {
	if k.Use != "" && k.Use != "sig" {
		return jwk{}, fmt.Errorf("use %q is not sig", k.Use)
	}
	var out jwk
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return jwk{}, errors.New("bad RSA n or e")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return jwk{}, fmt.Errorf("RSA key of %d bits or exponent %d: want 2048 bits or more and an odd exponent", pub.N.BitLen(), pub.E)
		}
		out = jwk{key: pub, alg: "RS256"}
	case "EC":
		if k.Crv != "P-256" {
			return jwk{}, fmt.Errorf("EC curve %q: want P-256 (ES256)", k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return jwk{}, errors.New("bad EC x or y")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return jwk{}, fmt.Errorf("EC point: %w", err)
		}
		out = jwk{key: pub, alg: "ES256"}
	case "OKP":
		x, err := b64(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return jwk{}, fmt.Errorf("OKP key on %q: want an Ed25519 x of 32 bytes", k.Crv)
		}
		out = jwk{key: ed25519.PublicKey(x), alg: "EdDSA"}
	default:
		return jwk{}, fmt.Errorf("kty %q: want RSA, EC or OKP", k.Kty)
	}
	if k.Alg != "" && k.Alg != out.alg {
		return jwk{}, fmt.Errorf("alg %q: this key verifies %s only", k.Alg, out.alg)
	}
	return out, nil
}

// b64 decodes base64url with or without padding (RFC 7515 §2 wants none).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
