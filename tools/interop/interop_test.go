package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Targets selected with INTEROP_TARGET.
const (
	targetSioloop = "sioloop" // the root package main and tools/conformance (default)
	targetNode    = "node"    // tools/peers/node/server.js
)

// restartMarker is the line a scenario prints when it wants the server stopped and started
// again on the same port (sio.js reconnect).
const restartMarker = "@@RESTART_SERVER@@"

// jwtSecret is the HS256 secret of the server started for the auth scenario.
const jwtSecret = "interop-secret-2f9c"

// namespaces is the NAMESPACES value of every Socket.IO server the scenarios run against.
const namespaces = "/custom,/org-*"

// The conformance echo server's fixed heartbeat: the Engine.IO v4 test suite wants a short
// one. It is too short for 100 clients in one Node process on a loaded 2-core machine (the
// event loop stalls past pingTimeout and healthy sessions are dropped), so only the heartbeat
// scenario runs against it; the other Engine.IO scenarios get relaxedPing.
const (
	conformancePingInterval = 300 * time.Millisecond
	conformancePingTimeout  = 200 * time.Millisecond
)

// heartbeatPingTimeout is the pingTimeout of the heartbeat scenario's server.
const heartbeatPingTimeout = time.Second

// relaxedPing is the heartbeat (Node's defaults) of the servers the other scenarios run against.
var relaxedPing = [2]time.Duration{25 * time.Second, 20 * time.Second}

// app says which application a server process serves.
type app int

const (
	appSocketIO app = iota // the sioloop application at /socket.io/, admin routes on the same port
	appEngineIO            // a bare Engine.IO echo at /engine.io/
)

// serverConfig is what a scenario needs from the server, whatever the target; env maps it to
// each target's command line and environment, in one place.
type serverConfig struct {
	app          app
	namespaces   string        // NAMESPACES; empty: only "/"
	jwtSecret    string        // JWT_SECRET; empty: no authentication
	pingInterval time.Duration // zero: the target's default
	pingTimeout  time.Duration // zero: the target's default
	corsOrigins  string        // CORS_ORIGINS (sioloop only); empty: CORS off
	recovery     time.Duration // CONNECTION_STATE_RECOVERY; zero: off
	maxUserConns int           // MAX_USER_CONNECTIONS (sioloop only); zero: off
	jwksURL      string        // JWT_JWKS_URL (sioloop only); empty: none
	// settings are more NAME=value settings, sioloop only (the limits of limits_test.go, which
	// the Node peer does not have). With any, readiness is GET /health: a handshake would
	// take a slot of the limit under test.
	settings []string
}

