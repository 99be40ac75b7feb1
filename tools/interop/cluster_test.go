package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// clusterProc is one server process of the cluster test.
type clusterProc struct {
	name string
	url  string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
}

// startClusterProc starts prog with env on port and waits until GET /health answers 200
// with "redis":"up"; it is stopped (SIGTERM to its process group, SIGKILL after 5 s) when t
// ends.
func startClusterProc(t *testing.T, name, dir, prog string, args, env []string, port int) *clusterProc {
	t.Helper()
	p := &clusterProc{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), out: newTailBuffer(128 << 10), done: make(chan struct{})}
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(clusterEnv(), env...)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p.cmd = cmd
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, p.out.String())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("%s exited at start:\n%s", name, p.out.String())
		}
		resp, err := client.Get(p.url + "/health")
		if err == nil {
			var h struct{ Redis string }
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && h.Redis == "up" {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready (GET /health 200 with redis up) after 30s: %v\n%s", name, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *clusterProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// clusterEnv is scrubbedEnv without the Redis settings of the developer's shell either.
func clusterEnv() []string {
	var env []string
	for _, kv := range scrubbedEnv() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "REDIS_") && !strings.HasPrefix(k, "CLUSTER_") {
			env = append(env, kv)
		}
	}
	return env
}

// nodeScript is one Node script of tools/interop run by a cluster test: the test reads its
// stdout line by line (lines) and answers on its stdin.
type nodeScript struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	lines  *bufio.Scanner
	stderr bytes.Buffer
	cancel context.CancelFunc
}

// startNodeScript runs node with args in tools/interop and env added to clusterEnv; the script
// and its children are killed after timeout or when t ends.
func startNodeScript(t *testing.T, h *harness, timeout time.Duration, env []string, args ...string) *nodeScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	args[0] = filepath.Join(h.dir, args[0])
	s := &nodeScript{cmd: exec.CommandContext(ctx, h.node, args...), cancel: cancel}
	t.Cleanup(cancel)
	cmd := s.cmd
	cmd.Dir = h.dir
	cmd.Env = append(clusterEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if s.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", strings.Join(args, " "), err)
	}
	s.lines = bufio.NewScanner(s.stdout)
	s.lines.Buffer(nil, 4<<20) // a result line may be long
	return s
}

// wait reads what is left of stdout (past a line too long to scan too) and waits for the
// script to exit.
func (s *nodeScript) wait() error {
	for s.lines.Scan() {
	}
	_, _ = io.Copy(io.Discard, s.stdout)
	return s.cmd.Wait()
}

// finish waits for the script, fails t for each of procs that exited while it ran, and judges
// its checks.
func (s *nodeScript) finish(t *testing.T, script string, procs []*clusterProc, checks *checkLines) {
	t.Helper()
	err := s.wait()
	for _, p := range procs {
		if p.exited() {
			t.Errorf("%s exited while %s ran:\n%s", p.name, script, p.out.String())
		}
	}
	checks.judge(t, script, err, &s.stderr)
}

// checkLines counts the "ok …" and "FAIL …" lines of a script (lib.js's Runner).
type checkLines struct {
	passed   int
	failures []string
}

func (c *checkLines) add(line string) {
	switch {
	case strings.HasPrefix(line, "FAIL"):
		c.failures = append(c.failures, line)
	case strings.HasPrefix(line, "ok "):
		c.passed++
	}
}

// judge fails t when the script exited with an error, failed a check or passed none.
func (c *checkLines) judge(t *testing.T, script string, exit error, stderr *bytes.Buffer) {
	t.Helper()
	if exit != nil || len(c.failures) > 0 || c.passed == 0 {
		t.Errorf("node %s: exit %v, %d passed, %d failed:\n%s\n--- stderr ---\n%s",
			script, exit, c.passed, len(c.failures), strings.Join(c.failures, "\n"), stderr.String())
	}
}

// clusterAdminToken is the ADMIN_TOKEN of the sioloop servers of
// TestCluster: the /sockets routes are served on the client port only with
// a token.
const clusterAdminToken = "interop-admin-token"

// TestCluster runs cluster.js against three sioloop servers and one Node socket.io server
// with @socket.io/redis-adapter sharing a real redis-server, and kills Redis for 5 s in the
// middle (see cluster.js).
func TestCluster(t *testing.T) {
	runCluster(t, clusterRun{adapter: "pubsub", servers: 3, outage: true})
}

