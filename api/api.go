// Package api is everything the sioloop service offers, on top of the
// Socket.IO server of package loop:
//
//   - what clients may send (events.go, jwt.go): "message" is echoed to
//     its sender, "subscribe" and "unsubscribe" join and leave channels
//     within Limits, and with a JWT key every CONNECT must carry a valid
//     auth.token (JWTAuth). Install declares them on the namespaces.
//   - what the backend decides (hooks.go, with package api/hooks for the
//     HTTP side): who may connect and subscribe, the answers to the
//     events clients send, and batches of disconnects.
//   - what backends and operators may call: the HTTP routes of the Rust
//     service sioloop replaces, with the same JSON shapes (Handler), the
//     Prometheus exposition, and the healthcheck subcommand (Healthcheck).
//
// The package reads and acts on the server only through Service, which
// the composition root (package main) fills in; it does not import it.
//
// Routes (Handler):
//
//	GET  /                    {"status":"ok","service":"sioloop","version":…,"connectedClients":N}
//	GET  /health              {"status":"healthy",…}; 503 {"status":"draining",…} once shutdown began
//	GET  /metrics             Prometheus text; the old JSON with Accept: application/json or ?format=json
//	POST /SendWebsocketEvent  broadcast events to Socket.IO clients (below); 503 once shutdown began
//	GET  /sockets             list sockets a page at a time, or count them, cluster-wide with REDIS_URL (sockets.go)
//	POST /sockets/join        make sockets join rooms (sockets.go)
//	POST /sockets/leave       make sockets leave rooms (sockets.go)
//	POST /sockets/disconnect  disconnect sockets (sockets.go)
//
// Handler returns the routes once per listener: for the admin
// listener (ADMIN_ADDR) and for the client port, where the reactors hand
// every request that is not Socket.IO to it (ADMIN_ON_MAIN_PORT). When
// ADMIN_TOKEN is set, every route but / and /health wants
// "Authorization: Bearer <token>", on both. The client port is public, so
// without ADMIN_TOKEN the routes that list or act on sockets (/sockets…)
// are not served there: they answer 403 {"error":"/sockets is served on
// the client port only when ADMIN_TOKEN is set; use the admin listener
// (ADMIN_ADDR)"}. POST /SendWebsocketEvent and GET /metrics stay open
// there, for the clients of the old service; the service logs a WARN line
// at start saying how to close them. Refusals of both kinds are counted in
// sioloop_admin_refused_total{route,reason}. Errors are JSON,
// {"error":"…"}, with the statuses of errors.go.
//
// POST /SendWebsocketEvent takes one of three JSON bodies:
//
//	{"channel":"news","payload":P}        event "news" with data {"payload":P}
//	{"channels":["a","b"],"payload":P}    one such event per channel (at most MaxChannels);
//	                                       "payload":[P1,P2] pairs the i-th payload with the i-th channel
//	{"event":"broadcast","data":D}        event "broadcast" with data D
//
// with optional "namespace" (default "/"), "rooms" and "except" (a name or
// a list; a socket id is a room), "to" (a socket id), "user" (a user id or
// a list: every socket whose JWT "sub" is one of them, on every server),
// "volatile" and "local" (with REDIS_URL: this server only, not the whole
// cluster). "to" and "user" add to "rooms": the recipients are the sockets
// in any of them (a union, as Node's io.to(a).to(b)) and in none of
// "except". A user is the room "user:<id>" (loop.UserRoom), which every
// socket of the user is in while it is connected. P and
// D reach the clients as sent, key order included (only insignificant
// whitespace is dropped). The answer is {"status":"success","events_sent":N,
// "recipients":M,"duration":"0.134ms"}, M being the number of sockets the
// target matched (not multiplied by the number of events).
//
// The Content-Type must be application/json (parameters allowed, charset
// UTF-8) or application/*+json; a missing one is refused with 415 like any
// other. curl -d sends application/x-www-form-urlencoded, so send
// -H 'Content-Type: application/json'. The reason is CSRF: a browser
// POSTs cross-origin without a CORS preflight only with a missing, form or
// text/plain type, so no web page can make a visitor's browser broadcast
// through a server without ADMIN_TOKEN. Bodies over MaxBodyBytes get 413.
//
// "Connected clients" (connectedClients, connections, connected_clients)
// are the open Engine.IO sessions, as Node's io.engine.clientsCount counts
// them: one per Socket.IO client, whatever the number of namespaces it
// joined, polling or WebSocket.
//
// This is the cold path: net/http, encoding/json and locks are fine here.
// Loop state is read only through calls that are safe from any goroutine.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/metrics"
)

