package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels of StartSentinel
// monitor.
const SentinelMaster = "sioloop"

// Sentinel is a master, one replica and three Sentinels, all on
// loopback. Its methods are called from the test goroutine.
type Sentinel struct {
	Master, Replica *Server
	Sentinels       []*Server
}

// Addrs returns host:port of the three Sentinels.
func (s *Sentinel) Addrs() []string {
	var out []string
	for _, x := range s.Sentinels {
		out = append(out, x.Addr())
	}
	return out
}

// StartSentinel starts a master, a replica of it and three Sentinels
// (quorum 2, down-after-milliseconds 1000, failover-timeout 3000), waits
// until the replica is in sync and every Sentinel knows the replica and
// the two other Sentinels, and stops them all by PID when t ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	m := start(t, freePort(t, false), nil)
	r := start(t, freePort(t, false), []string{"--replicaof", "127.0.0.1", strconv.Itoa(m.Port)})
	s := &Sentinel{Master: m, Replica: r}
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("dir %s\nsentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %[2]s 1000\nsentinel failover-timeout %[2]s 3000\n",
			dir, SentinelMaster, m.Port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, start(t, freePort(t, false), []string{conf, "--sentinel"}))
	}
	ctx := context.Background()
	waitUntil(t, "replica in sync and Sentinels acquainted", 30*time.Second, func() error {
		rc := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
		info, err := rc.Info(ctx, "replication").Result()
		rc.Close()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica: %v %q", err, info)
		}
		for _, x := range s.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: x.Addr(), DisableIdentity: true})
			others, err1 := sc.Sentinels(ctx, SentinelMaster).Result()
			replicas, err2 := sc.Replicas(ctx, SentinelMaster).Result()
			sc.Close()
			if err1 != nil || err2 != nil || len(others) != 2 || len(replicas) != 1 {
				return fmt.Errorf("sentinel %s: %d others (%v), %d replicas (%v)", x.Addr(), len(others), err1, len(replicas), err2)
			}
		}
		return nil
	})
	return s
}

// MasterAddr returns the master as the first Sentinel that answers names
// it.
func (s *Sentinel) MasterAddr() (string, error) {
	var err error
	for _, x := range s.Sentinels {
		if x.cmd == nil {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: x.Addr(), DisableIdentity: true})
		var a []string
		a, err = sc.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
		sc.Close()
		if err == nil {
			return a[0] + ":" + a[1], nil
		}
	}
	return "", err
}

// Cluster is a Redis Cluster of three masters without replicas, on
// loopback.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns host:port of the nodes.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// StartCluster starts three cluster-enabled redis-servers, gives each a
// third of the 16384 slots and introduces them to each other (what
// redis-cli --cluster create does), waits until every node says
// cluster_state:ok, and stops them by PID when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range 3 {
		dir := t.TempDir()
		c.Nodes = append(c.Nodes, start(t, freePort(t, true), []string{"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "2000"}))
	}
	ctx := context.Background()
	const slots = 16384
	for i, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true})
		err := rc.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", i*slots/3, (i+1)*slots/3-1).Err()
		if err == nil && i > 0 {
			err = rc.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.Nodes[0].Port)).Err()
		}
		rc.Close()
		if err != nil {
			t.Fatalf("redistest: cluster setup of %s: %v", n.Addr(), err)
		}
	}
	waitUntil(t, "cluster_state:ok on every node", 30*time.Second, func() error {
		for _, n := range c.Nodes {
			rc := redis.NewClient(&redis.Options{Addr: n.Addr(), DisableIdentity: true})
			info, err := rc.ClusterInfo(ctx).Result()
			rc.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("node %s: %v %q", n.Addr(), err, info)
			}
		}
		return nil
	})
	return c
}

// waitUntil calls f every 100ms until it returns nil, failing t with its
// last error after d.
func waitUntil(t testing.TB, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s: not after %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
