package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"sioloop/loop"
	"sioloop/tools/testnet"
)

// TestGracefulShutdown: on shutdown the clients receive everything that
// was queued for them before the signal, then a WebSocket close 1001
// ("going away", so socket.io-client reconnects elsewhere); /health says
// "draining" meanwhile, and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	port, admin := testnet.FreePort(t), testnet.FreePort(t)
	cfg, err := LoadConfig([]string{"--port", strconv.Itoa(port), "--admin-addr", "127.0.0.1:" + strconv.Itoa(admin)}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	<-svc.Server.Started()

	const clients, msgs = 3, 2000
	type client struct {
		c  net.Conn
		rw io.ReadWriter
	}
	var cs []client
	for i := 0; i < clients; i++ {
		c, br, _, err := ws.Dial(context.Background(), fmt.Sprintf("ws://127.0.0.1:%d/socket.io/?EIO=4&transport=websocket", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var r io.Reader = c
		if br != nil {
			r = io.MultiReader(br, c)
		}
		rw := struct {
			io.Reader
			io.Writer
		}{bufio.NewReader(r), c}
		if _, err := wsutil.ReadServerText(rw); err != nil {
			t.Fatal(err)
		}
		_ = wsutil.WriteClientText(c, []byte("40"))
		if m, err := wsutil.ReadServerText(rw); err != nil || !strings.HasPrefix(string(m), "40{") {
			t.Fatalf("CONNECT: %q %v", m, err)
		}
		cs = append(cs, client{c, rw})
	}
	// A client that never reads nor answers the close keeps the server
	// draining (lingering) long enough for /health to be seen at 503.
	idle, _, _, err := ws.Dial(context.Background(), fmt.Sprintf("ws://127.0.0.1:%d/socket.io/?EIO=4&transport=websocket", port))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	pad := strings.Repeat("x", 1000)
	for i := 0; i < msgs; i++ {
		if _, err := svc.IO.Broadcast(&loop.Broadcast{Event: "n", Args: []byte(fmt.Sprintf(`%d,"%s"`, i, pad))}); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // what SIGTERM does in main

	// /health turns 503 while the clients are being sent away.
	healthCode := make(chan int, 1)
	go func() {
		for i := 0; i < 100; i++ {
			res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", admin))
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusServiceUnavailable {
					healthCode <- res.StatusCode
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		healthCode <- 0
	}()

	var wg sync.WaitGroup
	for i, cl := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			next := 0
			for {
				frames, err := wsutil.ReadServerMessage(cl.rw, nil)
				if err != nil {
					var closed wsutil.ClosedError
					if errors.As(err, &closed) && closed.Code == ws.StatusGoingAway {
						if next != msgs {
							t.Errorf("client %d: close after %d of %d messages", i, next, msgs)
						}
						return
					}
					t.Errorf("client %d: %v after %d messages (want close 1001 after %d)", i, err, next, msgs)
					return
				}
				for _, f := range frames {
					if f.OpCode == ws.OpClose {
						code, _ := ws.ParseCloseFrameData(f.Payload)
						if code != ws.StatusGoingAway || next != msgs {
							t.Errorf("client %d: close %d after %d messages, want 1001 after %d", i, code, next, msgs)
						}
						return
					}
					if string(f.Payload) == "2" {
						continue
					}
					if want := fmt.Sprintf(`42["n",%d,`, next); !strings.HasPrefix(string(f.Payload), want) {
						t.Errorf("client %d: got %.30q, want %s...", i, f.Payload, want)
						return
					}
					next++
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	if code := <-healthCode; code != http.StatusServiceUnavailable {
		t.Errorf("/health never answered 503 while draining")
	}
}
