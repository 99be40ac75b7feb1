package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeState is the last PING of one node of a Redis Cluster (its masters
// and replicas, as the cluster client knows them) or of one Sentinel.
type NodeState struct {
	Addr string `json:"addr"`
	Role string `json:"role"` // "master", "replica" or "sentinel"
	Up   bool   `json:"up"`
}

// nodeProbeEvery is how often probeLoop PINGs every node: cheap (one
// command per node from one goroutine) and quick enough for a dashboard.
var nodeProbeEvery = 5 * time.Second

// probeLoop PINGs every node of a Redis Cluster, or every Sentinel, each
// nodeProbeEvery, until the adapter closes, and records the answers for
// Stats.Nodes. It runs only with those topologies.
func (a *Adapter) probeLoop() {
	defer a.wg.Done()
	var sentinels []*redis.SentinelClient
	for _, addr := range a.cfg.SentinelAddrs {
		sentinels = append(sentinels, redis.NewSentinelClient(&redis.Options{
			Addr: addr, Password: a.cfg.SentinelPassword, DialTimeout: dialTimeout, MaxRetries: -1, PoolSize: 1,
		}))
	}
	defer func() {
		for _, s := range sentinels {
			_ = s.Close()
		}
	}()
	t := time.NewTicker(nodeProbeEvery)
	defer t.Stop()
	for {
		a.nodes.setProbed(a.probe(sentinels))
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe PINGs the nodes once, with a timeout of half the period.
func (a *Adapter) probe(sentinels []*redis.SentinelClient) []NodeState {
	ctx, cancel := context.WithTimeout(a.ctx, nodeProbeEvery/2)
	defer cancel()
	var mu sync.Mutex
	var out []NodeState
	add := func(addr, role string, err error) {
		mu.Lock()
		out = append(out, NodeState{Addr: addr, Role: role, Up: err == nil})
		mu.Unlock()
	}
	if cc, ok := a.rdb.(*redis.ClusterClient); ok {
		// ForEachMaster/ForEachSlave run fn on every node the client's
		// view of the cluster holds, a failed one included.
		for _, role := range []string{"master", "replica"} {
			each := cc.ForEachMaster
			if role == "replica" {
				each = cc.ForEachSlave
			}
			_ = each(ctx, func(ctx context.Context, c *redis.Client) error {
				add(c.Options().Addr, role, c.Ping(ctx).Err())
				return nil
			})
		}
	}
	for i, s := range sentinels {
		add(a.cfg.SentinelAddrs[i], "sentinel", s.Ping(ctx).Err())
	}
	slices.SortFunc(out, func(x, y NodeState) int {
		if c := strings.Compare(x.Role, y.Role); c != 0 {
			return c
		}
		return strings.Compare(x.Addr, y.Addr)
	})
	return out
}

// setProbed records the last probe.
func (w *nodeWatch) setProbed(n []NodeState) {
	w.mu.Lock()
	w.probed = n
	w.mu.Unlock()
}

// probedNodes returns the last probe (nil before the first and with a
// single Redis). Any goroutine may call it.
func (w *nodeWatch) probedNodes() []NodeState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.probed
}
