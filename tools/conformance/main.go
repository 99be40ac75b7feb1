// Command conformance serves the apps that the official Engine.IO v4 and
// Socket.IO v5 protocol test suites expect, on one port:
//
//   - /engine.io/: a bare Engine.IO echo: every message is sent back on the
//     same session, nothing else is sent;
//   - /socket.io/: namespaces "/" and "/custom"; on connect the server first
//     emits "auth" with the CONNECT payload ({} when there was none); on "/",
//     "message" is answered with "message-back" and the same arguments and
//     "message-with-ack" is acknowledged with its arguments;
//
// with pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000 and a
// connectTimeout of 1000 ms.
//
//	go run ./tools/conformance [--port 3000]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"sioloop/loop"
)

func main() {
	port := 3000
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil {
		port = p
	}
	flag.IntVar(&port, "port", port, "TCP port to listen on (env PORT)")
	pingInterval := flag.Duration("ping-interval", 300*time.Millisecond, "Engine.IO pingInterval (the suites expect 300ms)")
	pingTimeout := flag.Duration("ping-timeout", 200*time.Millisecond, "Engine.IO pingTimeout (the suites expect 200ms)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := loop.New(loop.Config{
		Addr:         fmt.Sprintf(":%d", port),
		PingInterval: *pingInterval,
		PingTimeout:  *pingTimeout,
		MaxPayload:   1000000,
	}, log)
	srv.Handle("/engine.io/", loop.EchoHandler{})
	srv.Handle("/socket.io/", socketIOApp(srv))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	go func() {
		<-srv.Started()
		log.Info("conformance server listening", "port", port, "engine.io", "/engine.io/")
	}()
	if err := srv.Serve(); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// socketIOApp is the app the Socket.IO v5 protocol test suite expects.
func socketIOApp(srv *loop.Server) *loop.SocketIO {
	io := loop.NewSocketIO(srv)
	io.ConnectTimeout = time.Second
	for _, name := range []string{"/", "/custom"} {
		ns := io.Of(name)
		ns.Use = func(s *loop.Socket, auth []byte) error {
			if len(auth) == 0 {
				auth = []byte("{}")
			}
			s.Data = bytes.Clone(auth)
			return nil
		}
		// The suite's WebSocket helper misses a message that arrives in
		// the same read as the one before it (it re-arms its listener
		// after a microtask), so "auth" goes out shortly after the
		// CONNECT reply rather than in the same TCP segment, as Node's
		// one-write-per-tick engine.io happens to do.
		ns.OnConnect = func(s *loop.Socket) {
			s.After(5*time.Millisecond, func(s *loop.Socket) { s.Emit("auth", s.Data.([]byte), nil) })
		}
	}
	root := io.Of("/")
	root.On("message", func(s *loop.Socket, ev *loop.Event) {
		s.Emit("message-back", ev.Args, ev.Attachments)
	})
	root.On("message-with-ack", func(s *loop.Socket, ev *loop.Event) {
		s.Ack(ev, ev.Args, ev.Attachments)
	})
	return io
}
