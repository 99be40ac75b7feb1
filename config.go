package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"sioloop/api"
	"sioloop/api/hooks"
	"sioloop/loop"
)

// Config is the whole configuration of the sioloop service. Each field is
// read from an environment variable and from a flag of the same meaning
// (the flag wins); Settings lists them with their defaults.
type Config struct {
	Port             int           // PORT, --port: client port (Socket.IO and, by default, the admin routes). Default 3000.
	AdminAddr        string        // ADMIN_ADDR, --admin-addr: admin listener address; "" or "off" disables it. Default ":3001".
	AdminOnMainPort  bool          // ADMIN_ON_MAIN_PORT, --admin-on-main-port: also serve the admin routes on PORT. Default true.
	AdminToken       string        // ADMIN_TOKEN, --admin-token: bearer token required by admin routes except / and /health; without it the /sockets routes are not served on PORT. Default none.
	SocketIOPath     string        // SOCKETIO_PATH, --socketio-path: Socket.IO endpoint path. Default "/socket.io/".
	Namespaces       []string      // NAMESPACES, --namespaces: comma-separated namespaces besides "/", '*' globs allowed. Default none.
	PingInterval     time.Duration // PING_INTERVAL, --ping-interval. Default 25s.
	PingTimeout      time.Duration // PING_TIMEOUT, --ping-timeout. Default 20s.
	ConnectTimeout   time.Duration // CONNECT_TIMEOUT, --connect-timeout: time to join a namespace. Default 45s.
	HandshakeTimeout time.Duration // HANDSHAKE_TIMEOUT, --handshake-timeout: time to send a complete HTTP request head. Default 10s.
	BodyReadTimeout  time.Duration // BODY_READ_TIMEOUT, --body-read-timeout: time for a request body to arrive after its head. Default 30s.
	KeepAliveTimeout time.Duration // KEEP_ALIVE_TIMEOUT, --keep-alive-timeout: idle time before a keep-alive HTTP connection is closed. Default 30s.
	MaxPayload       int           // MAX_PAYLOAD, --max-payload: largest message / polling body in bytes. Default 1000000.
	MaxOutbound      int           // MAX_OUTBOUND_BYTES, --max-outbound-bytes: per-client outbound cap before "slow consumer". Default 1048576.

	MaxConnections      int            // MAX_CONNECTIONS, --max-connections: Engine.IO sessions of the process; past it a handshake gets 503. Default 0: off.
	MaxConnectionsPerIP int            // MAX_CONNECTIONS_PER_IP, --max-connections-per-ip: sessions of one client address; past it 429. Default 0: off.
	TrustedProxies      []netip.Prefix // TRUSTED_PROXIES, --trusted-proxies: CIDRs whose X-Forwarded-For names the client. Default none.
	ConnectRate         float64        // CONNECT_RATE, --connect-rate: new sessions per second of the process; past it 503 with Retry-After. Default 0: off.
	ConnectBurst        int            // CONNECT_BURST, --connect-burst: handshakes CONNECT_RATE lets through at once. Default 0: CONNECT_RATE rounded up.

	CORSOrigins     []string      // CORS_ORIGINS, --cors-origins: comma-separated allowed origins, "*" for any. Default none (CORS off).
	EventLoops      int           // EVENT_LOOPS, --event-loops: number of reactors. Default GOMAXPROCS.
	ReusePort       bool          // REUSE_PORT, --reuse-port: one SO_REUSEPORT listener per reactor. Default false.
	IOURing         bool          // IO_URING, --io-uring: auto (send broadcasts through io_uring where the kernel allows it) or off. Default auto.
	JWTSecret       string        // JWT_SECRET, --jwt-secret: HS256 secret; enables CONNECT auth. Default none.
	JWTPublicKey    string        // JWT_PUBLIC_KEY, --jwt-public-key: RS256/ES256/EdDSA public key, PEM text or a file path. Default none.
	JWTJWKSURL      string        // JWT_JWKS_URL, --jwt-jwks-url: JWKS endpoint whose keys (by kid) verify tokens. Default none.
	JWTJWKSRefresh  time.Duration // JWT_JWKS_REFRESH, --jwt-jwks-refresh: how often the JWKS is fetched again. Default 5m.
	JWTAudience     string        // JWT_AUDIENCE, --jwt-audience: aud a token must carry. Default none (not checked).
	JWTIssuer       string        // JWT_ISSUER, --jwt-issuer: iss a token must carry. Default none (not checked).
	LogLevel        slog.Level    // LOG_LEVEL, --log-level: debug, info, warn or error. Default info.
	LogFormat       string        // LOG_FORMAT, --log-format: text or json. Default text.
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, --shutdown-timeout: graceful shutdown bound. Default 10s.
	DrainDuration   time.Duration // DRAIN_DURATION, --drain-duration: spread "server shutting down" over this long; 0: all at once. Default 0.
	// AdminReadTimeout (ADMIN_READ_TIMEOUT, --admin-read-timeout) bounds
	// the reading of one request, head and body, on the admin listener; the
	// head alone has at most 10s. Default 30s.
	AdminReadTimeout time.Duration
	// AdminIdleTimeout (ADMIN_IDLE_TIMEOUT, --admin-idle-timeout) closes a
	// keep-alive connection to the admin listener that waits this long for
	// its next request. Default 60s.
	AdminIdleTimeout time.Duration

	// ConnectionStateRecovery (CONNECTION_STATE_RECOVERY,
	// --connection-state-recovery) is the longest disconnection after which
	// a client gets its socket id, rooms and missed events back (Node's
	// maxDisconnectionDuration); every replayable event then carries its
	// offset as one more last argument. Default "" (0): off.
	ConnectionStateRecovery time.Duration
	// RecoveryBufferBytes (RECOVERY_BUFFER_BYTES, --recovery-buffer-bytes)
	// bounds the packets kept for replay in the process; the oldest go
	// first. Default 67108864 (64 MiB).
	RecoveryBufferBytes int

	MaxNamespaces     int // MAX_NAMESPACES, --max-namespaces: namespaces that may exist at once (declared and created from patterns). Default 10000.
	MaxNameBytes      int // MAX_NAME_BYTES, --max-name-bytes: longest channel name, and longest namespace name a pattern may create. Default 256.
	MaxSubscribeNames int // MAX_SUBSCRIBE_NAMES, --max-subscribe-names: channel names in one subscribe or unsubscribe. Default 100.
	MaxRoomsPerSocket int // MAX_ROOMS_PER_SOCKET, --max-rooms-per-socket: channels one socket may be subscribed to. Default 128.
	// MaxUserConnections (MAX_USER_CONNECTIONS, --max-user-connections)
	// bounds the sockets of one authenticated user (the JWT "sub") in the
	// process, all namespaces together; one more CONNECT gets
	// CONNECT_ERROR. Default 0: off.
	MaxUserConnections int

	MaxEventsPerSecond float64 // MAX_EVENTS_PER_SECOND, --max-events-per-second: events one socket may send a second; past it refused, and a flood disconnected. Default 0: off.
	EventBurst         int     // EVENT_BURST, --event-burst: events MAX_EVENTS_PER_SECOND lets through at once, and the refused ones past which a socket is disconnected. Default 0: MAX_EVENTS_PER_SECOND rounded up.

	AdminUI             bool   // ADMIN_UI, --admin-ui: serve the Socket.IO Admin UI's namespace (@socket.io/admin-ui 0.5). Default false.
	AdminUIUsername     string // ADMIN_UI_USERNAME, --admin-ui-username: the page's login. Default none.
	AdminUIPasswordHash string // ADMIN_UI_PASSWORD_HASH, --admin-ui-password-hash: bcrypt hash of the page's password. Default none.
	AdminUINoAuth       bool   // ADMIN_UI_NO_AUTH, --admin-ui-no-auth: admit any page, without credentials. Default false.
	AdminUIDevelopment  bool   // ADMIN_UI_MODE, --admin-ui-mode: "development" (sockets, rooms, live events) or "production" (server stats). Default production.
	AdminUINamespace    string // ADMIN_UI_NAMESPACE, --admin-ui-namespace: the admin namespace. Default "/admin".

	RedisURL            string        // REDIS_URL, --redis-url: Redis of the cluster (redis://, rediss://); empty: a single server. Default none.
	RedisKey            string        // REDIS_KEY, --redis-key: channel prefix shared with the Node adapter and emitter. Default "socket.io".
	RedisRequestTimeout time.Duration // REDIS_REQUEST_TIMEOUT, --redis-request-timeout: bound of a cluster-wide request. Default 5s.
	RedisPublishRetry   time.Duration // REDIS_PUBLISH_RETRY, --redis-publish-retry: how long a publish waits for Redis before it is dropped. Default 10s.
	RedisReadiness      bool          // REDIS_READINESS, --redis-readiness: /health answers 503 while Redis is unreachable. Default false.
	RedisAdapter        string        // REDIS_ADAPTER, --redis-adapter: pubsub (@socket.io/redis-adapter) or streams (@socket.io/redis-streams-adapter). Default "pubsub".
	RedisStreamName     string        // REDIS_STREAM_NAME, --redis-stream-name: the stream of REDIS_ADAPTER=streams. Default "socket.io".
	RedisStreamMaxLen   int           // REDIS_STREAM_MAXLEN, --redis-stream-maxlen: approximate length the stream is trimmed to. Default 10000.

	// Backend hooks (package api/hooks, README "Backend hooks").
	ConnectHookURL     string        // CONNECT_HOOK_URL, --connect-hook-url: POSTed every CONNECT; its answer accepts or refuses. Default none.
	SubscribeHookURL   string        // SUBSCRIBE_HOOK_URL, --subscribe-hook-url: POSTed every subscribe; answers the allowed channels. Default none.
	EventHookURL       string        // EVENT_HOOK_URL, --event-hook-url: POSTed every client event but the service's own; answers the ack. Default none.
	DisconnectHookURL  string        // DISCONNECT_HOOK_URL, --disconnect-hook-url: POSTed batches of disconnects. Default none.
	HookSecret         string        // HOOK_SECRET, --hook-secret: HMAC-SHA256 key signing every hook request. Default none (unsigned).
	HookTimeout        time.Duration // HOOK_TIMEOUT, --hook-timeout: bound of one hook call, the wait for a slot included. Default 3s.
	HookConcurrency    int           // HOOK_CONCURRENCY, --hook-concurrency: hook calls in flight at once. Default 64.
	HookFailOpen       bool          // HOOK_FAIL_OPEN, --hook-fail-open: accept a CONNECT the connect hook could not answer. Default false.
	HookForwardHeaders []string      // HOOK_FORWARD_HEADERS, --hook-forward-headers: handshake headers the connect hook receives. Default none.
	HookBatchInterval  time.Duration // HOOK_BATCH_INTERVAL, --hook-batch-interval: longest wait of a disconnect for its batch. Default 1s.
	HookBatchSize      int           // HOOK_BATCH_SIZE, --hook-batch-size: most disconnects in one batch. Default 100.
	// Redis deployments other than one server (REDIS_URL).
	RedisSentinelAddrs    []string // REDIS_SENTINEL_ADDRS, --redis-sentinel-addrs: host:port of the Sentinels naming the master instead of REDIS_URL. Default none.
	RedisSentinelMaster   string   // REDIS_SENTINEL_MASTER, --redis-sentinel-master: the master's name in the Sentinels. Default none.
	RedisSentinelPassword string   // REDIS_SENTINEL_PASSWORD, --redis-sentinel-password: the Sentinels' own password. Default none.
	RedisClusterAddrs     []string // REDIS_CLUSTER_ADDRS, --redis-cluster-addrs: seed nodes of a Redis Cluster instead of REDIS_URL. Default none.
	RedisPassword         string   // REDIS_PASSWORD, --redis-password: the data nodes' password with Sentinel or Cluster. Default none.
	RedisSubscriptionMode string   // REDIS_SUBSCRIPTION_MODE, --redis-subscription-mode: dynamic, dynamic-private or static, with REDIS_ADAPTER=sharded. Default "dynamic".
}

