package api

import (
	"crypto"
	"encoding/json"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"sioloop/loop"
)

// JWTAuth checks the CONNECT auth.token of every client: a valid,
// unexpired JWT signed with HS256 (a shared secret) or RS256/ES256 (a
// public key).
type JWTAuth struct {
	key     any
	methods []string
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

// NewJWTAuth returns an HS256 checker when secret is set, otherwise an
// RS256/ES256 checker for the PEM public key. It returns nil, nil when
// neither is given: authentication is off.
func NewJWTAuth(secret string, publicKeyPEM []byte) (*JWTAuth, error) {
	switch {
	case secret != "" && len(publicKeyPEM) > 0:
		return nil, errors.New("api: set either a JWT secret or a JWT public key, not both")
	case secret != "":
		return &JWTAuth{key: []byte(secret), methods: []string{"HS256"}}, nil
	case len(publicKeyPEM) > 0:
		if k, err := jwt.ParseRSAPublicKeyFromPEM(publicKeyPEM); err == nil {
			return &JWTAuth{key: crypto.PublicKey(k), methods: []string{"RS256"}}, nil
		}
		if k, err := jwt.ParseECPublicKeyFromPEM(publicKeyPEM); err == nil {
			return &JWTAuth{key: crypto.PublicKey(k), methods: []string{"ES256"}}, nil
		}
		return nil, errors.New("api: JWT public key is neither an RSA nor an EC public key in PEM")
	}
	return nil, nil
}

// Verify checks token and returns its claims.
func (a *JWTAuth) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods(a.methods))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Middleware is the CONNECT middleware: a missing or bad token gets
// CONNECT_ERROR {"message":"unauthorized","data":{"reason":"..."}}.
func (a *JWTAuth) Middleware(s *loop.Socket, auth []byte) error {
	var payload struct {
		Token string `json:"token"`
	}
	if len(auth) > 0 {
		if err := json.Unmarshal(auth, &payload); err != nil {
			return unauthorized("auth is not an object")
		}
	}
	if payload.Token == "" {
		return unauthorized("missing token")
	}
	c, err := a.Verify(payload.Token)
	if err != nil {
		return unauthorized(reason(err))
	}
	s.UserID = c.Subject
	s.Data = c
	return nil
}

// reason turns a jwt error into a short reason for clients.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unexpected signing method"
	}
	return strings.TrimPrefix(err.Error(), "token is ")
}

func unauthorized(why string) *loop.ConnectError {
	data, _ := json.Marshal(map[string]string{"reason": why})
	return &loop.ConnectError{Message: "unauthorized", Data: data}
}
