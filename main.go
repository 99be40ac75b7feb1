// Command sioloop is a Socket.IO server on epoll reactors. Run it with no
// arguments for the defaults (client port 3000, admin port 3001); --help
// lists every setting and its environment variable. "sioloop healthcheck"
// asks a running server's /health (for a Docker HEALTHCHECK); "sioloop
// config" checks the environment and prints the settings it gives.
//
// This package is the composition root: the settings table (config.go),
// the wiring of the reactors, the service's events and routes (package
// api) and the Redis adapter, and the run until a signal (service.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"sioloop/api"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(api.Healthcheck(os.Args[2:], os.Getenv))
	}
	if len(os.Args) > 1 && os.Args[1] == "config" {
		if err := checkConfig(os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sioloop:", err)
			os.Exit(2)
		}
		return
	}
	cfg, err := LoadConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sioloop:", err)
		os.Exit(2)
	}
	log := cfg.NewLogger(os.Stderr)
	if n, err := raiseOpenFiles(); err != nil {
		log.Warn("cannot raise the open-files limit", "err", err)
	} else {
		log.Info("open-files limit", "nofile", n)
	}
	svc, err := New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sioloop:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := svc.Run(ctx); err != nil {
		log.Error("sioloop stopped", "err", err)
		os.Exit(1)
	}
}

// raiseOpenFiles lifts the RLIMIT_NOFILE soft limit to the hard limit:
// every client is a file descriptor.
func raiseOpenFiles() (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}
