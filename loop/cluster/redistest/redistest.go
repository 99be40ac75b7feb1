// Package redistest runs a throwaway redis-server (Debian's redis-server
// package) on a free loopback port for tests, without persistence, and
// stops it by PID.
//
// When redis-server is not installed the test is skipped, unless
// NEED_REDIS=1 or CI is set (scripts/test.sh sets NEED_REDIS=1 once it has
// installed it), in which case it fails.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process. Its methods are called from the
// test goroutine.
type Server struct {
	// Port is the loopback port; it stays the same across Restart.
	Port int
	// URL is redis://127.0.0.1:<Port>.
	URL string

	bin  string
	dir  string
	args []string // more arguments: --replicaof, --cluster-enabled; a config file first with --sentinel
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs redis-server on a free loopback port and stops it when t
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, freePort(t, false), nil)
}

// binary returns the path of redis-server, or skips or fails t when it
// is not installed.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed (Debian: apt-get install redis-server; ./scripts/test.sh installs it)"
		if os.Getenv("NEED_REDIS") == "1" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// freePort returns a loopback port free now; with bus, one whose
// Redis Cluster bus port (+10000) is free too.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !bus {
			return port
		}
		if port+10000 > 65535 {
			continue
		}
		if lb, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			lb.Close()
			return port
		}
	}
	t.Fatal("redistest: no free port pair for a cluster node")
	return 0
}

// start runs redis-server with args on port and stops it when t ends.
func start(t testing.TB, port int, args []string) *Server {
	t.Helper()
	s := &Server{Port: port, URL: "redis://127.0.0.1:" + strconv.Itoa(port), bin: binary(t), dir: t.TempDir(), args: args}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr returns 127.0.0.1:<Port>.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// start spawns the process and waits until it answers PING.
func (s *Server) start() error {
	argv := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--daemonize", "no", "--loglevel", "warning"}
	if len(s.args) > 0 && s.args[len(s.args)-1] == "--sentinel" {
		argv = append(s.args, argv...) // redis-server sentinel.conf --sentinel --port …
	} else {
		argv = append(append(argv, "--save", "", "--appendonly", "no", "--dir", s.dir), s.args...)
	}
	cmd := exec.Command(s.bin, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: starting redis-server: %v", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.Ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.kill(syscall.SIGKILL)
			return fmt.Errorf("redistest: redis-server on port %d not ready after 10s: %v", s.Port, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("redistest: redis-server on port %d exited at start (port taken?)", s.Port)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ping sends PING and waits for +PONG.
func (s *Server) Ping() error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redistest: PING answered %q", line)
	}
	return nil
}

// Kill ends the server abruptly (SIGKILL, by PID), as a crash would.
func (s *Server) Kill() { s.kill(syscall.SIGKILL) }

// Stop ends the server with SIGTERM (SIGKILL after 5 s), by PID.
func (s *Server) Stop() { s.kill(syscall.SIGTERM) }

func (s *Server) kill(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart starts the server again on the same port after Kill or Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for try := 0; try < 20; try++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger a moment
	}
	t.Fatal(err)
}

// NeedVersion skips t when the installed redis-server is older than
// major (Redis 7 brought sharded pub/sub), or fails it with NEED_REDIS=1
// or CI set, where the machine is expected to have it (Debian 12 ships
// Redis 7).
func NeedVersion(t testing.TB, major int) {
	t.Helper()
	out, err := exec.Command(binary(t), "--version").Output()
	if err != nil {
		t.Fatalf("redistest: redis-server --version: %v", err)
	}
	// "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=…"
	_, v, _ := strings.Cut(string(out), "v=")
	v, _, _ = strings.Cut(v, ".")
	if n, err := strconv.Atoi(v); err != nil || n < major {
		msg := fmt.Sprintf("redis-server is older than %d (%s): install Redis %d or later (Debian 12: apt-get install redis-server)", major, strings.TrimSpace(string(out)), major)
		if os.Getenv("NEED_REDIS") == "1" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
