// Command conformance serves the apps that the official Engine.IO v4 and
// Socket.IO v5 protocol test suites expect, on one port:
//
//   - /engine.io/: a bare Engine.IO echo: every message is sent back on the
//     same session, nothing else is sent;
//
// with pingInterval 300 ms, pingTimeout 200 ms and maxPayload 1000000.
//
//	go run ./tools/conformance [--port 3000]
package main

import (
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
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := loop.New(loop.Config{
		Addr:         fmt.Sprintf(":%d", port),
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1000000,
	}, log)
	srv.Handle("/engine.io/", loop.EchoHandler{})

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
