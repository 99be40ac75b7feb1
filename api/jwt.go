package api

import (
	"crypto"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"

	"sioloop/loop"
)

// JWTAuth checks the CONNECT auth.token of every client: a valid,
// unexpired JWT signed with HS256 (a shared secret), RS256, ES256 or EdDSA
// (a public key in PEM), or with a key of a JWKS endpoint chosen by the
// token's kid. It also keeps the token's exp for the life of the socket
// (tokens.go).
//
// Only the algorithm of the configured key is accepted: a token with alg
// "none", or signed HS256 with a public key's bytes as the secret (key
// confusion), is refused whatever its signature.
type JWTAuth struct {
	key     any      // the static key, nil with a JWKS
	methods []string // the algorithms accepted
	jwks    *JWKS    // nil without JWT_JWKS_URL
	opts    []jwt.ParserOption
	log     *slog.Logger
}

// JWTConfig is where JWTAuth gets its keys and what else it checks. Set
// one of Secret, PublicKeyPEM and JWKSURL.
type JWTConfig struct {
	// Secret (JWT_SECRET) is the HS256 secret.
	Secret string
	// PublicKeyPEM (JWT_PUBLIC_KEY) is an RSA (RS256), EC P-256 (ES256) or
	// Ed25519 (EdDSA) public key in PEM.
	PublicKeyPEM []byte
	// JWKSURL (JWT_JWKS_URL) is a JWKS endpoint (jwks.go).
	JWKSURL string
	// JWKSRefresh (JWT_JWKS_REFRESH) is how often the key set is fetched
	// again. Default DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// JWKSMinInterval is the shortest time between two fetches, the
	// bound of the fetches an unknown kid causes. Default
	// DefaultJWKSMinInterval.
	JWKSMinInterval time.Duration
	// Client makes the JWKS requests. Default: a client with
	// JWKSFetchTimeout.
	Client *http.Client
	// Audience (JWT_AUDIENCE), when set, must be one of the token's aud.
	Audience string
	// Issuer (JWT_ISSUER), when set, must be the token's iss.
	Issuer string
	// Log receives the JWKS fetch failures. Default slog.Default().
	Log *slog.Logger
}

// Claims are the claims sioloop reads from a token.
type Claims struct {
	// Channels limits which channels the socket may subscribe to: names
	// or '*' globs. Absent means no limit.
	Channels []string `json:"channels,omitempty"`
	jwt.RegisteredClaims
}

// AllowsChannel reports whether the claims allow subscribing to ch.
func (c *Claims) AllowsChannel(ch string) bool {
	if c.Channels == nil {
		return true
	}
	for _, p := range c.Channels {
		if loop.GlobMatch(p, ch) {
			return true
		}
	}
	return false
}

// NewJWTAuth returns the checker cfg asks for, or nil, nil when it sets no
// key: authentication is off. With a JWKS URL it fetches the key set
// once and fails if that fails (see JWKS); call Start to keep it fresh.
func NewJWTAuth(cfg JWTConfig) (*JWTAuth, error) {
	n := 0
	for _, set := range []bool{cfg.Secret != "", len(cfg.PublicKeyPEM) > 0, cfg.JWKSURL != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, errors.New("api: set one of a JWT secret, a JWT public key and a JWKS URL, not several")
	}
	a := &JWTAuth{log: cfg.Log}
	if a.log == nil {
		a.log = slog.Default()
	}
	switch {
	case cfg.Secret != "":
		a.key, a.methods = []byte(cfg.Secret), []string{"HS256"}
	case len(cfg.PublicKeyPEM) > 0:
		key, alg, err := parsePublicKeyPEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		a.key, a.methods = key, []string{alg}
	default:
		// Each key of the set says its algorithm; keyFor checks the
		// token's against it.
		a.methods = jwksMethods
		j, err := newJWKS(cfg, a.log)
		if err != nil {
			return nil, err
		}
		a.jwks = j
	}
	a.opts = []jwt.ParserOption{jwt.WithValidMethods(a.methods)}
	if cfg.Audience != "" {
		a.opts = append(a.opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		a.opts = append(a.opts, jwt.WithIssuer(cfg.Issuer))
	}
	return a, nil
}

// parsePublicKeyPEM reads an RSA, EC P-256 or Ed25519 public key and
// returns it with the one algorithm it verifies.
func parsePublicKeyPEM(pem []byte) (crypto.PublicKey, string, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return k, "RS256", nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pem); err == nil {
		if k.Curve.Params().Name != "P-256" {
			return nil, "", errors.New("api: the JWT public key is an EC key on " + k.Curve.Params().Name + "; ES256 wants P-256")
		}
		return k, "ES256", nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pem); err == nil {
		return k, "EdDSA", nil
	}
	return nil, "", errors.New("api: the JWT public key is not an RSA, EC P-256 or Ed25519 public key in PEM")
}

// Start keeps a JWKS fresh until Close; without one it does nothing.
func (a *JWTAuth) Start() {
	if a.jwks != nil {
		a.jwks.start()
	}
}

// Close stops what Start started.
func (a *JWTAuth) Close() {
	if a.jwks != nil {
		a.jwks.close()
	}
}

// errUnknownKID is the keyfunc's error for a kid the JWKS does not hold.
var errUnknownKID = errors.New("unknown key id")