// Setting describes one configuration variable.
type Setting struct {
	Env, Flag, Default, Usage string
	set                       func(c *Config, v string) error
}

// Settings lists every configuration variable, in --help order.
func Settings() []Setting {
	return []Setting{
		{"PORT", "port", "3000", "client port: Socket.IO and the admin routes", func(c *Config, v string) error { return parsePort(v, &c.Port) }},
		{"ADMIN_ADDR", "admin-addr", ":3001", `admin listener address ("off" disables it)`, func(c *Config, v string) error { c.AdminAddr = v; return nil }},
		{"ADMIN_ON_MAIN_PORT", "admin-on-main-port", "true", "also serve the admin routes on PORT", func(c *Config, v string) error { return parseBool(v, &c.AdminOnMainPort) }},
		{"ADMIN_TOKEN", "admin-token", "", "bearer token for admin routes other than / and /health; without it the /sockets routes are not served on PORT", func(c *Config, v string) error { c.AdminToken = v; return nil }},
		{"SOCKETIO_PATH", "socketio-path", "/socket.io/", "Socket.IO endpoint path", func(c *Config, v string) error { return parsePath(v, &c.SocketIOPath) }},
		{"NAMESPACES", "namespaces", "", `comma-separated namespaces besides "/", '*' globs allowed (e.g. /chat,/org-*)`, func(c *Config, v string) error { return parseNamespaces(v, &c.Namespaces) }},
		{"PING_INTERVAL", "ping-interval", "25s", "Engine.IO pingInterval", func(c *Config, v string) error { return parseDuration(v, &c.PingInterval) }},
		{"PING_TIMEOUT", "ping-timeout", "20s", "Engine.IO pingTimeout", func(c *Config, v string) error { return parseDuration(v, &c.PingTimeout) }},
		{"CONNECT_TIMEOUT", "connect-timeout", "45s", "time a client has to join a namespace", func(c *Config, v string) error { return parseDuration(v, &c.ConnectTimeout) }},
		{"HANDSHAKE_TIMEOUT", "handshake-timeout", "10s", "time a client connection has to send a complete HTTP request head (408 and closed after it)", func(c *Config, v string) error { return parseDuration(v, &c.HandshakeTimeout) }},
		{"BODY_READ_TIMEOUT", "body-read-timeout", "30s", "time a request body has to arrive once its head is in (408 and closed after it)", func(c *Config, v string) error { return parseDuration(v, &c.BodyReadTimeout) }},
		{"KEEP_ALIVE_TIMEOUT", "keep-alive-timeout", "30s", "idle time after which a keep-alive HTTP connection on the client port is closed", func(c *Config, v string) error { return parseDuration(v, &c.KeepAliveTimeout) }},
		{"MAX_PAYLOAD", "max-payload", "1000000", "largest message or polling body in bytes", func(c *Config, v string) error { return parseSize(v, &c.MaxPayload) }},
		{"MAX_OUTBOUND_BYTES", "max-outbound-bytes", "1048576", "bytes queued for one client before it is dropped as a slow consumer", func(c *Config, v string) error { return parseSize(v, &c.MaxOutbound) }},
		{"MAX_CONNECTIONS", "max-connections", "0", `Engine.IO sessions the process serves at once; one more handshake (polling or WebSocket) gets 503 and {"code":4,"message":"Server full: MAX_CONNECTIONS ..."} (0: no bound)`, func(c *Config, v string) error { return parseLimitOrOff(v, &c.MaxConnections) }},
		{"MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", "0", "sessions one client address may hold at once (the TCP peer, or behind TRUSTED_PROXIES the right-most X-Forwarded-For hop outside them); one more gets 429 (0: no bound)", func(c *Config, v string) error { return parseLimitOrOff(v, &c.MaxConnectionsPerIP) }},
		{"TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs (or addresses) of the proxies in front of the server, e.g. 10.0.0.0/8; from them X-Forwarded-For names the client for MAX_CONNECTIONS_PER_IP; empty: the header is ignored", func(c *Config, v string) error { return parsePrefixes(v, &c.TrustedProxies) }},
		{"CONNECT_RATE", "connect-rate", "0", "new sessions per second the process accepts (a token bucket of CONNECT_BURST); past it a handshake gets 503 with Retry-After: 1 and socket.io-client's reconnection backoff spreads the storm (0: no bound)", func(c *Config, v string) error { return parseRate(v, &c.ConnectRate) }},
		{"CONNECT_BURST", "connect-burst", "0", "handshakes CONNECT_RATE lets through at once (0: CONNECT_RATE rounded up)", func(c *Config, v string) error { return parseLimitOrOff(v, &c.ConnectBurst) }},
		{"CORS_ORIGINS", "cors-origins", "", `comma-separated allowed origins, "*" for any; empty: CORS off`, func(c *Config, v string) error { c.CORSOrigins = splitList(v); return nil }},
		{"EVENT_LOOPS", "event-loops", "0", "number of reactors (0: GOMAXPROCS)", func(c *Config, v string) error { return parseCount(v, &c.EventLoops) }},
		{"REUSE_PORT", "reuse-port", "false", "give every reactor its own SO_REUSEPORT listener", func(c *Config, v string) error { return parseBool(v, &c.ReusePort) }},
		{"IO_URING", "io-uring", "auto", "send broadcasts through io_uring where the kernel allows it (auto) or with write(2) (off)", func(c *Config, v string) error { return parseAutoOff(v, &c.IOURing) }},
		{"JWT_SECRET", "jwt-secret", "", "HS256 secret: CONNECT must carry a valid auth.token", func(c *Config, v string) error { c.JWTSecret = v; return nil }},
		{"JWT_PUBLIC_KEY", "jwt-public-key", "", "RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA) public key, PEM text or file path: CONNECT must carry a valid auth.token", func(c *Config, v string) error { c.JWTPublicKey = v; return nil }},
		{"JWT_JWKS_URL", "jwt-jwks-url", "", "JWKS endpoint (http:// or https://) whose RS256, ES256 and EdDSA keys verify auth.token, chosen by kid; fetched at start (the server exits if that fails), every JWT_JWKS_REFRESH, and when a token names an unknown kid (at most once per 10s)", func(c *Config, v string) error { return parseHTTPURL(v, &c.JWTJWKSURL) }},
		{"JWT_JWKS_REFRESH", "jwt-jwks-refresh", "5m", "how often the JWKS is fetched again; a failed fetch keeps the last key set", func(c *Config, v string) error { return parseDuration(v, &c.JWTJWKSRefresh) }},
		{"JWT_AUDIENCE", "jwt-audience", "", "aud a token must carry (empty: not checked)", func(c *Config, v string) error { c.JWTAudience = v; return nil }},
		{"JWT_ISSUER", "jwt-issuer", "", "iss a token must carry (empty: not checked)", func(c *Config, v string) error { c.JWTIssuer = v; return nil }},
		{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error { return parseLevel(v, &c.LogLevel) }},
		{"LOG_FORMAT", "log-format", "text", "text or json", func(c *Config, v string) error { return parseFormat(v, &c.LogFormat) }},
		{"SHUTDOWN_TIMEOUT", "shutdown-timeout", "10s", "how long a graceful shutdown may take", func(c *Config, v string) error { return parseDuration(v, &c.ShutdownTimeout) }},
		{"DRAIN_DURATION", "drain-duration", "0s", "on SIGTERM, send the clients away spread evenly over this long instead of all at once, so that replicas restarted one by one do not send all their clients to the others in the same second (0: at once; must be shorter than SHUTDOWN_TIMEOUT)", func(c *Config, v string) error { return parseDurationOrOff(v, &c.DrainDuration) }},
		{"ADMIN_READ_TIMEOUT", "admin-read-timeout", "30s", "how long the admin listener waits for a whole request, head and body (the head alone: at most 10s)", func(c *Config, v string) error { return parseDuration(v, &c.AdminReadTimeout) }},
		{"ADMIN_IDLE_TIMEOUT", "admin-idle-timeout", "60s", "how long the admin listener keeps an idle keep-alive connection open (above the idle timeout of a load balancer in front of it)", func(c *Config, v string) error { return parseDuration(v, &c.AdminIdleTimeout) }},
		{"CONNECTION_STATE_RECOVERY", "connection-state-recovery", "", "longest disconnection a client recovers from with its socket id, rooms and every event it missed (socket.io 4.6 connectionStateRecovery, maxDisconnectionDuration), e.g. 2m; with it on every replayable event carries its offset as one more last argument; empty or 0: off", func(c *Config, v string) error { return parseDurationOrOff(v, &c.ConnectionStateRecovery) }},
		{"RECOVERY_BUFFER_BYTES", "recovery-buffer-bytes", "67108864", "bytes of events kept for connection state recovery in the whole process; past it the oldest go, and a client whose offset is older is not recovered (a new session)", func(c *Config, v string) error { return parseSize(v, &c.RecoveryBufferBytes) }},
		{"MAX_NAMESPACES", "max-namespaces", "10000", "namespaces that may exist at once, declared ones and those clients create from a '*' pattern (which go away with their last socket); a CONNECT that would create one more gets CONNECT_ERROR \"namespace limit reached\"", func(c *Config, v string) error { return parseLimit(v, &c.MaxNamespaces) }},
		{"MAX_NAME_BYTES", "max-name-bytes", "256", "longest channel name in bytes (a longer one refuses the subscribe) and longest namespace name a pattern creates (a longer one gets \"Invalid namespace\")", func(c *Config, v string) error { return parseLimit(v, &c.MaxNameBytes) }},
		{"MAX_SUBSCRIBE_NAMES", "max-subscribe-names", "100", "channel names one subscribe or unsubscribe may list; a longer list is refused as a whole", func(c *Config, v string) error { return parseLimit(v, &c.MaxSubscribeNames) }},
		{"MAX_ROOMS_PER_SOCKET", "max-rooms-per-socket", "128", "channels one socket may be subscribed to; a subscribe that would pass it is refused as a whole", func(c *Config, v string) error { return parseLimit(v, &c.MaxRoomsPerSocket) }},
		{"MAX_USER_CONNECTIONS", "max-user-connections", "0", `sockets one authenticated user (the JWT "sub") may hold in the process, all namespaces together; one more CONNECT gets connect_error {"message":"too many connections for this user: MAX_USER_CONNECTIONS (n)","data":{"limit":"MAX_USER_CONNECTIONS","max":n}} (0: no bound)`, func(c *Config, v string) error { return parseLimitOrOff(v, &c.MaxUserConnections) }},
		{"MAX_EVENTS_PER_SECOND", "max-events-per-second", "0", `events one socket may send a second (a token bucket of EVENT_BURST per socket; the client's acks are not counted); past it an event is refused, acked with {"error":"event refused: over MAX_EVENTS_PER_SECOND ..."} when the client asked for an ack and dropped otherwise; a socket that sends EVENT_BURST events more than the bucket allows is disconnected (0: no bound)`, func(c *Config, v string) error { return parseEventRate(v, &c.MaxEventsPerSecond) }},
		{"EVENT_BURST", "event-burst", "0", "events MAX_EVENTS_PER_SECOND lets through at once, and how many refused events past the rate disconnect the socket (0: MAX_EVENTS_PER_SECOND rounded up)", func(c *Config, v string) error { return parseEventBurst(v, &c.EventBurst) }},
		{"ADMIN_UI", "admin-ui", "false", "serve the namespace of the Socket.IO Admin UI (@socket.io/admin-ui 0.5, hosted at https://admin.socket.io: add that origin to CORS_ORIGINS)", func(c *Config, v string) error { return parseBool(v, &c.AdminUI) }},
		{"ADMIN_UI_USERNAME", "admin-ui-username", "", "the Admin UI's username; with ADMIN_UI_PASSWORD_HASH", func(c *Config, v string) error { c.AdminUIUsername = v; return nil }},
		{"ADMIN_UI_PASSWORD_HASH", "admin-ui-password-hash", "", "bcrypt hash of the Admin UI's password (as the Node package's auth option), e.g. from htpasswd -nbBC 10 '' PASSWORD", func(c *Config, v string) error { c.AdminUIPasswordHash = v; return nil }},
		{"ADMIN_UI_NO_AUTH", "admin-ui-no-auth", "false", "admit any Admin UI page without credentials (required when there are none)", func(c *Config, v string) error { return parseBool(v, &c.AdminUINoAuth) }},
		{"ADMIN_UI_MODE", "admin-ui-mode", "production", `"production": server stats only; "development": sockets, rooms and live events too (bounded, see the README)`, func(c *Config, v string) error { return parseAdminUIMode(v, &c.AdminUIDevelopment) }},
		{"ADMIN_UI_NAMESPACE", "admin-ui-namespace", "/admin", "the Admin UI's namespace", func(c *Config, v string) error { return parseAdminUINamespace(v, &c.AdminUINamespace) }},
		{"REDIS_URL", "redis-url", "", "Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS): joins the cluster of servers on that Redis, wire-compatible with @socket.io/redis-adapter 8 and @socket.io/redis-emitter 5; empty: one server alone", func(c *Config, v string) error { c.RedisURL = v; return nil }},
		{"REDIS_KEY", "redis-key", "socket.io", "prefix of the Redis channels (the key option of the Node adapter and emitter)", func(c *Config, v string) error { return parseRedisKey(v, &c.RedisKey) }},
		{"REDIS_REQUEST_TIMEOUT", "redis-request-timeout", "5s", "how long a cluster-wide request (GET /sockets, fetchSockets from other servers) waits for the other servers", func(c *Config, v string) error { return parseDuration(v, &c.RedisRequestTimeout) }},
		{"REDIS_PUBLISH_RETRY", "redis-publish-retry", "10s", "how long a message for the other servers is retried while Redis is unreachable before it is dropped (and counted)", func(c *Config, v string) error { return parseDuration(v, &c.RedisPublishRetry) }},
		{"REDIS_ADAPTER", "redis-adapter", "pubsub", "protocol of the cluster: pubsub (@socket.io/redis-adapter 8, lost messages while Redis is unreachable), streams (@socket.io/redis-streams-adapter 0.3: broadcasts go through a Redis stream, and a replica that loses Redis reads what it missed when it is back) or sharded (createShardedAdapter of @socket.io/redis-adapter 8.3: Redis 7 sharded pub/sub, see REDIS_SUBSCRIPTION_MODE)", func(c *Config, v string) error { return parseRedisAdapter(v, &c.RedisAdapter) }},
		{"REDIS_STREAM_NAME", "redis-stream-name", "socket.io", "Redis stream of REDIS_ADAPTER=streams (the streamName option of the Node adapter)", func(c *Config, v string) error { return parseStreamName(v, &c.RedisStreamName) }},
		{"REDIS_STREAM_MAXLEN", "redis-stream-maxlen", "10000", "entries the stream of REDIS_ADAPTER=streams keeps, trimmed approximately (XADD MAXLEN ~, the maxLen option of the Node adapter)", func(c *Config, v string) error { return parseLimit(v, &c.RedisStreamMaxLen) }},
		{"REDIS_SENTINEL_ADDRS", "redis-sentinel-addrs", "", "comma-separated host:port of Redis Sentinels (list them all), instead of REDIS_URL: the master is the one they name as REDIS_SENTINEL_MASTER, and a failover is followed without a restart", func(c *Config, v string) error { return parseAddrs(v, &c.RedisSentinelAddrs) }},
		{"REDIS_SENTINEL_MASTER", "redis-sentinel-master", "", "name of the master the Sentinels monitor (sentinel monitor <name> ...); required with REDIS_SENTINEL_ADDRS", func(c *Config, v string) error { c.RedisSentinelMaster = v; return nil }},
		{"REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "", "password of the Sentinels themselves (requirepass in sentinel.conf), not of the data nodes", func(c *Config, v string) error { c.RedisSentinelPassword = v; return nil }},
		{"REDIS_CLUSTER_ADDRS", "redis-cluster-addrs", "", "comma-separated host:port of some nodes of a Redis Cluster, instead of REDIS_URL: the other nodes are discovered", func(c *Config, v string) error { return parseAddrs(v, &c.RedisClusterAddrs) }},
		{"REDIS_SUBSCRIPTION_MODE", "redis-subscription-mode", "dynamic", "with REDIS_ADAPTER=sharded (the subscriptionMode option of createShardedAdapter): dynamic (a broadcast to one room goes on that room's channel, which only the servers with a member of the room subscribe), dynamic-private (the same for a socket id too: each socket's own channel, one SSUBSCRIBE per socket) or static (every message on the namespace's channel)", func(c *Config, v string) error { return parseSubscriptionMode(v, &c.RedisSubscriptionMode) }},
		{"REDIS_PASSWORD", "redis-password", "", "password of the data nodes with REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS (with REDIS_URL it goes in the URL)", func(c *Config, v string) error { c.RedisPassword = v; return nil }},
		{"REDIS_READINESS", "redis-readiness", "false", "GET /health answers 503 while Redis is unreachable (for a readiness probe); otherwise 200 with \"redis\":\"down\"", func(c *Config, v string) error { return parseBool(v, &c.RedisReadiness) }},
		{"CONNECT_HOOK_URL", "connect-hook-url", "", `backend URL POSTed on every CONNECT (namespace, auth, address, query, HOOK_FORWARD_HEADERS, JWT sub); 200 {"user","channels","data"} accepts, 403 {"message","data"} refuses with that connect_error; a timeout, 5xx or unreachable backend refuses with "backend unavailable" (README "Backend hooks"); empty: off`, func(c *Config, v string) error { return parseHookURL(v, &c.ConnectHookURL) }},
		{"SUBSCRIBE_HOOK_URL", "subscribe-hook-url", "", `backend URL POSTed on every subscribe with the channels the limits and the JWT channels claim allow; 200 {"channels":[…]} names those joined, and the ack follows; empty: off`, func(c *Config, v string) error { return parseHookURL(v, &c.SubscribeHookURL) }},
		{"EVENT_HOOK_URL", "event-hook-url", "", "backend URL POSTed every client event but message, subscribe, unsubscribe and refresh, in order per socket (one in flight, 64 queued); its JSON answer is the ack's argument; empty: off", func(c *Config, v string) error { return parseHookURL(v, &c.EventHookURL) }},
		{"DISCONNECT_HOOK_URL", "disconnect-hook-url", "", "backend URL POSTed batches of disconnects (id, user, namespace, reason, at, user_sockets_left, last), retried with backoff for 1m, then dropped and counted; empty: off", func(c *Config, v string) error { return parseHookURL(v, &c.DisconnectHookURL) }},
		{"HOOK_SECRET", "hook-secret", "", "key of the HMAC-SHA256 signature of every hook request (X-Sioloop-Signature: sha256=hex of timestamp + \".\" + body, X-Sioloop-Timestamp); empty: unsigned", func(c *Config, v string) error { c.HookSecret = v; return nil }},
		{"HOOK_TIMEOUT", "hook-timeout", "3s", "bound of one hook call, the wait for a HOOK_CONCURRENCY slot included; with CONNECT_HOOK_URL it must be shorter than CONNECT_TIMEOUT", func(c *Config, v string) error { return parseDuration(v, &c.HookTimeout) }},
		{"HOOK_CONCURRENCY", "hook-concurrency", "64", `hook calls in flight at once; 16 more per slot may wait (within HOOK_TIMEOUT), past that a call fails at once with "backend busy"`, func(c *Config, v string) error { return parseLimit(v, &c.HookConcurrency) }},
		{"HOOK_FAIL_OPEN", "hook-fail-open", "false", "accept a CONNECT the connect hook could not answer (timeout, 5xx, unreachable, bad answer) instead of refusing it", func(c *Config, v string) error { return parseBool(v, &c.HookFailOpen) }},
		{"HOOK_FORWARD_HEADERS", "hook-forward-headers", "", "comma-separated handshake request headers the connect hook receives (e.g. Cookie,User-Agent); only these are kept per session, and only with CONNECT_HOOK_URL", func(c *Config, v string) error { c.HookForwardHeaders = splitList(v); return nil }},
		{"HOOK_BATCH_INTERVAL", "hook-batch-interval", "1s", "longest a disconnect waits for its batch to the disconnect hook", func(c *Config, v string) error { return parseDuration(v, &c.HookBatchInterval) }},
		{"HOOK_BATCH_SIZE", "hook-batch-size", "100", "most disconnects in one batch; a full batch goes at once", func(c *Config, v string) error { return parseLimit(v, &c.HookBatchSize) }},
	}
}

// ErrHelp is returned by LoadConfig when --help was asked for.
var ErrHelp = flag.ErrHelp

// LoadConfig reads the configuration from the environment (getenv) and
// the command-line args, flags winning. Usage goes to out on --help or a
// bad flag. An invalid value gives an error naming the variable, the
// value and what was expected.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	settings := Settings()
	for _, s := range settings {
		if err := s.set(&c, s.Default); err != nil {
			panic("BUG: default of " + s.Env + ": " + err.Error())
		}
	}
	for _, s := range settings {
		if v, ok := lookup(getenv, s.Env); ok {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("invalid %s %q: %w", s.Env, v, err)
			}
		}
	}
	fs := flag.NewFlagSet("sioloop", flag.ContinueOnError)
	fs.SetOutput(out)
	flagVals := make(map[string]*string, len(settings))
	for _, s := range settings {
		flagVals[s.Flag] = fs.String(s.Flag, s.Default, fmt.Sprintf("%s (env %s)", s.Usage, s.Env))
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: sioloop [flags]\n       sioloop healthcheck [--url URL] [--timeout D]\n       sioloop config\n\nEvery flag can also be set by its environment variable; the flag wins.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.Flag == f.Name && ferr == nil {
				if err := s.set(&c, *flagVals[s.Flag]); err != nil {
					ferr = fmt.Errorf("invalid --%s %q: %w", s.Flag, *flagVals[s.Flag], err)
				}
			}
		}
	})
	if ferr != nil {
		return c, ferr
	}
	if err := checkJWT(c); err != nil {
		return c, err
	}
	if err := checkRedisURL(c.RedisURL); err != nil {
		return c, err
	}
	if err := checkHooks(c); err != nil {
		return c, err
	}
	if err := checkAdminUI(c); err != nil {
		return c, err
	}
	if err := checkRedisTopology(c); err != nil {
		return c, err
	}
	if c.DrainDuration >= c.ShutdownTimeout {
		return c, fmt.Errorf("invalid DRAIN_DURATION %s: must be shorter than SHUTDOWN_TIMEOUT (%s), which bounds the whole shutdown", c.DrainDuration, c.ShutdownTimeout)
	}
	return c, nil
}

