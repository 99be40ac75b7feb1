package interop

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// ------------------------------------------------------------------------------- server

// server is one running server process under test. Its methods are called from the test
// goroutine that owns it.
type server struct {
	h         *harness
	name      string
	cfg       serverConfig
	port      int
	adminPort int
	url       string
	out       *tailBuffer // stdout and stderr of every incarnation

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd.Wait's result, valid once done is closed
}

// startServer starts a server for cfg on fresh ports and stops it when t ends.
func (h *harness) startServer(t *testing.T, name string, cfg serverConfig) *server {
	t.Helper()
	s := &server{h: h, name: name, cfg: cfg, port: testnet.FreePort(t), adminPort: testnet.FreePort(t), out: newTailBuffer(256 << 10)}
	s.url = "http://127.0.0.1:" + strconv.Itoa(s.port)
	failedStart := false
	t.Cleanup(func() {
		exited := s.exited()
		s.stop(t)
		if exited && !failedStart {
			t.Errorf("server %s had exited before the end of the test: %v\n%s", s.name, s.err, s.out.String())
		}
	})
	err := s.start(t)
	// Another test process may bind a FreePort between its choice and the
	// server's bind: start again on fresh ports.
	for try := 1; err != nil && try < 3 && strings.Contains(s.out.String(), "address already in use"); try++ {
		s.port, s.adminPort = testnet.FreePort(t), testnet.FreePort(t)
		s.url = "http://127.0.0.1:" + strconv.Itoa(s.port)
		err = s.start(t)
	}
	if err != nil {
		failedStart = true
		t.Fatalf("starting server %s: %v\n--- server output ---\n%s", name, err, s.out.String())
	}
	return s
}

// start spawns the process and waits until its readiness URL answers 200.
func (s *server) start(t *testing.T) error {
	t.Helper()
	prog, args, env, ready := s.h.command(t, s.cfg, s.port, s.adminPort)
	cmd := exec.Command(prog, args...)
	cmd.Dir = s.h.root
	cmd.Env = append(scrubbedEnv(), env...)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	// Own process group: stop signals every process the server started. Pdeathsig ends the
	// server if this test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	fmt.Fprintf(s.out, "=== interop: starting %s %s with %s\n", prog, strings.Join(args, " "), strings.Join(env, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.exited() {
			return fmt.Errorf("exited before it was ready: %v", s.err)
		}
		resp, err := client.Get(s.url + ready)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", ready, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) exited() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the server's process group, then SIGKILL after 5 s.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	if !s.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Logf("server %s ignored SIGTERM for 5s: SIGKILL", s.name)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.done
		}
	}
	// Whatever the leader left behind in its group goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	s.cmd = nil
}

// restart stops the server and starts it again on the same ports.
func (s *server) restart(t *testing.T) error {
	t.Helper()
	s.stop(t)
	var err error
	for try := 0; try < 5; try++ {
		if err = s.start(t); err == nil {
			return nil
		}
		s.stop(t) // the port may still be held by the old process's sockets: retry
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// ------------------------------------------------------------------------------- output

// tailBuffer is an io.Writer, safe for concurrent use, that keeps the last max bytes written
// and counts everything written.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int // bytes ever written
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += len(p)
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// Len returns the number of bytes ever written, a mark for Since.
func (b *tailBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Since returns what was written after mark, as far as it is still kept.
func (b *tailBuffer) Since(mark int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.total - mark
	if n > len(b.buf) {
		return "[…]\n" + string(b.buf)
	}
	return string(b.buf[len(b.buf)-n:])
}

func (b *tailBuffer) String() string { return b.Since(0) }