// command returns the program, arguments, environment additions and readiness path of cfg
// for the harness's target, listening on port (and adminPort for sioloop's admin listener).
func (h *harness) command(t *testing.T, cfg serverConfig, port, adminPort int) (prog string, args, env []string, ready string) {
	t.Helper()
	switch h.target {
	case targetNode:
		// The Node peer serves both applications on one port and takes milliseconds.
		env = []string{"PORT=" + strconv.Itoa(port), "HOST=127.0.0.1", "MAX_PAYLOAD=1000000"}
		if cfg.namespaces != "" {
			env = append(env, "NAMESPACES="+cfg.namespaces)
		}
		if cfg.jwtSecret != "" {
			env = append(env, "JWT_SECRET="+cfg.jwtSecret)
		}
		if cfg.pingInterval > 0 {
			env = append(env, "PING_INTERVAL="+strconv.FormatInt(cfg.pingInterval.Milliseconds(), 10))
		}
		if cfg.pingTimeout > 0 {
			env = append(env, "PING_TIMEOUT="+strconv.FormatInt(cfg.pingTimeout.Milliseconds(), 10))
		}
		if cfg.recovery > 0 {
			env = append(env, "CONNECTION_STATE_RECOVERY="+strconv.FormatInt(cfg.recovery.Milliseconds(), 10))
		}
		if cfg.corsOrigins != "" {
			env = append(env, "CORS_ORIGINS="+cfg.corsOrigins)
		}
		for _, s := range cfg.settings {
			// The Node peer knows the Admin UI's settings and REDIS_URL
			// (server.js useAdminUI, useRedis), not the limits.
			if strings.HasPrefix(s, "ADMIN_UI") || strings.HasPrefix(s, "REDIS_URL=") {
				env = append(env, s)
			}
		}
		return h.node, []string{filepath.Join(h.root, "tools", "peers", "node", "server.js")}, env, "/health"
	case targetSioloop:
		if cfg.app == appEngineIO {
			// tools/conformance: --port N; its heartbeat defaults to 300ms/200ms and is only
			// passed (as Go durations) when a scenario wants another one.
			args = []string{"--port", strconv.Itoa(port)}
			if cfg.pingInterval > 0 && cfg.pingInterval != conformancePingInterval {
				args = append(args, "--ping-interval", cfg.pingInterval.String())
			}
			if cfg.pingTimeout > 0 && cfg.pingTimeout != conformancePingTimeout {
				args = append(args, "--ping-timeout", cfg.pingTimeout.String())
			}
			return h.binary(t, "conformance"), args, nil, "/engine.io/?EIO=4&transport=polling"
		}
		env = []string{"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(adminPort)}
		if cfg.namespaces != "" {
			env = append(env, "NAMESPACES="+cfg.namespaces)
		}
		if cfg.jwtSecret != "" {
			env = append(env, "JWT_SECRET="+cfg.jwtSecret)
		}
		if cfg.corsOrigins != "" {
			env = append(env, "CORS_ORIGINS="+cfg.corsOrigins)
		}
		if cfg.pingInterval > 0 {
			env = append(env, "PING_INTERVAL="+cfg.pingInterval.String())
		}
		if cfg.pingTimeout > 0 {
			env = append(env, "PING_TIMEOUT="+cfg.pingTimeout.String())
		}
		if cfg.recovery > 0 {
			env = append(env, "CONNECTION_STATE_RECOVERY="+cfg.recovery.String())
		}
		if cfg.maxUserConns > 0 {
			env = append(env, "MAX_USER_CONNECTIONS="+strconv.Itoa(cfg.maxUserConns))
		}
		if cfg.jwksURL != "" {
			env = append(env, "JWT_JWKS_URL="+cfg.jwksURL)
		}
		if len(cfg.settings) > 0 {
			return h.binary(t, "sioloop"), nil, append(env, cfg.settings...), "/health"
		}
		return h.binary(t, "sioloop"), nil, env, "/socket.io/?EIO=4&transport=polling"
	}
	t.Fatalf("BUG: unknown target %q", h.target)
	return "", nil, nil, ""
}

// scrubbedEnv is the environment of this process without the variables that configure a
// server or a scenario, so a developer's shell cannot change what a test means.
func scrubbedEnv() []string {
	drop := map[string]bool{
		"PORT": true, "HOST": true, "ADMIN_ADDR": true, "NAMESPACES": true, "JWT_SECRET": true,
		"PING_INTERVAL": true, "PING_TIMEOUT": true, "MAX_PAYLOAD": true, "ADMIN_MAX_BODY": true,
		"MAX_USER_CONNECTIONS": true, "SECOND_URL": true, "NODE_URL": true,
		"TARGET_URL": true, "CONNECTION_STATE_RECOVERY": true, "RECOVERY_WINDOW_MS": true, "SIO_MANY_CLIENTS": true, "ADMIN_URL": true, "CORS_ORIGINS": true,
		"JWT_JWKS_URL": true, "JWT_JWKS_REFRESH": true, "JWT_AUDIENCE": true, "JWT_ISSUER": true, "JWT_PUBLIC_KEY": true, "TOKEN_URL": true,
		"MAX_CONNECTIONS": true, "MAX_CONNECTIONS_PER_IP": true, "TRUSTED_PROXIES": true, "CONNECT_RATE": true, "CONNECT_BURST": true,
		"MAX_ROOMS_PER_SOCKET": true, "MAX_EVENTS_PER_SECOND": true, "EVENT_BURST": true,
		"CONNECT_HOOK_URL": true, "SUBSCRIBE_HOOK_URL": true, "EVENT_HOOK_URL": true, "DISCONNECT_HOOK_URL": true, "HOOK_SECRET": true,
		"HOOK_TIMEOUT": true, "HOOK_CONCURRENCY": true, "HOOK_FAIL_OPEN": true, "HOOK_FORWARD_HEADERS": true, "HOOK_BATCH_INTERVAL": true,
		"HOOK_BATCH_SIZE": true, "BACKEND_URL": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// ------------------------------------------------------------------------------- harness

// harness holds what every test shares: the target, the repository root, Node and the
// binaries built for the sioloop target.
type harness struct {
	target string
	root   string // repository root (holds go.mod)
	dir    string // tools/interop
	node   string // path of the node executable

	mu    sync.Mutex
	built map[string]buildResult
}

type buildResult struct {
	path string
	err  error
}

var (
	tmpDir      string // removed by TestMain
	harnessOnce sync.Once
	theHarness  *harness
	harnessErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sioloop-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// getHarness checks the prerequisites once and fails the test with the fix when one is missing.
func getHarness(t *testing.T) *harness {
	t.Helper()
	harnessOnce.Do(func() { theHarness, harnessErr = newHarness() })
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return theHarness
}

func newHarness() (*harness, error) {
	target := os.Getenv("INTEROP_TARGET")
	if target == "" {
		target = targetSioloop
	}
	if target != targetSioloop && target != targetNode {
		return nil, fmt.Errorf("invalid INTEROP_TARGET %q: want %q (default) or %q", target, targetSioloop, targetNode)
	}
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root := filepath.Clean(filepath.Join(dir, "..", ".."))
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.Contains(mod, []byte("module sioloop")) {
		return nil, fmt.Errorf("repository root not found: %s/go.mod is missing or not module sioloop", root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not installed (want Node.js >= 20 on PATH): %v", err)
	}
	need := []string{
		filepath.Join(dir, "node_modules", "engine.io-client", "package.json"),
		filepath.Join(dir, "node_modules", "socket.io-client", "package.json"),
	}
	if target == targetNode {
		peer := filepath.Join(root, "tools", "peers", "node", "node_modules")
		need = append(need,
			filepath.Join(peer, "socket.io", "package.json"),
			filepath.Join(peer, "engine.io", "package.json"),
			filepath.Join(peer, "jsonwebtoken", "package.json"))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("node packages are not installed (%s is missing): run ./scripts/test.sh from the repository root, "+
				"or npm ci in tools/interop and tools/peers/node", p)
		}
	}
	return &harness{target: target, root: root, dir: dir, node: node, built: map[string]buildResult{}}, nil
}

// binary builds (once per test binary) the named sioloop program and returns its path:
// "sioloop" is the root package main, "conformance" is sioloop/tools/conformance.
func (h *harness) binary(t *testing.T, name string) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.built[name]
	if !ok {
		pkg := map[string]string{"sioloop": "sioloop", "conformance": "sioloop/tools/conformance"}[name]
		if pkg == "" {
			t.Fatalf("BUG: no package for binary %q", name)
		}
		r.path = filepath.Join(tmpDir, name)
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		args := []string{"build", "-o", r.path}
		// INTEROP_GOFLAGS adds build flags, e.g. INTEROP_GOFLAGS=-race runs the server
		// under the race detector.
		args = append(args, strings.Fields(os.Getenv("INTEROP_GOFLAGS"))...)
		args = append(args, pkg)
		cmd := exec.Command(goTool, args...)
		cmd.Dir = h.root
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("INTEROP_TARGET=%s: cannot build the server under test: `go %s` in %s failed: %v\n%s\n"+
				"The sioloop target needs the root package main (main.go) and tools/conformance to build. "+
				"To check the harness alone, run INTEROP_TARGET=node go test ./tools/interop",
				h.target, strings.Join(args, " "), h.root, err, bytes.TrimSpace(out))
		} else {
			t.Logf("built %s in %v", pkg, time.Since(start).Round(time.Millisecond))
		}
		h.built[name] = r
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// ------------------------------------------------------------------------------- scenarios

// scenario is one run of `node <tool>.js <name>` against srv.
type scenario struct {
	tool    string        // "eio" or "sio"
	name    string        // scenario name, see the header of eio.js and sio.js
	env     []string      // extra environment of the script
	timeout time.Duration // the driver's limit; the script gets 10 s less
	slow    bool          // skipped under -short
}

// run runs sc as the current (sub)test, logging every line the script prints. A line equal to
// restartMarker restarts srv. On failure, the server output of the run is logged too.
func (h *harness) run(t *testing.T, srv *server, sc scenario) {
	t.Helper()
	if sc.slow && testing.Short() {
		t.Skipf("%s %s is slow: skipped under -short", sc.tool, sc.name)
	}
	if srv.exited() {
		t.Fatalf("server %s is not running: %v\n%s", srv.name, srv.err, srv.out.String())
	}
	mark := srv.out.Len()
	ctx, cancel := context.WithTimeout(context.Background(), sc.timeout)
	defer cancel()
	script := filepath.Join(h.dir, sc.tool+".js")
	args := []string{script, "--url", srv.url, "--timeout", strconv.Itoa(int((sc.timeout - 10*time.Second).Seconds())), sc.name}
	cmd := exec.CommandContext(ctx, h.node, args...)
	cmd.Dir = h.dir
	cmd.Env = append(scrubbedEnv(), sc.env...)
	if srv.adminPort > 0 && h.target == targetSioloop {
		// The admin routes also answer on their own listener.
		cmd.Env = append(cmd.Env, "ADMIN_URL=http://127.0.0.1:"+strconv.Itoa(srv.adminPort))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var failures []string
	sawResult := false
	sc2 := bufio.NewScanner(stdout)
	sc2.Buffer(make([]byte, 64<<10), 1<<20)
	for sc2.Scan() {
		line := sc2.Text()
		if line == restartMarker {
			t.Logf("%s: restarting server %s (SIGTERM, wait, start on port %d)", sc.tool, srv.name, srv.port)
			if err := srv.restart(t); err != nil {
				t.Errorf("restarting server %s: %v", srv.name, err)
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				break
			}
			t.Logf("%s: server %s is back", sc.tool, srv.name)
			continue
		}
		t.Log(line)
		if strings.HasPrefix(line, "FAIL") {
			failures = append(failures, line)
		}
		if strings.HasPrefix(line, "ok ") {
			sawResult = true
		}
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Errorf("%s %s: killed after the driver's timeout of %v", sc.tool, sc.name, sc.timeout)
	}
	if err != nil || len(failures) > 0 || !sawResult {
		t.Errorf("node %s.js %s failed after %v (exit: %v); %d failed check(s):\n%s",
			sc.tool, sc.name, time.Since(start).Round(time.Millisecond), err, len(failures), strings.Join(failures, "\n"))
		if stderr.Len() > 0 {
			t.Logf("--- script stderr ---\n%s", stderr.String())
		}
		out := srv.out.Since(mark)
		if out == "" {
			out = "(nothing)"
		}
		t.Logf("--- server %s output during the scenario ---\n%s", srv.name, out)
	}
}

// TestEngineIO runs eio.js against a bare Engine.IO echo server.
func TestEngineIO(t *testing.T) {
	h := getHarness(t)
	srv := h.startServer(t, "eio", serverConfig{app: appEngineIO, pingInterval: relaxedPing[0], pingTimeout: relaxedPing[1]})
	for _, sc := range []scenario{
		{tool: "eio", name: "websocket", timeout: 60 * time.Second},
		{tool: "eio", name: "polling", timeout: 60 * time.Second},
		{tool: "eio", name: "upgrade", timeout: 60 * time.Second},
		{tool: "eio", name: "binary", timeout: 60 * time.Second},
		{tool: "eio", name: "large", timeout: 90 * time.Second},
		{tool: "eio", name: "concurrent", timeout: 90 * time.Second},
		{tool: "eio", name: "reconnect", timeout: 60 * time.Second},
	} {
		t.Run(sc.name, func(t *testing.T) { h.run(t, srv, sc) })
	}
	t.Run("heartbeat", func(t *testing.T) {
		// A short interval so the scenario sees several pings, but a
		// pingTimeout that absorbs a loaded CI machine: with polling, each
		// pong is a new POST, and the client gives up when the next ping
		// is later than pingInterval + pingTimeout.
		fast := h.startServer(t, "eio-heartbeat", serverConfig{
			app: appEngineIO, pingInterval: conformancePingInterval, pingTimeout: heartbeatPingTimeout,
		})
		h.run(t, fast, scenario{tool: "eio", name: "heartbeat", timeout: 60 * time.Second})
	})
}

// TestSocketIO runs sio.js against the sioloop application.
func TestSocketIO(t *testing.T) {
	h := getHarness(t)
	srv := h.startServer(t, "sio", serverConfig{app: appSocketIO, namespaces: namespaces})
	for _, sc := range []scenario{
		{tool: "sio", name: "connect", timeout: 60 * time.Second},
		{tool: "sio", name: "namespaces", timeout: 60 * time.Second},
		{tool: "sio", name: "echo", timeout: 60 * time.Second},
		{tool: "sio", name: "serverack", timeout: 60 * time.Second},
		{tool: "sio", name: "binary", timeout: 60 * time.Second},
		{tool: "sio", name: "rooms", timeout: 60 * time.Second},
		{tool: "sio", name: "admin", timeout: 60 * time.Second},
		{tool: "sio", name: "recovery-off", timeout: 60 * time.Second},
		{tool: "sio", name: "many", timeout: 180 * time.Second, slow: true},
	} {
		t.Run(sc.name, func(t *testing.T) { h.run(t, srv, sc) })
	}
	t.Run("auth", func(t *testing.T) {
		authSrv := h.startServer(t, "sio-jwt", serverConfig{app: appSocketIO, namespaces: namespaces, jwtSecret: jwtSecret})
		h.run(t, authSrv, scenario{tool: "sio", name: "auth", env: []string{"JWT_SECRET=" + jwtSecret}, timeout: 60 * time.Second})
	})
	t.Run("users", func(t *testing.T) {
		if h.target != targetSioloop {
			t.Skipf("MAX_USER_CONNECTIONS and the user target are sioloop's; INTEROP_TARGET=%s", h.target)
		}
		const max = 3
		us := h.startServer(t, "sio-users", serverConfig{app: appSocketIO, namespaces: namespaces, jwtSecret: jwtSecret, maxUserConns: max})
		h.run(t, us, scenario{tool: "sio", name: "users", env: []string{"JWT_SECRET=" + jwtSecret, "MAX_USER_CONNECTIONS=" + strconv.Itoa(max)}, timeout: 60 * time.Second})
	})
	t.Run("tokens", func(t *testing.T) {
		if h.target != targetSioloop {
			t.Skip("token expiry, refresh and JWKS are sioloop's (the Node peer has none)")
		}
		issuer := newTokenIssuer(t)
		ts := h.startServer(t, "sio-jwks", serverConfig{app: appSocketIO, namespaces: namespaces, jwksURL: issuer.url + "/jwks"})
		h.run(t, ts, scenario{tool: "sio", name: "tokens", env: []string{"TOKEN_URL=" + issuer.url}, timeout: 60 * time.Second})
		if n := issuer.fetches.Load(); n < 2 {
			t.Errorf("the JWKS was fetched %d times, want the start and at least one on-demand fetch after the rotation", n)
		}
	})
	t.Run("recovery", func(t *testing.T) {
		const window = 2 * time.Second
		rs := h.startServer(t, "sio-recovery", serverConfig{app: appSocketIO, namespaces: namespaces, recovery: window})
		h.run(t, rs, scenario{tool: "sio", name: "recovery", env: []string{"RECOVERY_WINDOW_MS=" + strconv.FormatInt(window.Milliseconds(), 10)}, timeout: 90 * time.Second})
	})
	t.Run("reconnect", func(t *testing.T) {
		// A server of its own: the scenario has it restarted.
		rs := h.startServer(t, "sio-restart", serverConfig{app: appSocketIO, namespaces: namespaces})
		h.run(t, rs, scenario{tool: "sio", name: "reconnect", timeout: 90 * time.Second})
	})
}