// Version is the version reported by GET /. Set it at build time with
// -ldflags "-X sioloop/api.Version=1.2.3".
var Version = "dev"

// MaxBodyBytes is the largest POST body the admin routes read (1 MiB);
// a larger one is refused with 413.
const MaxBodyBytes = 1 << 20

// Route names, as they appear in the route label of
// sioloop_admin_request_duration_seconds.
const (
	routeRoot    = "/"
	routeHealth  = "/health"
	routeMetrics = "/metrics"
	routeSend    = "/SendWebsocketEvent"
	routeOther   = "other" // every path that is no route (404)
)

// Reasons of sioloop_admin_refused_total.
const (
	refusedToken      = "token"       // 401: a protected route without ADMIN_TOKEN
	refusedClientPort = "client_port" // 403: a socket management route on the client port, no ADMIN_TOKEN set
)

// handler serves the admin routes of one service on one listener. Handler
// makes two, one per listener, that share everything but clientPort.
type handler struct {
	s       Service
	metrics *metrics.Set
	start   time.Time
	// tokenSum is the SHA-256 of ADMIN_TOKEN, or nil when it is unset.
	tokenSum []byte
	routes   map[string]*route
	other    *vm.PrometheusHistogram
	// lim are s.Limits, resolved: MAX_NAME_BYTES bounds user ids.
	lim Limits
	// clientPort is set on the handler the reactors hand the client
	// port's non-Socket.IO requests to; it is unset on the admin listener.
	clientPort bool
}

// route is one admin route.
type route struct {
	method string // GET routes also answer HEAD
	public bool   // served without the admin token
	// adminPort routes act on other clients' sockets: on the client port
	// they are served only when ADMIN_TOKEN is set, since the public
	// reaches that port.
	adminPort bool
	serve     func(h *handler, w http.ResponseWriter, r *http.Request, start time.Time) error
	dur       *vm.PrometheusHistogram
	// refusedToken and refusedClientPort count the requests refused with
	// 401 and with 403 (sioloop_admin_refused_total).
	refusedToken, refusedClientPort *vm.Counter
}

// Service is what the routes read and act on. Every call they make on it
// is safe from any goroutine (package loop marks which are).
type Service struct {
	Server *loop.Server
	IO     *loop.SocketIO
	// Cluster is the Redis adapter that joins this server to the others
	// of a cluster, or nil when REDIS_URL is not set.
	Cluster *cluster.Adapter
	// AdminToken (ADMIN_TOKEN) is the bearer token every route but / and
	// /health wants; "" for none.
	AdminToken string
	// RedisReadiness (REDIS_READINESS) makes GET /health answer 503 while
	// Redis is unreachable.
	RedisReadiness bool
	// Limits are the ones Install got; the routes take their NameBytes
	// (MAX_NAME_BYTES) as the longest user id of a "user" target. Zero
	// fields mean their defaults.
	Limits Limits
}

// Handlers are the admin routes as each listener serves them: the client
// port is public, so some routes are served there only behind
// ADMIN_TOKEN.
type Handlers struct {
	// Admin is served on the admin listener (ADMIN_ADDR).
	Admin http.Handler
	// ClientPort is served on the client port (PORT) with
	// ADMIN_ON_MAIN_PORT: the reactors hand it every request that is not
	// Socket.IO.
	ClientPort http.Handler
}

