package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"sioloop/api"
	"sioloop/api/adminui"
	"sioloop/api/hooks"
	"sioloop/loop"
	"sioloop/loop/cluster"
)

// Service is the running sioloop: reactors on the client port, the
// service's events (package api) on them, and the admin listener.
type Service struct {
	Config Config
	Log    *slog.Logger
	Server *loop.Server
	IO     *loop.SocketIO
	// Cluster is the Redis adapter that joins this server to the others
	// of a cluster, or nil when none of REDIS_URL, REDIS_SENTINEL_ADDRS and
	// REDIS_CLUSTER_ADDRS is set.
	Cluster *cluster.Adapter

	auth      *api.JWTAuth  // nil without JWT settings
	hooks     *hooks.Client // nil without a hook URL
	admin     *http.Server
	adminLn   net.Listener
	adminHTTP api.Handlers
	adminUI   *adminui.UI // nil unless ADMIN_UI
}

// adminReadHeaderTimeout bounds the reading of a request head on the
// admin listener (a slowloris head is cut after it), or ADMIN_READ_TIMEOUT
// when that is shorter.
const adminReadHeaderTimeout = 10 * time.Second

// New builds the service from cfg without listening yet.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	pem, err := readPEM(cfg.JWTPublicKey)
	if err != nil {
		return nil, err
	}
	auth, err := api.NewJWTAuth(api.JWTConfig{
		Secret:       cfg.JWTSecret,
		PublicKeyPEM: pem,
		JWKSURL:      cfg.JWTJWKSURL,
		JWKSRefresh:  cfg.JWTJWKSRefresh,
		Audience:     cfg.JWTAudience,
		Issuer:       cfg.JWTIssuer,
		Log:          log,
	})
	if err != nil {
		return nil, jwtError(cfg, err)
	}
	srv := loop.New(cfg.LoopConfig(), log)
	io := loop.NewSocketIO(srv)
	io.ConnectTimeout = cfg.ConnectTimeout
	io.MaxNamespaces = cfg.MaxNamespaces
	io.MaxNameBytes = cfg.MaxNameBytes
	io.Recovery = cfg.ConnectionStateRecovery
	io.RecoveryBufferBytes = cfg.RecoveryBufferBytes
	io.MaxUserConnections = cfg.MaxUserConnections
	io.MaxEventsPerSecond = cfg.MaxEventsPerSecond
	io.EventBurst = cfg.EventBurst
	nss := []*loop.Namespace{io.Of("/")}
	for _, n := range cfg.Namespaces {
		if n != "/" {
			nss = append(nss, io.Of(n))
		}
	}
	var hk *hooks.Client
	if hc := cfg.Hooks(log); hc.On() {
		hk = hooks.New(hc)
	}
	api.Install(nss, auth, cfg.Limits(), hk)
	srv.Handle(cfg.SocketIOPath, io)
	s := &Service{Config: cfg, Log: log, Server: srv, IO: io, auth: auth, hooks: hk}
	if cfg.RedisURL != "" || len(cfg.RedisSentinelAddrs) > 0 || len(cfg.RedisClusterAddrs) > 0 {
		if s.Cluster, err = newCluster(cfg, io, nss, log); err != nil {
			return nil, err
		}
	}
	if cfg.AdminUI {
		// Declared apart from nss: the service's events (echo,
		// subscriptions, JWT) are not the admin page's.
		s.adminUI, err = adminui.New(io, s.Cluster, adminui.Config{
			Namespace:    cfg.AdminUINamespace,
			Username:     cfg.AdminUIUsername,
			PasswordHash: cfg.AdminUIPasswordHash,
			NoAuth:       cfg.AdminUINoAuth,
			Development:  cfg.AdminUIDevelopment,
			Path:         cfg.SocketIOPath,
			Log:          log,
		})
		if err != nil {
			return nil, err
		}
		if s.Cluster != nil {
			s.Cluster.AddNamespace(s.adminUI.Namespace())
		}
	}
	s.adminHTTP = api.Handler(api.Service{
		Server:         srv,
		IO:             io,
		Cluster:        s.Cluster,
		AdminToken:     cfg.AdminToken,
		RedisReadiness: cfg.RedisReadiness,
		Limits:         cfg.Limits(),
	})
	if cfg.AdminOnMainPort {
		srv.HandleOther(s.adminHTTP.ClientPort)
	}
	return s, nil
}

