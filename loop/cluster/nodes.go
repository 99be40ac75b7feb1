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
// Stats.Nodes. It runs only with those topologies. The nodes of a cluster
// come from CLUSTER SLOTS (the first node of a range is its master), and
// each gets a one-connection client of its own: the cluster client's
// ForEachMaster would reload its whole state at every call, and two
// concurrent reloads race inside go-redis v9.23.
func (a *Adapter) probeLoop() {
	defer a.wg.Done()
	pingers := map[string]*redis.Client{}
	defer func() {
		for _, c := range pingers {
			_ = c.Close()
		}
	}()
	pinger := func(addr, password string) *redis.Client {
		c := pingers[addr]
		if c == nil {
			c = redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: dialTimeout,
				MaxRetries: -1, PoolSize: 1, DisableIdentity: true})
			pingers[addr] = c
		}
		return c
	}
	t := time.NewTicker(nodeProbeEvery)
	defer t.Stop()
	var last []NodeState
	for {
		last = a.probe(pinger, last)
		a.nodes.setProbed(last)
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe PINGs the nodes once, with a timeout of half the period. A node
// of the cluster that CLUSTER SLOTS no longer lists (or when no node
// answers it) keeps its place from the round before, so that it shows
// down rather than vanishing.
func (a *Adapter) probe(pinger func(addr, password string) *redis.Client, last []NodeState) []NodeState {
	ctx, cancel := context.WithTimeout(a.ctx, nodeProbeEvery/2)
	defer cancel()
	var out []NodeState
	seen := map[string]bool{}
	add := func(addr, role string) {
		if !seen[addr] {
			seen[addr] = true
			out = append(out, NodeState{Addr: addr, Role: role})
		}
	}
	if cc, ok := a.rdb.(*redis.ClusterClient); ok {
		if slots, err := cc.ClusterSlots(ctx).Result(); err == nil {
			for _, r := range slots {
				for i, n := range r.Nodes {
					role := "replica"
					if i == 0 {
						role = "master"
					}
					add(n.Addr, role)
				}
			}
		}
		for _, n := range last {
			add(n.Addr, n.Role)
		}
		if len(out) == 0 {
			for _, addr := range a.cfg.ClusterAddrs {
				add(addr, "master")
			}
		}
	}
	for _, addr := range a.cfg.SentinelAddrs {
		add(addr, "sentinel")
	}
	var wg sync.WaitGroup
	for i := range out {
		n := &out[i]
		password := a.cfg.Password
		if n.Role == "sentinel" {
			password = a.cfg.SentinelPassword
		}
		c := pinger(n.Addr, password)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Up = c.Ping(ctx).Err() == nil
		}()
	}
	wg.Wait()
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
