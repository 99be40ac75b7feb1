package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// Defaults of Config.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultPublishRetry   = 10 * time.Second
	DefaultQueueSize      = 10000
	DefaultStream         = "socket.io"
	DefaultStreamMaxLen   = 10000
)

// Config configures an Adapter. The zero value of every field but URL
// means its documented default; Resolve fills them in. Which Redis
// deployment it names is Topology (client.go).
type Config struct {
	// URL is the Redis server: redis://[user:password@]host:port[/db] or
	// rediss:// for TLS (env REDIS_URL). Exactly one of URL, SentinelAddrs
	// and ClusterAddrs is required.
	URL string
	// SentinelAddrs are host:port of Redis Sentinels, which name the
	// master SentinelMaster; the adapter follows its failovers (env
	// REDIS_SENTINEL_ADDRS).
	SentinelAddrs []string
	// SentinelMaster is the name of the master the Sentinels monitor
	// (env REDIS_SENTINEL_MASTER). Required with SentinelAddrs.
	SentinelMaster string
	// SentinelPassword is the Sentinels' own password (requirepass in
	// sentinel.conf; env REDIS_SENTINEL_PASSWORD). Default none.
	SentinelPassword string
	// ClusterAddrs are host:port of some nodes of a Redis Cluster, from
	// which the client learns the others (env REDIS_CLUSTER_ADDRS).
	ClusterAddrs []string
	// Password is the data nodes' password with SentinelAddrs or
	// ClusterAddrs (env REDIS_PASSWORD); with URL the password is in the
	// URL. Default none.
	Password string
	// Key is the channel prefix shared with the Node servers and emitters
	// of the cluster. Default "socket.io" (env REDIS_KEY).
	Key string
	// RequestTimeout bounds a cluster-wide request (fetchSockets, all
	// rooms, server-side emit with ack). Default 5s, as requestsTimeout
	// (env REDIS_REQUEST_TIMEOUT).
	RequestTimeout time.Duration
	// PublishRetry is how long a message may wait for an unreachable Redis
	// before it is dropped and counted. Default 10s (env REDIS_PUBLISH_RETRY).
	PublishRetry time.Duration
	// QueueSize is how many messages may wait to be published; a message
	// that finds the queue full is dropped and counted. Default 10000.
	QueueSize int
	// Streams selects the protocol of @socket.io/redis-streams-adapter
	// 0.3.x instead of @socket.io/redis-adapter's (env REDIS_ADAPTER=streams):
	// see adapter_streams.go. Default false: pub/sub.
	Streams bool
	// Stream is the Redis stream of the Streams protocol (its streamName
	// option). Default "socket.io" (env REDIS_STREAM_NAME).
	Stream string
	// Sharded selects the protocol of createShardedAdapter of
	// @socket.io/redis-adapter 8.3, on Redis 7 sharded pub/sub (env
	// REDIS_ADAPTER=sharded): see adapter_sharded.go. Not with Streams.
	Sharded bool
	// SubscriptionMode is the sharded protocol's subscriptionMode:
	// SubscribeDynamic (default) or SubscribeStatic (env
	// REDIS_SUBSCRIPTION_MODE).
	SubscriptionMode string
	// StreamMaxLen bounds the stream, trimmed approximately (XADD MAXLEN ~)
	// as its maxLen option. Default 10000 (env REDIS_STREAM_MAXLEN).
	StreamMaxLen int64
	// SessionWindow, with Streams, is connection state recovery's window
	// (CONNECTION_STATE_RECOVERY): the expiry of the sessions the adapter
	// keeps as loop.SessionStore (sessions_streams.go). Default 0: the
	// adapter keeps no sessions.
	SessionWindow time.Duration
}