// Run serves until ctx is cancelled, then shuts down gracefully within
// ShutdownTimeout. It returns nil after a clean shutdown.
func (s *Service) Run(ctx context.Context) error {
	if s.Config.AdminAddr != "" && s.Config.AdminAddr != "off" {
		ln, err := net.Listen("tcp", s.Config.AdminAddr)
		if err != nil {
			return err
		}
		s.adminLn = ln
		s.admin = &http.Server{
			Handler:           s.adminHTTP.Admin,
			ReadHeaderTimeout: min(adminReadHeaderTimeout, s.Config.AdminReadTimeout),
			ReadTimeout:       s.Config.AdminReadTimeout,
			IdleTimeout:       s.Config.AdminIdleTimeout,
			// No WriteTimeout: it would cut a long answer (a large
			// /metrics, GET /sockets waiting for the cluster) half-way.
			// The same head cap as the client port, which serves the
			// same routes; net/http's default is 1 MiB.
			MaxHeaderBytes: s.Server.Config().MaxHeaderBytes,
		}
		go func() {
			if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.Log.Error("admin listener", "err", err)
			}
		}()
	}
	if s.auth != nil {
		s.auth.Start()
		defer s.auth.Close()
	}
	if s.hooks != nil {
		// After the reactors stopped (defers run last in, first out): the
		// disconnects of the shutdown get a last batch.
		defer s.hooks.Close()
	}
	if s.Cluster != nil {
		s.Cluster.Start()
		defer s.Cluster.Close() // on the error paths; Close is idempotent
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve() }()
	select {
	case err := <-errc:
		s.closeAdmin()
		return err
	case <-s.Server.Started():
	}
	s.warnOpenAdmin()
	trimCtx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go trimMemory(trimCtx)
	if s.adminUI != nil {
		s.adminUI.Start()
		defer s.adminUI.Close()
	}
	s.Log.Info("sioloop listening", "port", s.Config.Port, "path", s.Config.SocketIOPath,
		"admin", s.AdminAddr(), "event_loops", s.Server.Config().EventLoops)
	select {
	case err := <-errc:
		s.closeAdmin()
		if err == nil {
			err = errors.New("the client listener stopped without a shutdown")
		}
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "timeout", s.Config.ShutdownTimeout.String())
	if s.adminUI != nil {
		s.adminUI.Close() // no more stats or all_sockets while the reactors stop
	}
	if s.Cluster != nil && s.IO.Sessions == nil {
		// Leave the cluster first: the other servers stop counting on this
		// one (PUBSUB NUMSUB) while its clients are sent away. With the
		// sessions in Redis it leaves after the drain instead, which
		// saves the session of every client it sends away.
		_ = s.Cluster.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = s.Server.Shutdown(sctx) }()
	wg.Wait()
	if s.Cluster != nil {
		_ = s.Cluster.Close() // idempotent
	}
	s.closeAdmin()
	return <-errc
}

// warnOpenAdmin logs one WARN line when POST /SendWebsocketEvent (and
// GET /metrics) answer anyone who reaches the client port: admin routes
// on PORT without ADMIN_TOKEN. They stay open there because old clients
// of the service sioloop replaces broadcast through that port; the
// socket management routes are refused there (package api).
func (s *Service) warnOpenAdmin() {
	if !s.Config.AdminOnMainPort || s.Config.AdminToken != "" {
		return
	}
	s.Log.Warn("POST /SendWebsocketEvent and GET /metrics are open to anyone who reaches the client port: "+
		"set ADMIN_TOKEN to require a bearer token, or ADMIN_ON_MAIN_PORT=false to serve the admin routes on ADMIN_ADDR only",
		"port", s.Config.Port)
}

// AdminAddr returns the bound admin address, or "" when there is none.
func (s *Service) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

