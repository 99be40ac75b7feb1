package loop_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sioloop/loop"
	"sioloop/tools/testnet"
)

// fdChildEnv names the variable that makes the test binary the server
// child of TestAcceptSurvivesDescriptorExhaustion; its value is the address.
const fdChildEnv = "SIOLOOP_TEST_FD_CHILD"

// TestAcceptSurvivesDescriptorExhaustion runs a server in a child process
// whose open-files limit is 64 and opens 200 idle connections to it. Accept
// fails with EMFILE: the server must log and count it, keep serving the
// WebSocket session it already has, and accept again once the idle
// connections are gone. (gnet's own acceptor would stop the engine, and
// the process would exit.)
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	if addr := os.Getenv(fdChildEnv); addr != "" {
		runFDChild(addr)
		return
	}
	addr := testnet.FreeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptSurvivesDescriptorExhaustion$")
	cmd.Env = append(os.Environ(), fdChildEnv+"="+addr)
	var logs testnet.Buffer
	cmd.Stderr = &logs
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child did not start: %q %v; log:\n%s", line, err, logs.String())
	}

	canary, _, err := dialWS(addr, "EIO=4&transport=websocket")
	if err != nil {
		t.Fatalf("canary: %v", err)
	}
	defer canary.c.Close()
	canary.next(t) // open packet
	echo := func(msg string) {
		t.Helper()
		canary.sendText(t, msg)
		canary.expectText(t, msg)
	}
	echo("4before")

	var idle []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // the backlog is full: the kernel stops answering SYNs
		}
		idle = append(idle, c)
	}
	waitFor(t, "a failed accept to be logged", func() bool {
		return strings.Contains(logs.String(), "too many open files")
	})
	echo("4during") // the session the server has goes on
	for _, c := range idle {
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)

	// Descriptors are free again: new clients get in.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, _, err := dialWS(addr, "EIO=4&transport=websocket")
		if err == nil {
			w.next(t)
			w.c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new connection accepted after the idle ones closed: %v; log:\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	echo("4after")

	stdin.Close() // the child reports its counters and exits 0
	line, _ := out.ReadString('\n')
	var acceptErrors uint64
	if _, err := fmt.Sscanf(line, "accept_errors %d", &acceptErrors); err != nil || acceptErrors == 0 {
		t.Errorf("child reported %q, want accept_errors > 0", line)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v; log:\n%s", err, logs.String())
	}
	if n := strings.Count(logs.String(), "cannot accept client connections"); n > 3 {
		t.Errorf("accept failures logged %d times: want them rate-limited", n)
	}
}

// runFDChild is the child of TestAcceptSurvivesDescriptorExhaustion.
func runFDChild(addr string) {
	lim := unix.Rlimit{Cur: 64, Max: 64}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		os.Exit(3)
	}
	srv := loop.New(loop.Config{Addr: addr, EventLoops: 2}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	srv.Handle(enginePath, loop.EchoHandler{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		fmt.Printf("accept_errors %d\n", srv.Snapshot().AcceptErrors)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := <-errc; err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