// checkJWT refuses several JWT key settings at once, and an audience or
// issuer to check without a key to check tokens with.
func checkJWT(c Config) error {
	var keys []string
	for _, k := range []struct{ env, v string }{{"JWT_SECRET", c.JWTSecret}, {"JWT_PUBLIC_KEY", c.JWTPublicKey}, {"JWT_JWKS_URL", c.JWTJWKSURL}} {
		if k.v != "" {
			keys = append(keys, k.env)
		}
	}
	if len(keys) > 1 {
		return fmt.Errorf("invalid %s: set one of JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL, not several", strings.Join(keys, " and "))
	}
	if len(keys) == 0 {
		if c.JWTAudience != "" {
			return fmt.Errorf("invalid JWT_AUDIENCE %q: it needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL to check tokens with", c.JWTAudience)
		}
		if c.JWTIssuer != "" {
			return fmt.Errorf("invalid JWT_ISSUER %q: it needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL to check tokens with", c.JWTIssuer)
		}
	}
	return nil
}

// checkHooks refuses a HOOK_TIMEOUT the connect timeout would cut first.
func checkHooks(c Config) error {
	if c.ConnectHookURL != "" && c.HookTimeout >= c.ConnectTimeout {
		return fmt.Errorf("invalid HOOK_TIMEOUT %s: must be shorter than CONNECT_TIMEOUT (%s), which would refuse a CONNECT waiting for the connect hook first", c.HookTimeout, c.ConnectTimeout)
	}
	return nil
}