// TestClusterStreams runs cluster.js with REDIS_ADAPTER=streams: two sioloop servers and one
// Node socket.io server with @socket.io/redis-streams-adapter 0.3.1 on one stream, Redis
// killed for 5 s in the middle as in TestCluster.
func TestClusterStreams(t *testing.T) {
	runCluster(t, clusterRun{adapter: "streams", servers: 2, outage: true})
}

// TestClusterSharded runs cluster.js with REDIS_ADAPTER=sharded: two sioloop servers and one
// Node socket.io server with createShardedAdapter of @socket.io/redis-adapter 8.3 (dynamic
// subscription mode) on one Redis 7, with sharded pub/sub.
func TestClusterSharded(t *testing.T) {
	redistest.NeedVersion(t, 7)
	runCluster(t, clusterRun{adapter: "sharded", servers: 2})
}

// TestClusterShardedPrivate is TestClusterSharded in dynamic-private subscription mode, the
// sioloop servers with REDIS_SUBSCRIPTION_MODE=dynamic-private and the Node server with
// createShardedAdapter({subscriptionMode: "dynamic-private"}): besides every check of
// TestClusterSharded, each socket's own channel is subscribed by its server alone, whichever
// kind it is, and a POST with "to" (one socket id) goes on that channel, from either kind.
func TestClusterShardedPrivate(t *testing.T) {
	redistest.NeedVersion(t, 7)
	runCluster(t, clusterRun{adapter: "sharded", servers: 2, mode: "dynamic-private"})
}

// TestClusterShardedOnCluster is TestClusterSharded on a 3-master Redis Cluster: the sioloop
// servers with REDIS_CLUSTER_ADDRS, the Node server with node-redis's createCluster.
func TestClusterShardedOnCluster(t *testing.T) {
	redistest.NeedVersion(t, 7)
	runCluster(t, clusterRun{adapter: "sharded", servers: 2, onCluster: true})
}

// clusterRun is one run of cluster.js.
type clusterRun struct {
	adapter   string // REDIS_ADAPTER of every server
	servers   int    // sioloop servers, besides the Node one
	outage    bool   // kill Redis for 5 s in the middle
	onCluster bool   // a 3-master Redis Cluster instead of one redis-server (no outage then)
	mode      string // REDIS_SUBSCRIPTION_MODE of every server with sharded; "" for the default
}

// needPeerPackages fails t unless the Node peer (tools/peers/node) has every package of names
// installed, and returns the peer's directory.
func needPeerPackages(t *testing.T, h *harness, names ...string) string {
	t.Helper()
	peer := filepath.Join(h.root, "tools", "peers", "node")
	for _, m := range names {
		if _, err := os.Stat(filepath.Join(peer, "node_modules", m, "package.json")); err != nil {
			t.Fatalf("%s is not installed in tools/peers/node: run npm ci there (./scripts/test.sh does)", m)
		}
	}
	return peer
}

