package interop

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenIssuer is the identity provider of the tokens scenario, served by the test: a JWKS
// at /jwks, fresh tokens at /token?sub=…&ttl=<seconds>, the milliseconds since the last JWKS
// fetch at /since-fetch, and POST /rotate, which adds a new
// Ed25519 key (a new kid) that signs from then on. The old keys stay in the set, as in a
// real rotation.
type tokenIssuer struct {
	url       string
	fetches   atomic.Int64
	lastFetch atomic.Int64 // unix milliseconds

	mu   sync.Mutex
	keys []issuerKey // the last one signs
}

type issuerKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTokenIssuer(t *testing.T) *tokenIssuer {
	ti := &tokenIssuer{}
	ti.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		ti.fetches.Add(1)
		ti.lastFetch.Store(time.Now().UnixMilli())
		ti.mu.Lock()
		defer ti.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for _, k := range ti.keys {
			pub := k.priv.Public().(ed25519.PublicKey)
			set.Keys = append(set.Keys, map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": k.kid, "use": "sig", "x": base64.RawURLEncoding.EncodeToString(pub)})
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		ttl, err := strconv.Atoi(r.URL.Query().Get("ttl"))
		if err != nil {
			http.Error(w, "want ttl in seconds", http.StatusBadRequest)
			return
		}
		ti.mu.Lock()
		k := ti.keys[len(ti.keys)-1]
		if r.URL.Query().Get("key") == "first" {
			k = ti.keys[0]
		}
		ti.mu.Unlock()
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"sub": r.URL.Query().Get("sub"), "iat": time.Now().Unix(), "exp": time.Now().Unix() + int64(ttl)})
		tok.Header["kid"] = k.kid
		s, err := tok.SignedString(k.priv)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": s, "kid": k.kid})
	})
	mux.HandleFunc("GET /since-fetch", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int64{"ms": time.Now().UnixMilli() - ti.lastFetch.Load()})
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, _ *http.Request) {
		kid := ti.rotate(t)
		_ = json.NewEncoder(w).Encode(map[string]string{"kid": kid})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ti.url = srv.URL
	return ti
}

// rotate adds a new signing key and returns its kid.
func (ti *tokenIssuer) rotate(t *testing.T) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Error(err)
		return ""
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	kid := "key-" + strconv.Itoa(len(ti.keys)+1)
	ti.keys = append(ti.keys, issuerKey{kid: kid, priv: priv})
	return kid
}