// Resolve returns c with every zero field set to its default.
func (c Config) Resolve() Config {
	if c.Key == "" {
		c.Key = DefaultKey
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.PublishRetry <= 0 {
		c.PublishRetry = DefaultPublishRetry
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.StreamMaxLen <= 0 {
		c.StreamMaxLen = DefaultStreamMaxLen
	}
	if c.SubscriptionMode == "" {
		c.SubscriptionMode = SubscribeDynamic
	}
	return c
}

// Local is what the adapter needs of this server's Socket.IO: the
// server-side operations of *loop.SocketIO, which implements it. Every
// method may be called from any goroutine.
type Local interface {
	Broadcast(b *loop.Broadcast) (int, error)
	BroadcastWithAck(b *loop.Broadcast, timeout time.Duration) ([]loop.AckResponse, int, error)
	FetchSockets(t loop.Target) ([]loop.SocketInfo, error)
	Join(t loop.Target, rooms []string) (int, error)
	Leave(t loop.Target, rooms []string) (int, error)
	Disconnect(t loop.Target, close bool) (int, error)
	AllRooms(ns string) ([]string, error)
}

// ServerSideEmitFunc receives an event that another server sent with
// serverSideEmit: args is JSON list content, with placeholders for atts.
// ack is nil unless the sender waits for an answer; calling it sends
// value (one JSON value) back, once. It runs on the adapter's dispatch
// goroutine and must not block.
type ServerSideEmitFunc func(nsp, event string, args []byte, atts [][]byte, ack func(value []byte))

// Adapter connects a loop.SocketIO to the other servers of a cluster
// through Redis. It speaks one of two protocols, chosen by Config.Streams:
// that of @socket.io/redis-adapter 8.x (classic pub/sub), where Node
// socket.io servers, @socket.io/redis-emitter and other sioloop servers
// can share one Redis with it; or that of @socket.io/redis-streams-adapter
// 0.3.x (adapter_streams.go). Both offer the same methods; only the
// messages and the channels differ.
//
// Create it with New, declare its namespaces with AddNamespace, set it as
// the SocketIO's Adapter, then Start it; Close it on shutdown.
type Adapter struct {
	// OnServerSideEmit, when set before Start, receives SERVER_SIDE_EMIT
	// requests. Without it they are ignored, as by a Node server with no
	// listener for the event.
	OnServerSideEmit ServerSideEmitFunc

	cfg   Config
	uid   string
	local Local
	log   *slog.Logger
	rdb   redis.UniversalClient
	ps    *redis.PubSub
	nodes *nodeWatch

	bcPrefix, reqPrefix, respPrefix string

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	out     chan outMsg
	in      chan *redis.Message
	kick    chan struct{} // namespaces waiting to be subscribed
	stopPub chan struct{} // closed by Close: publish what is queued, then stop
	pubDone chan struct{} // closed when publishLoop has returned

	codecs sync.Pool // *Codec for encoders running on callers' goroutines
	codec  Codec     // the dispatch goroutine's

	nsps    sync.Map // namespace name → true, from AddNamespace to RemoveNamespace
	mu      sync.Mutex
	toSub   []subOp
	pending map[string]*pending
	// subbed are the namespaces whose channels are subscribed. Only the
	// goroutine that subscribes touches it (Start, then subscribeLoop).
	subbed map[string]struct{}

	// st is the state of the Streams protocol, nil with pub/sub. The
	// sharded protocol uses it too (its messages are the same), without
	// its stream.
	st *streams
	// ss are the sessions of connection state recovery, nil unless
	// Streams with a SessionWindow.
	ss *sessions
	// sh is the state of the sharded protocol, nil without it.
	sh *sharded

	started atomic.Bool
	closed  atomic.Bool
	subUp   atomic.Bool
	pubOK   atomic.Bool
	everUp  atomic.Bool
	ctr     counters
}

// New returns an adapter for cfg serving local, without connecting yet.
// It fails only on a Config that names no Redis, several, or an invalid
// URL.
func New(cfg Config, local Local, log *slog.Logger) (*Adapter, error) {
	cfg = cfg.Resolve()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	setRedisLogger(log)
	nodes := &nodeWatch{log: log, topology: cfg.Topology(), sentinels: cfg.SentinelAddrs}
	rdb, err := redisClient(cfg, 0, nodes)
	if err != nil {
		return nil, err
	}
	a := &Adapter{
		cfg:        cfg,
		uid:        newID(),
		local:      local,
		log:        log,
		rdb:        rdb,
		nodes:      nodes,
		bcPrefix:   cfg.Key + "#",
		reqPrefix:  cfg.Key + "-request#",
		respPrefix: cfg.Key + "-response#",
		out:        make(chan outMsg, cfg.QueueSize),
		in:         make(chan *redis.Message, 4096),
		kick:       make(chan struct{}, 1),
		stopPub:    make(chan struct{}),
		pubDone:    make(chan struct{}),
		pending:    make(map[string]*pending),
		subbed:     make(map[string]struct{}),
	}
	if cfg.Streams {
		a.uid = newHexID()
		// The reader's own connection, as Node's duplicate client: a
		// blocked XREAD holds it.
		srdb, err := redisClient(cfg, 1, nodes)
		if err != nil {
			return nil, err
		}
		a.st = newStreams(a, srdb)
		if cfg.SessionWindow > 0 {
			a.ss = newSessions(a, cfg.SessionWindow)
		}
	}
	if cfg.Sharded {
		a.uid = newHexID()
		a.st = newStreams(a, nil)
		a.sh = newSharded(a)
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.codecs.New = func() any { return new(Codec) }
	a.pubOK.Store(true)
	return a, nil
}

// UID returns the adapter's server id: 6 characters as uid2(6) makes with
// pub/sub, 16 hex digits as socket.io-adapter's randomId with Streams.
func (a *Adapter) UID() string { return a.uid }

// Config returns the resolved configuration.
func (a *Adapter) Config() Config { return a.cfg }

// AddNamespace makes the adapter serve namespace nsp: it subscribes to
// its broadcast pattern, request and response channels. It is idempotent
// and never blocks (the subscription happens on the adapter's goroutine),
// so a reactor may call it from a namespace's OnConnect hook: that is how
// namespaces created from a pattern ("/org-*") join the cluster.
func (a *Adapter) AddNamespace(nsp string) {
	if _, ok := a.nsps.Load(nsp); ok {
		return // the common case, on every CONNECT to a pattern namespace: no lock
	}
	if _, loaded := a.nsps.LoadOrStore(nsp, true); loaded {
		return
	}
	a.queueSub(nsp, true)
}

// RemoveNamespace makes the adapter stop serving namespace nsp: it
// unsubscribes what AddNamespace subscribed, as Node's adapter is closed
// when socket.io removes an empty child namespace. It never blocks: the
// SocketIO's OnNamespaceRemoved hook, which runs on a reactor, calls it.
func (a *Adapter) RemoveNamespace(nsp string) {
	if _, loaded := a.nsps.LoadAndDelete(nsp); !loaded {
		return
	}
	a.queueSub(nsp, false)
}

// subOp is a namespace to subscribe (add) or unsubscribe, or with
// channel set one channel of it (a room's, sharded protocol).
type subOp struct {
	nsp     string
	add     bool
	channel string
}

// key identifies what op subscribes, for subscribePending.
func (op subOp) key() string {
	if op.channel != "" {
		return "\x00" + op.channel
	}
	return op.nsp
}

func (a *Adapter) queueSub(nsp string, add bool) { a.queueOp(subOp{nsp: nsp, add: add}) }

// queueChannel queues the subscription (add) or unsubscription of one
// channel of nsp.
func (a *Adapter) queueChannel(nsp, ch string, add bool) {
	a.queueOp(subOp{nsp: nsp, add: add, channel: ch})
}

func (a *Adapter) queueOp(op subOp) {
	a.mu.Lock()
	a.toSub = append(a.toSub, op)
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// hasNamespace reports whether nsp was added.
func (a *Adapter) hasNamespace(nsp string) bool {
	_, ok := a.nsps.Load(nsp)
	return ok
}

// Start subscribes to the namespaces added so far and starts the
// adapter's goroutines. Redis need not be reachable: the adapter keeps
// trying, and Up reports false meanwhile.
func (a *Adapter) Start() {
	if !a.started.CompareAndSwap(false, true) {
		return
	}
	a.ps = a.rdb.Subscribe(a.ctx)
	a.subscribePending()
	a.wg.Add(4)
	go a.receiveLoop()
	go a.dispatchLoop()
	go a.subscribeLoop()
	go a.publishLoop()
	if a.st != nil && a.sh == nil {
		a.wg.Add(1)
		go a.st.readLoop()
	}
	if a.ss != nil {
		a.wg.Add(1)
		go a.ss.saveLoop()
	}
	if t := a.cfg.Topology(); t == TopologyCluster || t == TopologySentinel {
		a.wg.Add(1)
		go a.probeLoop()
	}
}

// Close stops the adapter: what waits to be published gets up to a second
// to go out, then the connections close. Cluster-wide operations in
// progress return ErrClosed.
func (a *Adapter) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(a.stopPub)
	if a.started.Load() {
		select {
		case <-a.pubDone:
		case <-time.After(time.Second):
		}
		if a.ss != nil {
			a.ss.flushNow(time.Second) // the sessions of a drain
		}
	}
	a.cancel()
	if a.ps != nil {
		_ = a.ps.Close()
	}
	if a.sh != nil {
		a.sh.close()
	} else if a.st != nil {
		_ = a.st.rdb.Close() // ends a blocked XREAD
	}
	// The dispatcher may be inside a local operation that a stopping
	// server never finishes: do not hang the shutdown on it.
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		a.log.Warn("redis adapter: goroutines still busy after 2s, closing anyway")
	}
	if a.ss != nil {
		a.ss.deliverOwn() // what the reader did not reach
	}
	a.mu.Lock()
	for id, p := range a.pending {
		delete(a.pending, id)
		p.signal()
	}
	a.mu.Unlock()
	return a.rdb.Close()
}

// Up reports whether Redis is reachable: the subscriptions are confirmed
// and the last publish succeeded (and, with Streams, the last read of the
// stream).
func (a *Adapter) Up() bool {
	return a.subUp.Load() && a.pubOK.Load() && (a.st == nil || a.sh != nil || a.st.up.Load())
}

// ---------------------------------------------------------------- helpers

// idChars is the alphabet of uid2, which RedisAdapter uses for its uid
// and request ids.
const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns 6 random characters of idChars, as uid2(6).
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b[:])
}

// newHexID returns 16 random hex digits, as socket.io-adapter's randomId
// (randomBytes(8).toString("hex")) makes the uid and request ids of the
// cluster adapter protocol.
func newHexID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// redactURL hides the password of a Redis URL for error messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	cred, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	user, _, hasPass := strings.Cut(cred, ":")
	if !hasPass {
		return u
	}
	return scheme + "://" + user + ":xxxxx@" + host
}

var loggerOnce sync.Once

// setRedisLogger sends go-redis's own log lines (reconnection notices)
// to log at debug level instead of stderr. go-redis has one process-wide
// logger; the first adapter sets it.
func setRedisLogger(log *slog.Logger) {
	loggerOnce.Do(func() { redis.SetLogger(redisLogger{log}) })
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("go-redis: " + fmt.Sprintf(format, v...))
}