// checkRedisURL checks the form of REDIS_URL; the error names the URL with
// its password hidden, since error messages end up in logs.
func checkRedisURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		shown := "(unparsable URL)"
		if err == nil {
			shown = u.Redacted()
		}
		return fmt.Errorf("invalid REDIS_URL %q: want redis://[user:password@]host:port[/db] or rediss://… for TLS", shown)
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return fmt.Errorf("invalid REDIS_URL %q: the path must be a database number like /0", u.Redacted())
		}
	}
	return nil
}

// checkRedisTopology refuses settings that name several Redis
// deployments, or an incomplete one.
func checkRedisTopology(c Config) error {
	var set []string
	for _, k := range []struct {
		env string
		on  bool
	}{{"REDIS_URL", c.RedisURL != ""}, {"REDIS_SENTINEL_ADDRS", len(c.RedisSentinelAddrs) > 0}, {"REDIS_CLUSTER_ADDRS", len(c.RedisClusterAddrs) > 0}} {
		if k.on {
			set = append(set, k.env)
		}
	}
	switch {
	case len(set) > 1:
		return fmt.Errorf("invalid %s: set one of REDIS_URL, REDIS_SENTINEL_ADDRS and REDIS_CLUSTER_ADDRS, not several", strings.Join(set, " and "))
	case len(c.RedisSentinelAddrs) > 0 && c.RedisSentinelMaster == "":
		return fmt.Errorf("invalid REDIS_SENTINEL_ADDRS %q: it needs REDIS_SENTINEL_MASTER, the name of the master the Sentinels monitor", strings.Join(c.RedisSentinelAddrs, ","))
	case len(c.RedisSentinelAddrs) == 0 && c.RedisSentinelMaster != "":
		return fmt.Errorf("invalid REDIS_SENTINEL_MASTER %q: it needs REDIS_SENTINEL_ADDRS", c.RedisSentinelMaster)
	case len(c.RedisSentinelAddrs) == 0 && c.RedisSentinelPassword != "":
		return errors.New("invalid REDIS_SENTINEL_PASSWORD: it needs REDIS_SENTINEL_ADDRS")
	case c.RedisPassword != "" && len(set) == 0:
		return errors.New("invalid REDIS_PASSWORD: it needs REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS")
	case c.RedisSubscriptionMode != "dynamic" && c.RedisAdapter != "sharded":
		return fmt.Errorf("invalid REDIS_SUBSCRIPTION_MODE %q: it is for REDIS_ADAPTER=sharded (REDIS_ADAPTER is %s)", c.RedisSubscriptionMode, c.RedisAdapter)
	case c.RedisPassword != "" && c.RedisURL != "":
		return errors.New("invalid REDIS_PASSWORD: with REDIS_URL the password goes in the URL (redis://:password@host:port)")
	}
	return nil
}

