package api

// A token's exp holds for the life of the socket: the socket is told and
// disconnected when it passes, unless the client sent a fresher token
// with the same sub first.
//
//	client → server  refresh {"token":"<JWT>"}      (socket.emitWithAck)
//	server → client  ack {"exp":<unix seconds>}     the new token is in force; null: it has no exp
//	                 ack {"error":"<why>"}          refused; the current token stays until its exp
//	server → client  token_expired {"reason":"token expired"}, then DISCONNECT
//	                 (socket.io-client: "disconnect" with reason "io server disconnect")

import (
	"encoding/json"
	"strconv"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// Event names of token expiry and refresh.
const (
	// RefreshEvent is the event a client sends with a fresh token.
	RefreshEvent = "refresh"
	// ExpiredEvent is the event a socket gets just before it is
	// disconnected because its token expired.
	ExpiredEvent = "token_expired"
	// ExpiredReason is the server-side disconnect reason (OnDisconnect)
	// of a socket whose token expired.
	ExpiredReason = "token expired"
)

var (
	tokensExpired   = vm.NewCounter(`sioloop_token_expired_total`)
	tokensRefreshed = vm.NewCounter(`sioloop_token_refreshed_total`)
)

// expiredArgs is the argument of ExpiredEvent.
var expiredArgs = []byte(`{"reason":"` + ExpiredReason + `"}`)

// watchExpiry disconnects s when the token of claims c expires, unless a
// refresh replaced the socket's claims by then: the claims pointer is the generation,
// so the timer of a superseded token does nothing when it fires. It uses
// the reactor's timer heap (Socket.After): no goroutine or Go timer per
// socket. A token without exp never expires. Reactor only.
func watchExpiry(s *loop.Socket, c *Claims) {
	if c == nil || c.ExpiresAt == nil {
		return
	}
	s.After(time.Until(c.ExpiresAt.Time), func(s *loop.Socket) {
		if claimsOf(s) != c {
			return // refreshed meanwhile
		}
		if time.Now().Before(c.ExpiresAt.Time) {
			// The reactor's clock is coarse (it may fire a tick early):
			// exp holds until its second has passed.
			watchExpiry(s, c)
			return
		}
		tokensExpired.Inc()
		s.Emit(ExpiredEvent, expiredArgs, nil)
		// With connection state recovery on, the emit may be queued behind
		// the reactor's pending jobs; the disconnect queues behind it so
		// the client gets the event first.
		s.Do(func(s *loop.Socket) { s.DisconnectFor(ExpiredReason, false) })
	})
}

// onConnect starts the expiry watch of a socket that joined (OnConnect).
// After a connection state recovery the middleware ran again with the new
// CONNECT's token, so the watch follows that token.
func onConnect(s *loop.Socket) {
	watchExpiry(s, claimsOf(s))
}

// onRefresh handles RefreshEvent: the first argument is {"token":"…"}.
// The new token must verify (keys, alg, aud, iss, exp) and carry the
// socket's sub; the current token must not have expired yet. With a JWKS
// a new kid may need a fetch: the ack then comes later, from the reactor.
func (a *JWTAuth) onRefresh(s *loop.Socket, ev *loop.Event) {
	// The handler's Event dies with the call; a copy without its slices
	// still acks (loop.Socket.Ack).
	ack := *ev
	ack.Name, ack.Args, ack.Attachments = nil, nil, nil
	token := refreshToken(ev.Args)
	if token == "" {
		countRefusal(stageRefresh, "missing_token")
		ackError(s, &ack, "refresh wants {token}")
		return
	}
	if cur := claimsOf(s); cur != nil && cur.ExpiresAt != nil && !time.Now().Before(cur.ExpiresAt.Time) {
		countRefusal(stageRefresh, "current_expired")
		ackError(s, &ack, "the current token has expired: connect again with a new one")
		return
	}
	c, err, wait := a.verify(token, func(c *Claims, err error) {
		s.Do(func(s *loop.Socket) { finishRefresh(s, &ack, c, err) })
	})
	if !wait {
		finishRefresh(s, &ack, c, err)
	}
}

// finishRefresh puts verified claims in force, or acks why not. Reactor
// only.
func finishRefresh(s *loop.Socket, ack *loop.Event, c *Claims, err error) {
	if err != nil {
		label, why := classify(err)
		countRefusal(stageRefresh, label)
		ackError(s, ack, why)
		return
	}
	if c.Subject != s.UserID {
		countRefusal(stageRefresh, "other_subject")
		ackError(s, ack, "the new token is for another subject (sub)")
		return
	}
	setClaims(s, c)
	watchExpiry(s, c)
	tokensRefreshed.Inc()
	exp := []byte(`{"exp":null}`)
	if c.ExpiresAt != nil {
		exp = strconv.AppendInt([]byte(`{"exp":`), c.ExpiresAt.Unix(), 10)
		exp = append(exp, '}')
	}
	s.Ack(ack, exp, nil)
}

// onRefreshOff answers RefreshEvent on a server without JWT auth.
func onRefreshOff(s *loop.Socket, ev *loop.Event) {
	ackError(s, ev, "token refresh needs JWT auth (JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL)")
}

// refreshToken reads the token of {"token":"…"}, the first argument.
func refreshToken(args []byte) string {
	i := skipSpace(args, 0)
	end, _ := scanValue(args, i)
	if end < 0 || args[i] != '{' {
		return ""
	}
	var p struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(args[i:end], &p) != nil {
		return ""
	}
	return p.Token
}

// ackError acks {"error":msg} when the client asked for an ack.
func ackError(s *loop.Socket, ev *loop.Event, msg string) {
	if !ev.HasAck {
		return
	}
	b := socketio.AppendJSONStringOf(append([]byte(nil), `{"error":`...), msg)
	s.Ack(ev, append(b, '}'), nil)
}
