// Command conformance serves the apps that the official Engine.IO v4 and
// Socket.IO v5 protocol test suites expect, on one port (see package
// suiteapp): a bare Engine.IO echo at /engine.io/ and the suite's Socket.IO
// app at /socket.io/, with pingInterval 300 ms and pingTimeout 200 ms.
//
//	go run ./tools/conformance [--port 3000] [--event-loops 0]
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
	"sioloop/tools/conformance/suiteapp"
)

func main() {
	port := 3000
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil {
		port = p
	}
	loops := 0
	if n, err := strconv.Atoi(os.Getenv("EVENT_LOOPS")); err == nil {
		loops = n
	}
	flag.IntVar(&port, "port", port, "TCP port to listen on (env PORT)")
	flag.IntVar(&loops, "event-loops", loops, "number of reactors, 0: GOMAXPROCS (env EVENT_LOOPS)")
	pingInterval := flag.Duration("ping-interval", suiteapp.PingInterval, "Engine.IO pingInterval (the suites expect 300ms)")
	pingTimeout := flag.Duration("ping-timeout", suiteapp.PingTimeout, "Engine.IO pingTimeout (the suites expect 200ms)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := suiteapp.Config(fmt.Sprintf(":%d", port), loops)
	cfg.PingInterval, cfg.PingTimeout = *pingInterval, *pingTimeout
	srv := loop.New(cfg, log)
	suiteapp.Mount(srv)

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
		log.Info("conformance server listening", "port", port, "event_loops", srv.Config().EventLoops,
			"engine.io", suiteapp.EnginePath, "socket.io", suiteapp.SocketIOPath)
	}()
	if err := srv.Serve(); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
