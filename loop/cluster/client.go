package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The Redis deployments an Adapter can use (Config.Topology).
const (
	TopologySingle   = "single"   // one server, Config.URL
	TopologySentinel = "sentinel" // a master found through Sentinels, followed across failovers
	TopologyCluster  = "cluster"  // a Redis Cluster, found from seed nodes
)

// Topology returns which Redis deployment c describes: TopologySentinel
// with SentinelAddrs, TopologyCluster with ClusterAddrs, else
// TopologySingle.
func (c Config) Topology() string {
	switch {
	case len(c.SentinelAddrs) > 0:
		return TopologySentinel
	case len(c.ClusterAddrs) > 0:
		return TopologyCluster
	}
	return TopologySingle
}

// check refuses a Config that names no Redis, or several, or Sentinels
// without the master's name.
func (c Config) check() error {
	n := 0
	for _, set := range []bool{c.URL != "", len(c.SentinelAddrs) > 0, len(c.ClusterAddrs) > 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("cluster: no Redis: set URL, SentinelAddrs or ClusterAddrs")
	case n > 1:
		return errors.New("cluster: set one of URL, SentinelAddrs and ClusterAddrs")
	case len(c.SentinelAddrs) > 0 && c.SentinelMaster == "":
		return errors.New("cluster: SentinelAddrs needs SentinelMaster")
	case c.Sharded && c.Streams:
		return errors.New("cluster: Sharded and Streams are two protocols: choose one")
	case c.SubscriptionMode != "" && c.SubscriptionMode != SubscribeStatic && c.SubscriptionMode != SubscribeDynamic && c.SubscriptionMode != SubscribeDynamicPrivate:
		return fmt.Errorf("cluster: SubscriptionMode %q: want static, dynamic or dynamic-private", c.SubscriptionMode)
	case c.URL != "" && c.Password != "":
		return errors.New("cluster: Password is for Sentinel and Cluster; with URL put it in the URL")
	}
	return nil
}

// dialTimeout bounds a connection attempt to one Redis node.
const dialTimeout = 2 * time.Second

// redisClient returns a client for cfg's deployment with at most
// poolSize connections per node (0: go-redis's default). Each client's
// own retries are off: the adapter's loops retry with backoff and count
// every failure; the client's retries would hide them and delay the
// "redis down" state. A Sentinel client asks the Sentinels for the master
// on every new connection, and go-redis closes the connections to the old
// master when a Sentinel announces +switch-master, so the subscription,
// the publisher and the stream reader all follow a failover by
// reconnecting. Every connection made goes through nodes, which records
// the master's address.
func redisClient(cfg Config, poolSize int, nodes *nodeWatch) (redis.UniversalClient, error) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			nodes.dialed(addr)
		}
		return c, err
	}
	maint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	switch cfg.Topology() {
	case TopologySentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       cfg.SentinelMaster,
			SentinelAddrs:    cfg.SentinelAddrs,
			SentinelPassword: cfg.SentinelPassword,
			Password:         cfg.Password,
			Dialer:           dial,
			MaxRetries:       -1,
			DialerRetries:    1,
			DialTimeout:      dialTimeout,
			PoolSize:         poolSize,
			DisableIdentity:  true,
		}), nil
	case TopologyCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                    cfg.ClusterAddrs,
			Password:                 cfg.Password,
			Dialer:                   dial,
			MaxRetries:               -1,
			DialerRetries:            1,
			DialTimeout:              dialTimeout,
			PoolSize:                 poolSize,
			DisableIdentity:          true,
			MaintNotificationsConfig: maint,
		}), nil
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid REDIS_URL %q: %v: want redis://[user:password@]host:port[/db] or rediss://…", redactURL(cfg.URL), err)
	}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DialTimeout = dialTimeout
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = maint
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	if opt.TLSConfig == nil {
		opt.Dialer = dial
	} else {
		nodes.dialed(opt.Addr) // go-redis dials TLS itself
	}
	return redis.NewClient(opt), nil
}

// nodeWatch records the Redis node the adapter's clients connect to (not
// with a Redis Cluster, whose client connects to every node): with
// Sentinel, the master; a change of master seen by a new connection
// counts as a failover. go-redis dials the master and the Sentinels with
// the same Dialer, so an address of Config.SentinelAddrs is not the
// master; a Sentinel that go-redis discovered (SENTINEL SENTINELS) and
// dials only when every listed one is down would pass for one, which is
// why REDIS_SENTINEL_ADDRS should list them all. Its methods may be called from any goroutine
// (go-redis dials from the caller's).
type nodeWatch struct {
	log       *slog.Logger
	topology  string
	sentinels []string // Config.SentinelAddrs
	failovers atomic.Uint64
	mu        sync.Mutex
	master    string      // last address dialed (Sentinel, single); "" until then
	probed    []NodeState // last probeLoop (Cluster, Sentinel), replaced whole
}

// dialed records a successful connection to addr.
func (w *nodeWatch) dialed(addr string) {
	if w == nil || w.topology == TopologyCluster || slices.Contains(w.sentinels, addr) {
		// A cluster client dials every node, a failover client the
		// Sentinels too (with the same Dialer): they are not the master.
		return
	}
	w.mu.Lock()
	prev := w.master
	w.master = addr
	w.mu.Unlock()
	if prev != "" && prev != addr && w.topology == TopologySentinel {
		w.failovers.Add(1)
		w.log.Warn("redis adapter: the Sentinels name a new master, connections follow it", "old", prev, "new", addr)
	}
}

// current returns the master last connected to, "" before any (and
// always with a Redis Cluster).
func (w *nodeWatch) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.master
}
