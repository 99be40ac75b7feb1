package attack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// serverBin is the sioloop binary TestMain built.
var serverBin string

// nofileEnv, set in a child's environment, makes the test binary a tiny
// wrapper: it sets RLIMIT_NOFILE (soft and hard) to the value and execs
// the server in its place, keeping the PID. The server raises its soft
// limit to the hard one at start, so both must be set.
const nofileEnv = "SIOLOOP_ATTACK_NOFILE"

func TestMain(m *testing.M) {
	if v := os.Getenv(nofileEnv); v != "" {
		execLimited(v)
		return
	}
	dir, err := os.MkdirTemp("", "sioloop-attack-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "sioloop")
	build := exec.Command("go", "build", "-o", serverBin, ".")
	build.Dir = filepath.Join("..", "..") // the module root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "attack: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fds := openFDs()
	code := m.Run()
	os.RemoveAll(dir)
	// The runtime opens a few descriptors of its own on first use of the
	// network (epoll, its wake-up pipe): allow them, not a test's sockets.
	if n := openFDs(); code == 0 && n > fds+8 {
		fmt.Fprintf(os.Stderr, "attack: %d descriptors open after the tests, %d before: a test leaks sockets\n", n, fds)
		code = 1
	}
	os.Exit(code)
}

// openFDs counts the test process's open descriptors.
func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// execLimited is the wrapper mode of the test binary (nofileEnv).
func execLimited(v string) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err == nil {
		// syscall.Setrlimit also stops the runtime from restoring the
		// limit it found at start for the program it execs.
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err == nil {
		bin := os.Args[1]
		err = syscall.Exec(bin, []string{bin}, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "attack: nofile wrapper:", err)
	os.Exit(3)
}

// server is one sioloop child process.
type server struct {
	t         *testing.T
	cmd       *exec.Cmd
	Pid       int
	Addr      string // client port, 127.0.0.1:PORT
	AdminAddr string // admin listener, 127.0.0.1:PORT
	Log       *logBuffer

	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
}

// serverOpts are the ways a test can change how the child starts.
type serverOpts struct {
	nofile uint64 // RLIMIT_NOFILE soft and hard; 0: inherited
}

// startServer starts sioloop with env (KEY=value items) on top of the
// harness's own settings, waits until both ports accept connections, and
// arranges for the child to be killed when the test ends.
func startServer(t *testing.T, opts serverOpts, env ...string) *server {
	t.Helper()
	port, admin := testnet.FreePort(t), testnet.FreePort(t)
	s := &server{
		t:         t,
		Addr:      "127.0.0.1:" + strconv.Itoa(port),
		AdminAddr: "127.0.0.1:" + strconv.Itoa(admin),
		Log:       newLogBuffer(),
		done:      make(chan struct{}),
	}
	base := []string{
		"PORT=" + strconv.Itoa(port),
		"ADMIN_ADDR=" + s.AdminAddr,
		"LOG_LEVEL=info",
		// Two reactors whatever the machine: one canary client each.
		"EVENT_LOOPS=" + strconv.Itoa(canaryClients),
		// A bounded graceful shutdown: finish sends SIGTERM and waits.
		"SHUTDOWN_TIMEOUT=3s",
	}
	if opts.nofile > 0 {
		self, err := os.Executable()
		if err != nil {
			t.Fatalf("cannot find the test binary for the nofile wrapper: %v", err)
		}
		s.cmd = exec.Command(self, serverBin)
		base = append(base, nofileEnv+"="+strconv.FormatUint(opts.nofile, 10))
	} else {
		s.cmd = exec.Command(serverBin)
	}
	s.cmd.Env = append(append(cleanEnv(), base...), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.Log, s.Log
	// Its own process group: a ^C to go test does not reach it first, and
	// it never takes signals meant for the test.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", serverBin, err)
	}
	s.Pid = s.cmd.Process.Pid
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.kill)
	if err := s.waitListening(10 * time.Second); err != nil {
		t.Fatalf("server did not start: %v\nlog:\n%s", err, s.Log.Tail(4000))
	}
	return s
}

// cleanEnv is the test's environment without any sioloop setting, so that
// a variable exported in the developer's shell does not change a test.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG", "GOTRACEBACK":
			out = append(out, kv)
		}
	}
	return out
}

func (s *server) waitListening(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, addr := range []string{s.Addr, s.AdminAddr} {
		stopped := func() error {
			if s.Exited() {
				return s.exitError()
			}
			return nil
		}
		if err := testnet.WaitListen(addr, time.Until(deadline), stopped); err != nil {
			return err
		}
	}
	return nil
}

// Exited reports whether the process has ended.
func (s *server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// exitError describes how the process ended; call it only once Exited.
func (s *server) exitError() error {
	if s.waitErr == nil {
		return errors.New("process exited with status 0")
	}
	return fmt.Errorf("process exited: %v", s.waitErr)
}

// Terminate sends SIGTERM and waits up to d for the exit. It returns nil
// for a clean exit with status 0.
func (s *server) Terminate(d time.Duration) error {
	if s.Exited() {
		return fmt.Errorf("already gone before SIGTERM: %w", s.exitError())
	}
	if err := syscall.Kill(s.Pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(d):
		s.kill()
		return fmt.Errorf("no exit within %v of SIGTERM (killed)", d)
	}
}

// kill ends the child with SIGKILL, by PID, and waits for it.
func (s *server) kill() {
	if !s.Exited() {
		_ = syscall.Kill(s.Pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("server pid %d still running 10s after SIGKILL", s.Pid)
	}
}

// logBuffer keeps a child's output: the first logHead bytes and the last
// logTail bytes, so that a server logging in a loop cannot fill memory.
type logBuffer struct {
	mu      sync.Mutex
	head    bytes.Buffer
	tail    []byte
	dropped int
}

const (
	logHead = 2 << 20
	logTail = 1 << 20
)

func newLogBuffer() *logBuffer { return &logBuffer{} }

// Write implements io.Writer; it is called from exec's copying goroutine.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	if room := logHead - l.head.Len(); room > 0 {
		k := min(room, len(p))
		l.head.Write(p[:k])
		p = p[k:]
	}
	l.tail = append(l.tail, p...)
	if len(l.tail) > 2*logTail {
		cut := len(l.tail) - logTail
		l.dropped += cut
		l.tail = append(l.tail[:0], l.tail[cut:]...)
	}
	return n, nil
}

// String returns what was kept of the output.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped == 0 {
		return l.head.String() + string(l.tail)
	}
	return fmt.Sprintf("%s\n[… %d bytes dropped …]\n%s", l.head.String(), l.dropped, l.tail)
}

// Tail returns the last n bytes kept.
func (l *logBuffer) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Lines returns the kept lines containing every one of words,
// case-insensitively.
func (l *logBuffer) Lines(words ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		low := strings.ToLower(line)
		ok := true
		for _, w := range words {
			if !strings.Contains(low, strings.ToLower(w)) {
				ok = false
				break
			}
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}