// lookup treats an empty variable as unset, as shells often export "".
func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// LoopConfig maps c onto the reactor configuration.
func (c Config) LoopConfig() loop.Config {
	return loop.Config{
		Addr:                ":" + strconv.Itoa(c.Port),
		EventLoops:          c.EventLoops,
		ReusePort:           c.ReusePort,
		PingInterval:        c.PingInterval,
		PingTimeout:         c.PingTimeout,
		MaxPayload:          c.MaxPayload,
		CORSOrigins:         c.CORSOrigins,
		MaxOutboundBytes:    c.MaxOutbound,
		MaxConnections:      c.MaxConnections,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP,
		TrustedProxies:      c.TrustedProxies,
		ConnectRate:         c.ConnectRate,
		ConnectBurst:        c.ConnectBurst,
		HandshakeTimeout:    c.HandshakeTimeout,
		BodyReadTimeout:     c.BodyReadTimeout,
		KeepAliveTimeout:    c.KeepAliveTimeout,
		DrainDuration:       c.DrainDuration,
		DisableIOURing:      !c.IOURing,
		KeepHeaders:         c.keepHeaders(),
	}
}

// keepHeaders are the handshake headers the sessions keep: those the
// connect hook receives, none without it.
func (c Config) keepHeaders() []string {
	if c.ConnectHookURL == "" {
		return nil
	}
	return c.HookForwardHeaders
}

