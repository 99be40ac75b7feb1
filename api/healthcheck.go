package api

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// HealthcheckTimeout bounds the whole healthcheck request.
const HealthcheckTimeout = 2 * time.Second

// Healthcheck is the "sioloop healthcheck" subcommand, for a Docker
// HEALTHCHECK: it asks GET /health of the running server and returns the
// process exit code, 0 for a 200 answer and 1 for anything else (Docker
// reserves 2), after printing one line (stdout when healthy, stderr when
// not).
//
// The URL is http://<ADMIN_ADDR>/health, with a missing or wildcard host
// replaced by the loopback address (":3001" asks 127.0.0.1:3001). With
// ADMIN_ADDR=off it is the client port, http://127.0.0.1:<PORT>/health.
// The flag --url overrides it; --timeout changes the 2 s bound.
func Healthcheck(args []string, getenv func(string) string) int {
	return healthcheck(args, getenv, os.Stdout, os.Stderr)
}

func healthcheck(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sioloop healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "health URL to ask (default: from ADMIN_ADDR, or PORT when ADMIN_ADDR=off)")
	timeout := fs.Duration("timeout", HealthcheckTimeout, "bound on the whole request")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *url == "" {
		var err error
		if *url, err = healthURL(getenv); err != nil {
			fmt.Fprintln(stderr, "unhealthy:", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: invalid --url %q: %v\n", *url, err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "unhealthy: GET %s: %s\n", *url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "healthy: GET %s: %s\n", *url, resp.Status)
	return 0
}

// healthURL derives the health URL from the environment of the server.
func healthURL(getenv func(string) string) (string, error) {
	addr := getenv("ADMIN_ADDR")
	if addr == "" {
		addr = ":3001"
	}
	if addr == "off" {
		if on, err := strconv.ParseBool(getenv("ADMIN_ON_MAIN_PORT")); err == nil && !on {
			return "", fmt.Errorf("ADMIN_ADDR=off and ADMIN_ON_MAIN_PORT=%s: no port serves /health", getenv("ADMIN_ON_MAIN_PORT"))
		}
		port := getenv("PORT")
		if port == "" {
			port = "3000"
		}
		addr = ":" + port
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("invalid ADMIN_ADDR %q: want host:port like :3001", addr)
	}
	// A listener on every address answers on loopback.
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health", nil
}
