// Package adminui is the server side of the Socket.IO Admin UI
// (@socket.io/admin-ui 0.5, https://admin.socket.io): the namespace the
// page connects to, with the protocol of the package's instrument():
//
//   - auth: the CONNECT payload {username, password} is checked against
//     the configured username and bcrypt hash (a wrong one gets
//     CONNECT_ERROR "invalid credentials"), or {sessionId} against the
//     sessions handed out by earlier logins ("session" event);
//   - on connect: config {supportedFeatures}, and in development mode
//     all_sockets [SerializedSocket];
//   - every 2 s, while a page watches: server_stats {serverId, hostname,
//     pid, uptime, clientsCount, pollingClientsCount, aggregatedEvents,
//     namespaces};
//   - development mode: socket_connected, socket_updated,
//     socket_disconnected, room_joined, room_left, event_received,
//     event_sent, with Node's arguments;
//   - the page's operations: emit, join, leave and _disconnect, applied
//     to the whole cluster when there is one.
//
// Nothing of it runs while no page watches: the loop.Observer is removed,
// so the reactors pay one atomic load per event and no allocation. While
// one watches, the live events of development mode are bounded by a
// token bucket (Config.LiveEventsPerSecond): past it they are dropped and
// counted (sioloop_adminui_events_dropped_total), and when a dropped one
// changed the sockets (a connect, a disconnect, a join, a leave) the page
// gets a fresh all_sockets at the next stats tick, at most once every
// ResyncEvery, so its list heals.
package adminui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"golang.org/x/crypto/bcrypt"

	"sioloop/loop"
	"sioloop/loop/cluster"
)

// Defaults and fixed periods.
const (
	DefaultNamespace           = "/admin"
	DefaultLiveEventsPerSecond = 200
	// StatsPeriod is how often server_stats goes out (Node's 2 s).
	StatsPeriod = 2 * time.Second
	// ResyncEvery bounds how often a page whose live events were dropped
	// gets all_sockets again.
	ResyncEvery = 10 * time.Second
	// MaxListedSockets bounds all_sockets: past it the list is cut.
	MaxListedSockets = 10000
	// sessionTTL is how long a login's session id is valid (Node's
	// RedisStore sessionDuration); maxSessions bounds the store.
	sessionTTL  = 24 * time.Hour
	maxSessions = 10000
	// watchingEvent is the server-side event a server with a page sends
	// the others every StatsPeriod, so that they send their stats and live
	// events too; remoteWatchFor is how long one keeps them on.
	watchingEvent  = "sioloop:adminui:watching"
	remoteWatchFor = 3 * StatsPeriod
	tick           = 100 * time.Millisecond
)

// The features of Node's instrument() (typed-events.ts Feature).
var (
	featuresProd = []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"}
	featuresDev  = append(append([]string(nil), featuresProd...), "ALL_EVENTS")
)

// Metrics of the admin UI, in VictoriaMetrics' default set (written with
// the rest of /metrics).
var (
	pages         atomic.Int64
	pagesGauge    = vm.NewGauge(`sioloop_adminui_pages`, func() float64 { return float64(pages.Load()) })
	eventsSent    = vm.NewCounter(`sioloop_adminui_events_total`)
	eventsDropped = vm.NewCounter(`sioloop_adminui_events_dropped_total`)
	loginsOK      = vm.NewCounter(`sioloop_adminui_logins_total{result="ok"}`)
	loginsRefused = vm.NewCounter(`sioloop_adminui_logins_total{result="refused"}`)
)

// Config configures the admin namespace. The zero value of a field means
// its default.
type Config struct {
	// Namespace is the admin namespace (ADMIN_UI_NAMESPACE). Default
	// "/admin".
	Namespace string
	// Username and PasswordHash (a bcrypt hash, as the Node package's
	// auth option) are the credentials the page must send
	// (ADMIN_UI_USERNAME, ADMIN_UI_PASSWORD_HASH).
	Username     string
	PasswordHash string
	// NoAuth admits any page (ADMIN_UI_NO_AUTH); required when there are
	// no credentials.
	NoAuth bool
	// Development turns on the sockets, rooms and live events
	// (ADMIN_UI_MODE=development); default production: server stats only.
	Development bool
	// ServerID names this server in the page. Default the hostname, with
	// "#<cluster uid>" appended in a cluster.
	ServerID string
	// Path is the Socket.IO path, shown in the sockets' handshake url.
	// Default "/socket.io/".
	Path string
	// LiveEventsPerSecond bounds the live events of development mode.
	// Default DefaultLiveEventsPerSecond; the burst is twice it.
	LiveEventsPerSecond int
	Log                 *slog.Logger
}