func (s *Service) closeAdmin() {
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.admin.Shutdown(ctx)
	}
}

// jwtError names the setting a JWT error at start comes from.
func jwtError(cfg Config, err error) error {
	msg := strings.TrimPrefix(err.Error(), "api: ")
	switch {
	case cfg.JWTJWKSURL != "":
		return fmt.Errorf("invalid JWT_JWKS_URL %q: %s", cfg.JWTJWKSURL, msg)
	case cfg.JWTPublicKey != "":
		v := cfg.JWTPublicKey
		if strings.Contains(v, "-----BEGIN") {
			v, _, _ = strings.Cut(strings.TrimSpace(v), "\n")
			v += "…"
		}
		return fmt.Errorf("invalid JWT_PUBLIC_KEY %q: %s", v, msg)
	}
	return err
}

// newCluster creates the Redis adapter and makes it the SocketIO's
// Adapter. Every declared namespace joins the cluster at once; a namespace
// created from a pattern ("/org-*") joins when it is created, on its first
// CONNECT (SocketIO.OnNamespace), and leaves when it is removed after its
// last socket (SocketIO.OnNamespaceRemoved).
func newCluster(cfg Config, io *loop.SocketIO, nss []*loop.Namespace, log *slog.Logger) (*cluster.Adapter, error) {
	ad, err := cluster.New(cluster.Config{
		URL:              cfg.RedisURL,
		SentinelAddrs:    cfg.RedisSentinelAddrs,
		SentinelMaster:   cfg.RedisSentinelMaster,
		SentinelPassword: cfg.RedisSentinelPassword,
		ClusterAddrs:     cfg.RedisClusterAddrs,
		Password:         cfg.RedisPassword,
		Key:              cfg.RedisKey,
		RequestTimeout:   cfg.RedisRequestTimeout,
		PublishRetry:     cfg.RedisPublishRetry,
		Streams:          cfg.RedisAdapter == "streams",
		Sharded:          cfg.RedisAdapter == "sharded",
		SubscriptionMode: cfg.RedisSubscriptionMode,
		Stream:           cfg.RedisStreamName,
		StreamMaxLen:     int64(cfg.RedisStreamMaxLen),
		SessionWindow:    cfg.ConnectionStateRecovery,
	}, io, log)
	if err != nil {
		return nil, err
	}
	for _, ns := range nss {
		if name := ns.Name(); !strings.Contains(name, "*") {
			ad.AddNamespace(name)
		}
	}
	io.OnNamespace = ad.AddNamespace
	io.OnNamespaceRemoved = ad.RemoveNamespace
	io.Adapter = ad
	if c := ad.Config(); c.Streams && c.SessionWindow > 0 {
		// Connection state recovery across servers: sessions and offsets
		// in Redis, as @socket.io/redis-streams-adapter.
		io.Sessions = ad
	}
	if cfg.RedisAdapter == "sharded" {
		// Refuse a Redis without sharded pub/sub at start rather than
		// fail every SSUBSCRIBE; an unreachable Redis is no error here.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := ad.CheckVersion(ctx)
		cancel()
		if err != nil {
			_ = ad.Close()
			return nil, fmt.Errorf("invalid REDIS_ADAPTER \"sharded\": %s", strings.TrimPrefix(err.Error(), "cluster: "))
		}
		io.OnRoom, io.OnRoomRemoved = ad.OnRoom, ad.OnRoomRemoved
		io.PrivateRooms = ad.Config().SubscriptionMode == cluster.SubscribeDynamicPrivate
		log.Info("redis sharded adapter enabled", "uid", ad.UID(), "redis", ad.Config().Topology(), "key", ad.Config().Key, "subscription_mode", ad.Config().SubscriptionMode)
		return ad, nil
	}
	if c := ad.Config(); c.Streams {
		log.Info("redis streams adapter enabled", "uid", ad.UID(), "redis", c.Topology(), "key", c.Key, "stream", c.Stream, "maxlen", c.StreamMaxLen)
	} else {
		log.Info("redis adapter enabled", "uid", ad.UID(), "redis", c.Topology(), "key", c.Key)
	}
	return ad, nil
}