// errKeyAlg is the keyfunc's error for a token whose alg is not the one
// of the JWKS key its kid names.
var errKeyAlg = errors.New("the key of this kid is for another algorithm")

// Verify checks token and returns its claims. With a JWKS it uses the
// keys it has: a kid it does not know is an error (see verify).
func (a *JWTAuth) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, a.keyFor, a.opts...)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// keyFor is the keyfunc: the static key, or the JWKS key of the token's
// kid if it is for the token's algorithm.
func (a *JWTAuth) keyFor(t *jwt.Token) (any, error) {
	if a.jwks == nil {
		return a.key, nil
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := a.jwks.lookup(kid)
	if !ok {
		return nil, errUnknownKID
	}
	if k.alg != t.Method.Alg() {
		return nil, errKeyAlg
	}
	return k.key, nil
}

// verify is Verify that, for a kid the JWKS does not know, refreshes the
// key set (at most once per JWKSMinInterval) and tries again: it then
// returns wait true and calls later, from another goroutine, with the
// result. Otherwise it answers at once and never calls later.
func (a *JWTAuth) verify(token string, later func(*Claims, error)) (c *Claims, err error, wait bool) {
	c, err = a.Verify(token)
	if err == nil || a.jwks == nil || !errors.Is(err, errUnknownKID) {
		return c, err, false
	}
	if !a.jwks.refreshSoon(func() { later(a.Verify(token)) }) {
		// Fetched recently. That fetch may have ended between the lookup
		// above and now (tokens with a new kid arriving together): one more
		// try with the set it left, else the kid is unknown.
		c, err = a.Verify(token)
		return c, err, false
	}
	return nil, nil, true
}

// Middleware is the CONNECT middleware (Namespace.Use) for keys known
// without waiting: a missing or bad token gets CONNECT_ERROR
// {"message":"unauthorized","data":{"reason":"..."}}.
func (a *JWTAuth) Middleware(s *loop.Socket, auth []byte) error {
	token, err := authToken(auth)
	if err != nil {
		return err
	}
	c, err := a.Verify(token)
	return a.accept(s, c, err, stageConnect)
}

// MiddlewareAsync is Middleware for Namespace.UseAsync, with a JWKS: a
// token whose kid is not in the key set waits for one refresh of it.
func (a *JWTAuth) MiddlewareAsync(s *loop.Socket, auth []byte, done func(error)) {
	token, err := authToken(auth)
	if err != nil {
		done(err)
		return
	}
	c, err, wait := a.verify(token, func(c *Claims, err error) { done(a.accept(s, c, err, stageConnect)) })
	if !wait {
		done(a.accept(s, c, err, stageConnect))
	}
}

// authToken reads auth.token from a CONNECT payload.
func authToken(auth []byte) (string, error) {
	var payload struct {
		Token string `json:"token"`
	}
	if len(auth) > 0 {
		if err := json.Unmarshal(auth, &payload); err != nil {
			countRefusal(stageConnect, "malformed")
			return "", unauthorized("auth is not an object")
		}
	}
	if payload.Token == "" {
		countRefusal(stageConnect, "missing_token")
		return "", unauthorized("missing token")
	}
	return payload.Token, nil
}

// accept gives s the claims of a verified token, or counts and returns
// the refusal.
func (a *JWTAuth) accept(s *loop.Socket, c *Claims, err error, stage string) error {
	if err != nil {
		label, why := classify(err)
		countRefusal(stage, label)
		return unauthorized(why)
	}
	s.UserID = c.Subject
	s.Data = c
	return nil
}

// classify turns a verification error into a metric label and a short
// reason for clients.
func classify(err error) (label, why string) {
	switch {
	case errors.Is(err, errUnknownKID):
		return "unknown_kid", "unknown key id (kid)"
	case errors.Is(err, errKeyAlg):
		return "algorithm", "the token's alg is not the one of its key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed", "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		// The parser's check of WithValidMethods: alg none, HS256 against
		// a public key, any algorithm not configured.
		return "algorithm", "signing method not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature", "invalid signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired", "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not_yet_valid", "token not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "aud claim"):
		return "audience", "missing audience (aud)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "iss claim"):
		return "issuer", "missing issuer (iss)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "audience", "invalid audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issuer", "invalid issuer"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "algorithm", "unexpected signing method"
	}
	return "invalid", strings.TrimPrefix(err.Error(), "token is ")
}

// Where a token was refused: at CONNECT or in a refresh event.
const (
	stageConnect = "connect"
	stageRefresh = "refresh"
)

// TokenRefused is the counter family of refused tokens, labelled by stage
// ("connect", "refresh") and reason: missing_token, malformed,
// algorithm, signature, unknown_kid, expired, not_yet_valid, audience,
// issuer, invalid, and for a refresh other_subject and current_expired.
const TokenRefused = "sioloop_token_refused_total"

// countRefusal counts one refused token. Refusals are rare and their
// labels few, so the counter is looked up by name each time.
func countRefusal(stage, label string) {
	vm.GetOrCreateCounter(TokenRefused + `{stage="` + stage + `",reason="` + label + `"}`).Inc()
}

func unauthorized(why string) *loop.ConnectError {
	data, _ := json.Marshal(map[string]string{"reason": why})
	return &loop.ConnectError{Message: "unauthorized", Data: data}
}