// Handler returns the admin routes of s, as the admin listener serves them
// and as the client port does. It is meant to be called once per service:
// the handlers own the service's metrics.Set. The uptime they report
// counts from this call.
func Handler(s Service) Handlers {
	h := &handler{
		s:       s,
		metrics: metrics.New(s.Server, s.IO),
		start:   time.Now(),
		lim:     s.Limits.resolve(),
	}
	if s.AdminToken != "" {
		sum := sha256.Sum256([]byte(s.AdminToken))
		h.tokenSum = sum[:]
	}
	h.routes = map[string]*route{
		routeRoot:    {method: http.MethodGet, public: true, serve: (*handler).serveRoot},
		routeHealth:  {method: http.MethodGet, public: true, serve: (*handler).serveHealth},
		routeMetrics: {method: http.MethodGet, serve: (*handler).serveMetrics},
		routeSend:    {method: http.MethodPost, serve: (*handler).serveSend},
		// sockets.go: socket management, cluster-wide with REDIS_URL.
		routeSockets:    {method: http.MethodGet, adminPort: true, serve: (*handler).serveSockets},
		routeJoin:       {method: http.MethodPost, adminPort: true, serve: (*handler).serveJoin},
		routeLeave:      {method: http.MethodPost, adminPort: true, serve: (*handler).serveLeave},
		routeDisconnect: {method: http.MethodPost, adminPort: true, serve: (*handler).serveDisconnect},
	}
	if s.Cluster != nil {
		h.metrics.AddCluster(s.Cluster)
	}
	for name, rt := range h.routes {
		rt.dur = h.metrics.AdminRoute(name)
		if !rt.public && h.tokenSum != nil {
			rt.refusedToken = h.metrics.AdminRefusal(name, refusedToken)
		}
		if rt.adminPort && h.tokenSum == nil {
			rt.refusedClientPort = h.metrics.AdminRefusal(name, refusedClientPort)
		}
	}
	h.other = h.metrics.AdminRoute(routeOther)
	cp := *h
	cp.clientPort = true
	return Handlers{Admin: h, ClientPort: &cp}
}

// ServeHTTP routes r: listener, then token, then method, then the route
// itself. A protected route answers 401 (or 403) before 405, so that a
// caller without the token learns nothing about it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt := h.routes[r.URL.Path]
	if rt == nil {
		writeError(w, ErrNotFound)
		h.other.UpdateDuration(start)
		return
	}
	defer rt.dur.UpdateDuration(start)
	if h.clientPort && rt.adminPort && h.tokenSum == nil {
		rt.refusedClientPort.Inc()
		writeError(w, errorf(http.StatusForbidden,
			"%s is served on the client port only when ADMIN_TOKEN is set; use the admin listener (ADMIN_ADDR)", r.URL.Path))
		return
	}
	if !rt.public && !h.authorized(r) {
		rt.refusedToken.Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="sioloop"`)
		writeError(w, ErrUnauthorized)
		return
	}
	if r.Method != rt.method && (rt.method != http.MethodGet || r.Method != http.MethodHead) {
		allow := rt.method
		if allow == http.MethodGet {
			allow = "GET, HEAD"
		}
		w.Header().Set("Allow", allow)
		writeError(w, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s: want %s", r.Method, r.URL.Path, allow))
		return
	}
	if err := rt.serve(h, w, r, start); err != nil {
		writeError(w, err)
	}
}

// authorized reports whether r carries the admin token, or none is set.
// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; RFC 9110 §11.1: the
// scheme is case-insensitive. Both sides are hashed before the
// constant-time compare, so that neither the token's content nor its
// length leaks through timing.
func (h *handler) authorized(r *http.Request) bool {
	if h.tokenSum == nil {
		return true
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimLeft(token, " ")))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum) == 1
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: api: cannot encode response: " + err.Error())
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes err as {"error": "…"} with its status; an error that
// is no *Error is a 500.
func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
	}
	writeJSON(w, e.Status, struct {
		Error string `json:"error"`
	}{e.Msg})
}
