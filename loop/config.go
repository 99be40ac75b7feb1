package loop

import (
	"math"
	"net/netip"
	"runtime"
	"time"
)

// Config configures the reactors and the Engine.IO layer. The zero value of
// every field means its documented default; Resolve fills them in. Env
// variables and flags are mapped onto it by the main package.
type Config struct {
	// Addr is the TCP address of the client port. Default ":3000" (env PORT).
	Addr string
	// EventLoops is the number of gnet reactors. Default GOMAXPROCS (env EVENT_LOOPS).
	EventLoops int
	// ReusePort gives every reactor its own SO_REUSEPORT listener so the
	// kernel spreads accepts. Default false: one acceptor, round robin.
	ReusePort bool

	// PingInterval is the Engine.IO pingInterval. Default 25s (env PING_INTERVAL).
	PingInterval time.Duration
	// PingTimeout is the Engine.IO pingTimeout. Default 20s (env PING_TIMEOUT).
	PingTimeout time.Duration
	// UpgradeTimeout bounds a polling-to-WebSocket upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// MaxPayload is the largest message or polling body in bytes, advertised
	// as maxPayload. Default 1000000 (env MAX_PAYLOAD).
	MaxPayload int
	// MaxHeaderBytes caps an HTTP request head; larger gets 431. Default 8 KiB.
	MaxHeaderBytes int
	// CORSOrigins lists the origins allowed to make cross-origin polling
	// requests; "*" allows any. Empty disables CORS, as in Node (env CORS_ORIGINS).
	CORSOrigins []string
	// HandshakeTimeout bounds how long a client may take to send a complete
	// request head: from accept for the first request, from its first byte
	// for later ones. Default 10s (env HANDSHAKE_TIMEOUT).
	HandshakeTimeout time.Duration
	// BodyReadTimeout bounds how long a request body may take to arrive
	// once its head is in. Default 30s (env BODY_READ_TIMEOUT).
	BodyReadTimeout time.Duration
	// KeepAliveTimeout closes an HTTP connection that waits this long for
	// its next request. Default 30s (env KEEP_ALIVE_TIMEOUT).
	KeepAliveTimeout time.Duration
	// DrainDuration spreads Shutdown's "server shutting down" over this
	// long instead of sending every client away at once. Default 0: at
	// once (env DRAIN_DURATION).
	DrainDuration time.Duration
	// MaxOutboundBytes caps what may be queued for one connection before it
	// is treated as a slow consumer. Default 1 MiB.
	MaxOutboundBytes int
	// MaxConnections bounds the Engine.IO sessions of the process; a
	// handshake past it (polling or direct WebSocket) gets 503 before any
	// session state is kept. Default 0: no bound (env MAX_CONNECTIONS).
	MaxConnections int
	// MaxConnectionsPerIP bounds the sessions of one client address (see
	// TrustedProxies); a handshake past it gets 429. Default 0: no bound
	// (env MAX_CONNECTIONS_PER_IP).
	MaxConnectionsPerIP int
	// TrustedProxies are the networks of the proxies in front of the
	// server: from a peer in them, the client address is the right-most
	// X-Forwarded-For hop not in them. Default none: the TCP peer is the
	// client, the header is ignored (env TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// ConnectRate bounds the new sessions per second of the process (a
	// token bucket of ConnectBurst); a handshake past it gets 503 with
	// Retry-After: 1, and socket.io-client's reconnection backoff spreads
	// the storm. Default 0: no bound (env CONNECT_RATE).
	ConnectRate float64
	// ConnectBurst is how many handshakes ConnectRate lets through at once.
	// Default ConnectRate rounded up, at least 1 (env CONNECT_BURST).
	ConnectBurst int
	// DisableIOURing makes broadcasts use write(2) even where the kernel
	// offers io_uring (env IO_URING=off).
	DisableIOURing bool
	// KeepHeaders names the request headers (case-insensitive) whose
	// values a session keeps from its handshake, for Session.Header: the
	// application may want some of them later (a backend that wants the
	// client's User-Agent or Cookie at CONNECT). Only these are copied,
	// and only when the list is not empty. Default none.
	KeepHeaders []string
}

// Defaults of Config, exported for the configuration docs and tests.
const (
	DefaultAddr             = ":3000"
	DefaultPingInterval     = 25 * time.Second
	DefaultPingTimeout      = 20 * time.Second
	DefaultUpgradeTimeout   = 10 * time.Second
	DefaultMaxPayload       = 1000000
	DefaultMaxHeaderBytes   = 8 << 10
	DefaultMaxOutboundBytes = 1 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultBodyReadTimeout  = 30 * time.Second
	DefaultKeepAliveTimeout = 30 * time.Second
)

// Resolve returns c with every zero field set to its default.
func (c Config) Resolve() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.EventLoops <= 0 {
		c.EventLoops = runtime.GOMAXPROCS(0)
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if c.KeepAliveTimeout <= 0 {
		c.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	if c.ConnectRate > 0 && c.ConnectBurst <= 0 {
		c.ConnectBurst = max(1, int(math.Ceil(c.ConnectRate)))
	}
	if c.MaxOutboundBytes <= 0 {
		c.MaxOutboundBytes = DefaultMaxOutboundBytes
	}
	return c
}
