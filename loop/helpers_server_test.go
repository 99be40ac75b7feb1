package loop_test

// Helpers shared by the integration tests of this package: a real server
// on a loopback port and a wait for a condition. The raw clients are in
// helpers_http_test.go and helpers_ws_test.go, the canary in
// helpers_canary_test.go. Nothing there uses net/http or a WebSocket
// library: the tests must control pipelining, partial writes and bad
// framing.
//
// Every read has a deadline (ioTimeout) so a hang fails fast. Helpers that
// may run outside the test goroutine return errors; the must-style wrappers
// take the testing.TB of the goroutine that calls them.

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"sioloop/loop"
	"sioloop/tools/testnet"
)

const (
	// enginePath is where the echo app is mounted, as in the protocol test suite.
	enginePath = "/engine.io/"
	// ioTimeout bounds every read that must succeed.
	ioTimeout = 3 * time.Second
	// quiet is how long a read must stay empty to show the server holds a response.
	quiet = 200 * time.Millisecond
)

// testServer is a running loop.Server with the echo app at enginePath.
type testServer struct {
	srv  *loop.Server
	addr string
	cfg  loop.Config // resolved
}

// startServer starts a server for cfg (Addr is picked here; EventLoops
// defaults to 2 so that connections land on both reactors) and shuts it
// down when the test ends.
func startServer(t *testing.T, cfg loop.Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, func(srv *loop.Server) { srv.Handle(enginePath, loop.EchoHandler{}) })
}

// startServerWith is startServer with the apps that mount installs.
func startServerWith(t *testing.T, cfg loop.Config, mount func(*loop.Server)) *testServer {
	t.Helper()
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 2
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("LOOP_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for attempt := 0; ; attempt++ {
		cfg.Addr = testnet.FreeAddr(t)
		srv := loop.New(cfg, log)
		mount(srv)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve() }()
		select {
		case <-srv.Started():
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				select {
				case err := <-errc:
					if err != nil {
						t.Errorf("Serve: %v", err)
					}
				case <-time.After(3 * time.Second):
					t.Errorf("Serve did not return after Shutdown")
				}
			})
			return &testServer{srv: srv, addr: cfg.Addr, cfg: srv.Config()}
		case err := <-errc:
			// Another test may have grabbed the port between freeAddr and bind.
			if attempt < 5 {
				continue
			}
			t.Fatalf("Serve: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("server did not start within 5s")
		}
	}
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