// UI is the admin namespace of one SocketIO.
type UI struct {
	cfg      Config
	io       *loop.SocketIO
	srv      *loop.Server
	cl       *cluster.Adapter
	hash     []byte
	hostname string
	serverID string
	started  time.Time

	local       atomic.Int64 // admin sockets on this server
	remoteUntil atomic.Int64 // Unix ns until which a page elsewhere watches
	installed   bool         // the observer is installed; ticker goroutine only
	obs         *loop.Observer

	sessions sessionStore
	sem      chan struct{} // bounds the bcrypt checks running at once

	tokens atomic.Int64
	resync atomic.Bool

	mu    sync.Mutex
	queue []liveEvent
	agg   aggregator

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// liveEvent is one event for the pages: its name and JSON arguments.
type liveEvent struct {
	name string
	args []byte
}

// New declares the admin namespace on io and its handlers. cl, when not
// nil, is the cluster: the page's operations and all_sockets then reach
// every server, and the servers tell each other when a page watches. Call
// it before Serve; Start starts the stats.
func New(io *loop.SocketIO, cl *cluster.Adapter, cfg Config) (*UI, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Path == "" {
		cfg.Path = "/socket.io/"
	}
	if cfg.LiveEventsPerSecond <= 0 {
		cfg.LiveEventsPerSecond = DefaultLiveEventsPerSecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	u := &UI{cfg: cfg, io: io, srv: io.Server(), cl: cl, started: time.Now(),
		sem: make(chan struct{}, 2), stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.NoAuth {
		cfg.Log.Warn("the Admin UI admits any page without credentials (ADMIN_UI_NO_AUTH=true)", "namespace", cfg.Namespace)
	} else {
		if cfg.Username == "" || cfg.PasswordHash == "" {
			return nil, ErrNoAuth
		}
		if _, err := bcrypt.Cost([]byte(cfg.PasswordHash)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotBcrypt, err)
		}
		u.hash = []byte(cfg.PasswordHash)
	}
	u.hostname, _ = os.Hostname()
	u.serverID = cfg.ServerID
	if u.serverID == "" {
		u.serverID = u.hostname
		if cl != nil {
			u.serverID += "#" + cl.UID()
		}
	}
	u.tokens.Store(int64(2 * cfg.LiveEventsPerSecond))
	u.obs = u.observer()
	ns := io.Of(cfg.Namespace)
	if !cfg.NoAuth {
		ns.UseAsync = u.authenticate
	}
	ns.OnConnect = u.onConnect
	ns.OnDisconnect = u.onDisconnect
	ns.On("emit", u.onEmit)
	ns.On("join", u.onJoin)
	ns.On("leave", u.onLeave)
	ns.On("_disconnect", u.onDisconnectOp)
	if cl != nil {
		prev := cl.OnServerSideEmit
		cl.OnServerSideEmit = func(nsp, event string, args []byte, atts [][]byte, ack func([]byte)) {
			if nsp == cfg.Namespace && event == watchingEvent {
				u.remoteUntil.Store(time.Now().Add(remoteWatchFor).UnixNano())
				return
			}
			if prev != nil {
				prev(nsp, event, args, atts, ack)
			}
		}
	}
	return u, nil
}

// Namespace returns the admin namespace's name.
func (u *UI) Namespace() string { return u.cfg.Namespace }

// Start starts the goroutine that sends the stats and the live events.
func (u *UI) Start() { go u.run() }

// Close stops it and removes the observer. It waits up to a second for
// the goroutine, which may be waiting for the cluster.
func (u *UI) Close() {
	u.stopOnce.Do(func() {
		close(u.stop)
		select {
		case <-u.done:
		case <-time.After(time.Second):
		}
		u.io.Observe(nil)
	})
}

// watching reports whether a page here or on another server watches.
func (u *UI) watching(now time.Time) bool {
	return u.local.Load() > 0 || now.UnixNano() < u.remoteUntil.Load()
}

// run is the UI's goroutine: every tick it refills the live-event bucket
// and sends what is queued; every second it samples the counters for
// aggregatedEvents; every StatsPeriod it sends server_stats, tells the
// other servers a page watches, and resends all_sockets when live events
// were dropped.
func (u *UI) run() {
	defer close(u.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastSample, lastStats, lastResync time.Time
	for {
		select {
		case <-u.stop:
			return
		case now := <-t.C:
			w := u.watching(now)
			if w != u.installed {
				u.installed = w
				if w {
					u.agg.reset(u.srv.Snapshot())
					u.io.Observe(u.obs)
				} else {
					u.io.Observe(nil)
				}
			}
			u.refill()
			u.flush()
			if !w {
				continue
			}
			if now.Sub(lastSample) >= time.Second {
				lastSample = now
				u.agg.sample(now, u.srv.Snapshot())
			}
			if now.Sub(lastStats) >= StatsPeriod {
				lastStats = now
				u.emitStats(now)
				if u.cl != nil && u.local.Load() > 0 {
					_ = u.cl.ServerSideEmit(u.cfg.Namespace, watchingEvent, nil)
				}
				if u.cfg.Development && u.resync.Load() && now.Sub(lastResync) >= ResyncEvery {
					lastResync = now
					u.resync.Store(false)
					u.broadcast("all_sockets", u.allSockets())
				}
			}
		}
	}
}

// refill adds a tick's worth of tokens to the live-event bucket.
func (u *UI) refill() {
	burst := int64(2 * u.cfg.LiveEventsPerSecond)
	n := u.tokens.Load() + int64(u.cfg.LiveEventsPerSecond)*int64(tick)/int64(time.Second)
	u.tokens.Store(max(0, min(n, burst)))
}

// take takes one token: false when the bucket is empty. The load first
// keeps an empty bucket from being written by every recipient of a busy
// broadcast.
func (u *UI) take() bool {
	if u.tokens.Load() <= 0 {
		return false
	}
	return u.tokens.Add(-1) >= 0
}

// push queues a live event, or drops it when the bucket is empty; a
// dropped event that changed the sockets asks for a resync. Reactors.
func (u *UI) push(name string, changesSockets bool, build func(dst []byte) []byte) {
	if !u.take() {
		eventsDropped.Inc()
		if changesSockets {
			u.resync.Store(true)
		}
		return
	}
	args := build(make([]byte, 0, 128))
	u.mu.Lock()
	u.queue = append(u.queue, liveEvent{name, args})
	u.mu.Unlock()
}

// flush sends the queued live events to the pages.
func (u *UI) flush() {
	u.mu.Lock()
	q := u.queue
	u.queue = nil
	u.mu.Unlock()
	for _, e := range q {
		u.broadcast(e.name, e.args)
	}
}

// broadcast sends event to every page of the cluster (Node's
// adminNamespace.emit).
func (u *UI) broadcast(event string, args []byte) {
	if _, err := u.io.Broadcast(&loop.Broadcast{Namespace: u.cfg.Namespace, Event: event, Args: args}); err == nil {
		eventsSent.Inc()
	}
}

// emitStats sends server_stats.
func (u *UI) emitStats(now time.Time) {
	snap := u.srv.Snapshot()
	st := serverStats{
		ServerID:            u.serverID,
		Hostname:            u.hostname,
		PID:                 os.Getpid(),
		Uptime:              now.Sub(u.started).Seconds(),
		ClientsCount:        snap.Sessions,
		PollingClientsCount: snap.PollingSessions,
		AggregatedEvents:    u.agg.take(),
		Namespaces:          []namespaceDetails{},
	}
	for _, n := range u.io.NamespaceStats() {
		st.Namespaces = append(st.Namespaces, namespaceDetails{Name: n.Name, SocketsCount: n.Connected})
	}
	b, _ := json.Marshal(st)
	u.broadcast("server_stats", b)
}

// serverStats is the argument of server_stats (typed-events.ts ServerStats).
type serverStats struct {
	ServerID            string             `json:"serverId"`
	Hostname            string             `json:"hostname"`
	PID                 int                `json:"pid"`
	Uptime              float64            `json:"uptime"`
	ClientsCount        int64              `json:"clientsCount"`
	PollingClientsCount int64              `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent  `json:"aggregatedEvents"`
	Namespaces          []namespaceDetails `json:"namespaces"`
}

type namespaceDetails struct {
	Name         string `json:"name"`
	SocketsCount int64  `json:"socketsCount"`
}

// sessionStore holds the session ids of logged-in pages (Node's
// InMemoryStore, with the RedisStore's expiry).
type sessionStore struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func (s *sessionStore) save(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[string]time.Time)
	}
	if len(s.ids) >= maxSessions {
		for k, exp := range s.ids {
			if now.After(exp) || len(s.ids) >= maxSessions {
				delete(s.ids, k)
			}
		}
	}
	s.ids[id] = now.Add(sessionTTL)
}

func (s *sessionStore) valid(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.ids[id]
	return ok && now.Before(exp)
}

// login is what authenticate leaves in Socket.Data for onConnect.
type login struct{ session string }

// authenticate is the admin namespace's CONNECT middleware (Node's
// initAuthenticationMiddleware): a known sessionId is admitted at once; a
// password is checked with bcrypt on another goroutine (it takes tens of
// milliseconds), two at a time.
func (u *UI) authenticate(so *loop.Socket, auth []byte, done func(error)) {
	var a struct {
		Username  string `json:"username"`
		Password  string `json:"password"`
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(auth, &a)
	now := time.Now()
	if a.SessionID != "" && u.sessions.valid(a.SessionID, now) {
		done(nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(a.Username), []byte(u.cfg.Username)) != 1 {
		loginsRefused.Inc()
		done(errInvalid)
		return
	}
	go func() {
		u.sem <- struct{}{}
		err := bcrypt.CompareHashAndPassword(u.hash, []byte(a.Password))
		<-u.sem
		if err != nil {
			loginsRefused.Inc()
			done(errInvalid)
			return
		}
		loginsOK.Inc()
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		u.sessions.save(id, time.Now())
		so.Data = login{session: id} // before done: allowed by UseAsync
		done(nil)
	}()
}

// onConnect greets a page: session (after a password login), config, and
// in development mode all_sockets.
func (u *UI) onConnect(so *loop.Socket) {
	pages.Add(1)
	if u.local.Add(1) == 1 {
		// At once, not at the next tick: the events right after the page
		// connected are reported. (Should the ticker remove it meanwhile,
		// having seen no page, its next tick puts it back.)
		u.io.Observe(u.obs)
	}
	if l, ok := so.Data.(login); ok {
		so.Data = nil
		so.Emit("session", appendString(nil, l.session), nil)
	}
	features := featuresProd
	if u.cfg.Development {
		features = featuresDev
	}
	cfg, _ := json.Marshal(map[string][]string{"supportedFeatures": features})
	so.Emit("config", cfg, nil)
	if u.cfg.Development {
		go func() {
			list := u.allSockets()
			so.Do(func(so *loop.Socket) { so.Emit("all_sockets", list, nil) })
		}()
	}
}

func (u *UI) onDisconnect(*loop.Socket, string) {
	pages.Add(-1)
	u.local.Add(-1)
}

// allSockets returns the JSON of all_sockets: every socket of every
// declared namespace on every server (Node's fetchAllSockets), at most
// MaxListedSockets.
func (u *UI) allSockets() []byte {
	b := []byte{'['}
	n := 0
	for _, st := range u.io.NamespaceStats() {
		if strings.Contains(st.Name, "*") {
			continue // the children of a pattern are not listed by name
		}
		var list []loop.SocketInfo
		if u.cl != nil {
			ctx, cancel := context.WithTimeout(context.Background(), u.cl.Config().RequestTimeout)
			list, _, _ = u.cl.FetchSockets(ctx, loop.Target{Namespace: st.Name})
			cancel()
		} else {
			list, _ = u.io.FetchSockets(loop.Target{Namespace: st.Name})
		}
		for i := range list {
			if n == MaxListedSockets {
				break
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			s := &list[i]
			b = u.appendSocket(b, sockView{id: s.ID, clientID: s.ClientID, transport: s.Transport, nsp: st.Name,
				userID: s.UserID, address: s.Address, query: s.Query, issued: s.Issued, rooms: s.Rooms})
		}
	}
	return append(b, ']')
}