// Hooks returns the backend hooks configuration of c.
func (c Config) Hooks(log *slog.Logger) hooks.Config {
	return hooks.Config{
		ConnectURL:     c.ConnectHookURL,
		SubscribeURL:   c.SubscribeHookURL,
		EventURL:       c.EventHookURL,
		DisconnectURL:  c.DisconnectHookURL,
		Secret:         c.HookSecret,
		Timeout:        c.HookTimeout,
		Concurrency:    c.HookConcurrency,
		FailOpen:       c.HookFailOpen,
		ForwardHeaders: c.HookForwardHeaders,
		BatchInterval:  c.HookBatchInterval,
		BatchSize:      c.HookBatchSize,
		Log:            log,
	}
}

// Limits returns the subscription limits of c.
func (c Config) Limits() api.Limits {
	return api.Limits{SubscribeNames: c.MaxSubscribeNames, NameBytes: c.MaxNameBytes, RoomsPerSocket: c.MaxRoomsPerSocket}
}

// NewLogger returns the slog logger c asks for, writing to w.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkAdminUI refuses an Admin UI that would admit anyone by accident:
// credentials, or ADMIN_UI_NO_AUTH=true, not both and not neither.
func checkAdminUI(c Config) error {
	if !c.AdminUI {
		return nil
	}
	for _, n := range c.Namespaces {
		if n == c.AdminUINamespace || loop.GlobMatch(n, c.AdminUINamespace) {
			return fmt.Errorf("invalid ADMIN_UI_NAMESPACE %q: NAMESPACES serves it to clients (%q); pick another", c.AdminUINamespace, n)
		}
	}
	creds := c.AdminUIUsername != "" || c.AdminUIPasswordHash != ""
	switch {
	case c.AdminUINoAuth && creds:
		return errors.New("invalid ADMIN_UI_NO_AUTH=true: ADMIN_UI_USERNAME or ADMIN_UI_PASSWORD_HASH is set too; keep the credentials or the no-auth, not both")
	case c.AdminUINoAuth:
		return nil
	case c.AdminUIUsername == "" || c.AdminUIPasswordHash == "":
		return errors.New("invalid ADMIN_UI=true: set ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD_HASH (bcrypt), or ADMIN_UI_NO_AUTH=true to admit any page")
	}
	if _, err := bcrypt.Cost([]byte(c.AdminUIPasswordHash)); err != nil {
		return fmt.Errorf("invalid ADMIN_UI_PASSWORD_HASH: want a bcrypt hash like $2b$10$…: %v", err)
	}
	return nil
}
