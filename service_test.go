package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// runService runs the service on fresh loopback ports and extra flags
// until the test ends. It returns the client port and admin listener
// addresses once both answer.
func runService(t *testing.T, extra ...string) (main, admin string) {
	t.Helper()
	return runServiceLog(t, io.Discard, extra...)
}

// runServiceLog is runService with the service's log written to w, which
// must be safe for concurrent use.
func runServiceLog(t *testing.T, w io.Writer, extra ...string) (main, admin string) {
	t.Helper()
	port, adminPort := testnet.FreePort(t), testnet.FreePort(t)
	main, admin = "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(adminPort)
	cfg, err := LoadConfig(append([]string{"--port", strconv.Itoa(port), "--admin-addr", admin}, extra...),
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(cfg, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for _, addr := range []string{main, admin} {
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := http.Get("http://" + addr + "/health")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return main, admin
}

// exchange writes one request on conn and reads its answer.
func exchange(t *testing.T, conn net.Conn, br *bufio.Reader, req string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("writing %.40q: %v", req, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to %.40q: %v", req, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// waitClosed reads conn until the server closes it and returns how long
// that took; it fails the test if the server answers or is still there
// after limit.
func waitClosed(t *testing.T, conn net.Conn, br *bufio.Reader, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(br)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %v", limit)
	}
	if len(b) > 0 {
		t.Errorf("the server answered %q before closing, want nothing", b)
	}
	return took
}

const getHealth = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"

// TestAdminIdleTimeout: a keep-alive connection to the admin listener that
// sends nothing after its answer is closed after ADMIN_IDLE_TIMEOUT, not
// before.
func TestAdminIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	_, admin := runService(t, "--admin-idle-timeout", idle.String())
	conn, err := net.Dial("tcp", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if resp := exchange(t, conn, br, getHealth); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /health: %d, close %v", resp.StatusCode, resp.Close)
	}
	if took := waitClosed(t, conn, br, 10*time.Second); took < idle/2 {
		t.Errorf("closed after %v, before the idle timeout %v", took, idle)
	}
}

// TestAdminSlowHead: a client that sends its head a line at a time, never
// ending it (slowloris), is cut after ADMIN_READ_TIMEOUT when that is
// shorter than the 10s allowed for a head, without an answer.
func TestAdminSlowHead(t *testing.T) {
	const read = 500 * time.Millisecond
	_, admin := runService(t, "--admin-read-timeout", read.String())
	conn, err := net.Dial("tcp", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		// Any read error ends this: the close, or the test's own Close.
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took < read/2 {
				t.Errorf("cut after %v, before ADMIN_READ_TIMEOUT %v", took, read)
			}
			return
		case <-tick.C:
			if time.Since(start) > 10*time.Second {
				t.Fatal("a head trickled for 10s is still being read")
			}
			_, _ = io.WriteString(conn, "X-Slow-"+strconv.Itoa(i)+": a\r\n")
		}
	}
}

// TestHeadTooLarge: a request head over the client port's cap (8 KiB,
// with net/http's 4 KiB of slack) is refused with 431 on the admin
// listener, and on the client port's net/http side, for a later request
// of a connection the reactors handed over.
func TestHeadTooLarge(t *testing.T) {
	main, admin := runService(t)
	big := "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	for _, addr := range []string{admin, main} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		if resp := exchange(t, conn, br, getHealth); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET /health: %d", addr, resp.StatusCode)
		}
		if resp := exchange(t, conn, br, big); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: a 64 KiB head: %d, want 431", addr, resp.StatusCode)
		}
	}
}

// TestOpenAdminWarning: the service logs one WARN line at start when POST
// /SendWebsocketEvent is open on the client port (ADMIN_ON_MAIN_PORT=true,
// ADMIN_TOKEN empty), naming both ways to close it, and none otherwise.
func TestOpenAdminWarning(t *testing.T) {
	f := func(want int, extra ...string) {
		t.Helper()
		var log testnet.Buffer
		runServiceLog(t, &log, extra...)
		// The warning comes before the "sioloop listening" line.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "sioloop listening"); {
			if time.Now().After(deadline) {
				t.Fatalf("no \"sioloop listening\" line within 10s:\n%s", log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		var warns []string
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "level=WARN") {
				warns = append(warns, line)
			}
		}
		if len(warns) != want {
			t.Fatalf("flags %q: %d WARN lines, want %d:\n%s", extra, len(warns), want, log.String())
		}
		for _, w := range warns {
			for _, sub := range []string{"/SendWebsocketEvent", "client port", "ADMIN_TOKEN", "ADMIN_ON_MAIN_PORT=false"} {
				if !strings.Contains(w, sub) {
					t.Errorf("WARN line %q does not mention %q", w, sub)
				}
			}
		}
	}
	f(1)
	f(0, "--admin-token", "x")
	f(0, "--admin-on-main-port=false")
}

// TestServiceEventLimit: MAX_EVENTS_PER_SECOND and EVENT_BURST reach the
// Socket.IO server (limits.js in tools/interop drives them end to end).
func TestServiceEventLimit(t *testing.T) {
	cfg, err := LoadConfig([]string{"--max-events-per-second", "7.5", "--event-burst", "9"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if svc.IO.MaxEventsPerSecond != 7.5 || svc.IO.EventBurst != 9 {
		t.Errorf("SocketIO MaxEventsPerSecond %v, EventBurst %d; want 7.5 and 9", svc.IO.MaxEventsPerSecond, svc.IO.EventBurst)
	}
}