// runCluster runs cluster.js against the sioloop servers and the Node peer of run.
func runCluster(t *testing.T, run clusterRun) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the cluster test runs sioloop with the Node peer; INTEROP_TARGET=%s", h.target)
	}
	peer := needPeerPackages(t, h, "@socket.io/redis-adapter", "@socket.io/redis-emitter", "@socket.io/redis-streams-adapter", "redis")
	start := time.Now()
	var rs *redistest.Server
	redisEnv := func() string { return "REDIS_URL=" + rs.URL }
	redisURL := ""
	if run.onCluster {
		rc := redistest.StartCluster(t)
		redisEnv = func() string { return "REDIS_CLUSTER_ADDRS=" + strings.Join(rc.Addrs(), ",") }
		redisURL = rc.Nodes[0].URL
	} else {
		rs = redistest.Start(t)
		redisURL = rs.URL
	}
	bin := h.binary(t, "sioloop")
	var sioloop []string
	var procs []*clusterProc
	var modeEnv []string
	if run.mode != "" {
		modeEnv = []string{"REDIS_SUBSCRIPTION_MODE=" + run.mode}
	}
	for i := 0; i < run.servers; i++ {
		port, admin := testnet.FreePort(t), testnet.FreePort(t)
		p := startClusterProc(t, "sioloop"+strconv.Itoa(i), h.root, bin, nil, append([]string{
			"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(admin),
			redisEnv(), "REDIS_ADAPTER=" + run.adapter, "REDIS_PUBLISH_RETRY=3s", "LOG_LEVEL=warn", "ADMIN_TOKEN=" + clusterAdminToken,
		}, modeEnv...), port)
		procs = append(procs, p)
		sioloop = append(sioloop, p.url)
	}
	nodePort := testnet.FreePort(t)
	np := startClusterProc(t, "node", h.root, h.node, []string{filepath.Join(peer, "server.js")}, append([]string{
		"PORT=" + strconv.Itoa(nodePort), "HOST=127.0.0.1", redisEnv(), "REDIS_ADAPTER=" + run.adapter,
	}, modeEnv...), nodePort)
	procs = append(procs, np)
	t.Logf("Redis, %d sioloop and 1 Node server (%s %s) ready in %v", run.servers, run.adapter, run.mode, time.Since(start).Round(time.Millisecond))

	env := []string{"CLUSTER_SIOLOOP=" + strings.Join(sioloop, ","), "CLUSTER_ADMIN_TOKEN=" + clusterAdminToken, "CLUSTER_NODE=" + np.url,
		"CLUSTER_REDIS=" + redisURL, "CLUSTER_ADAPTER=" + run.adapter, "CLUSTER_SUBSCRIPTION_MODE=" + run.mode}
	if run.outage {
		env = append(env, "CLUSTER_OUTAGE=1")
	}
	js := startNodeScript(t, h, 120*time.Second, env, "cluster.js", "--timeout", "110")
	var checks checkLines
	for js.lines.Scan() {
		line := js.lines.Text()
		if line == "@@KILL_REDIS@@" {
			rs.Kill()
			t.Logf("redis-server killed (SIGKILL, pid); starting it again in 5s")
			fmt.Fprintln(js.stdin, "killed")
			time.Sleep(5 * time.Second)
			rs.Restart(t)
			t.Logf("redis-server restarted on port %d", rs.Port)
			fmt.Fprintln(js.stdin, "restarted")
			continue
		}
		t.Log(line)
		checks.add(line)
	}
	js.finish(t, "cluster.js", procs, &checks)
	t.Logf("cluster test took %v", time.Since(start).Round(time.Millisecond))
}

// TestClusterUsers runs sio.js cluster-users: two sioloop servers and a Node socket.io server
// with @socket.io/redis-adapter on one real redis-server, all checking HS256 tokens, and one
// user with sockets on each of them (two on the first sioloop server). One POST with "user"
// to either sioloop server must reach every socket of the user, on every server, and no
// socket of another user; GET /sockets?user=…&count=true counts them cluster-wide.
func TestClusterUsers(t *testing.T) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the cluster test runs sioloop with the Node peer; INTEROP_TARGET=%s", h.target)
	}
	peer := needPeerPackages(t, h, "@socket.io/redis-adapter")
	rs := redistest.Start(t)
	bin := h.binary(t, "sioloop")
	var urls []string
	admin := ""
	for i := 0; i < 2; i++ {
		port, adminPort := testnet.FreePort(t), testnet.FreePort(t)
		if i == 0 {
			admin = "http://127.0.0.1:" + strconv.Itoa(adminPort)
		}
		p := startClusterProc(t, "sioloop"+strconv.Itoa(i), h.root, bin, nil, []string{
			"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(adminPort), "NAMESPACES=" + namespaces,
			"REDIS_URL=" + rs.URL, "LOG_LEVEL=warn", "JWT_SECRET=" + jwtSecret,
		}, port)
		urls = append(urls, p.url)
	}
	nodePort := testnet.FreePort(t)
	np := startClusterProc(t, "node", h.root, h.node, []string{filepath.Join(peer, "server.js")}, []string{
		"PORT=" + strconv.Itoa(nodePort), "HOST=127.0.0.1", "REDIS_URL=" + rs.URL, "NAMESPACES=" + namespaces, "JWT_SECRET=" + jwtSecret,
	}, nodePort)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.node, filepath.Join(h.dir, "sio.js"), "--url", urls[0], "--timeout", "50", "cluster-users")
	cmd.Dir = h.dir
	cmd.Env = append(clusterEnv(), "JWT_SECRET="+jwtSecret, "SECOND_URL="+urls[1], "NODE_URL="+np.url, "ADMIN_URL="+admin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	passed := 0
	var failures []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		t.Log(line)
		switch {
		case strings.HasPrefix(line, "FAIL"):
			failures = append(failures, line)
		case strings.HasPrefix(line, "ok "):
			passed++
		}
	}
	if err != nil || len(failures) > 0 || passed == 0 {
		t.Errorf("node sio.js cluster-users: exit %v, %d passed, %d failed:\n%s\n--- stderr ---\n%s",
			err, passed, len(failures), strings.Join(failures, "\n"), stderr.String())
	}
}
