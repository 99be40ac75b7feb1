package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	c, err := ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Connections != 100 || c.Duration != 10*time.Second || c.Interval != time.Second ||
		c.Server != "http://localhost:3000" || c.Scenario != ScenarioEcho || c.Transport != TransportWebSocket ||
		c.Namespace != "/" || c.MaxErrors != 0 || c.MaxLoss != "0" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseFlagsOldToolForms(t *testing.T) {
	// The old Node tool took bare numbers: seconds for --duration, ms for --interval.
	c, err := ParseFlags([]string{"--connections", "5", "--duration", "3", "--interval", "250"}, io.Discard)
	if err != nil || c.Connections != 5 || c.Duration != 3*time.Second || c.Interval != 250*time.Millisecond {
		t.Fatalf("bare numbers: %+v %v", c, err)
	}
	c, err = ParseFlags([]string{"--duration=1m", "--interval=50ms"}, io.Discard)
	if err != nil || c.Duration != time.Minute || c.Interval != 50*time.Millisecond {
		t.Fatalf("durations: %+v %v", c, err)
	}
	if _, err := ParseFlags([]string{"--interval", "soon"}, io.Discard); err == nil {
		t.Fatal("--interval soon: want an error")
	}
	if _, err := ParseFlags([]string{"stray"}, io.Discard); err == nil {
		t.Fatal("positional argument: want an error")
	}
}

func resolved(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	c, err := ParseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = c.resolve(context.Background())
	return c, err
}

func TestResolveLoopbackOnly(t *testing.T) {
	c, err := resolved(t, "--server", "http://127.0.0.1:3000")
	if err != nil || c.target.String() != "127.0.0.1:3000" || c.adminURL != "http://127.0.0.1:3000/SendWebsocketEvent" {
		t.Fatalf("loopback: %v %v %q", c.target, err, c.adminURL)
	}
	if _, err := resolved(t, "--server", "http://10.1.2.3:3000"); !errors.Is(err, ErrRemoteTarget) {
		t.Fatalf("remote server: %v, want ErrRemoteTarget", err)
	}
	if _, err := resolved(t, "--server", "http://127.0.0.1:3000", "--admin-url", "http://192.0.2.1:9000"); !errors.Is(err, ErrRemoteTarget) {
		t.Fatalf("remote admin URL: %v, want ErrRemoteTarget", err)
	}
	if c, err := resolved(t, "--server", "http://10.1.2.3:3000", "--allow-remote"); err != nil || c.target.String() != "10.1.2.3:3000" {
		t.Fatalf("--allow-remote: %v %v", c.target, err)
	}
	if c, err := resolved(t, "--server", "ws://[::1]:4000/", "--admin-url", "http://127.0.0.1:4001/custom"); err != nil ||
		c.target.String() != "[::1]:4000" || c.adminURL != "http://127.0.0.1:4001/custom" {
		t.Fatalf("ws:// and admin path: %v %q %v", c.target, c.adminURL, err)
	}
	if _, err := resolved(t, "--server", "https://127.0.0.1"); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("https: %v, want a TLS error", err)
	}
}

func TestResolveChecks(t *testing.T) {
	bad := [][]string{
		{"--connections", "0"},
		{"--scenario", "flood"},
		{"--transport", "carrier-pigeon"},
		{"--namespace", "chat"},
		{"--namespace", `/a"b`},
		{"--channel", `a\b`},
		{"--scenario", "fanout", "--rate", "0"},
		{"--max-loss", "ten"},
		{"--max-loss", "150%"},
		{"--payload", "-1"},
		{"--sources", "300"},
		{"--procs", "2", "--connections", "1"},
		{"--procs", "2", "--transport", "polling"},
	}
	for _, args := range bad {
		if _, err := resolved(t, append(args, "--server", "http://127.0.0.1:1")...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	c, err := resolved(t, "--server", "http://127.0.0.1:1", "--connections", "45000", "--auth-token", `t"ok`, "--payload", "3")
	if err != nil || c.Sources != 18 || string(c.authJSON) != `{"token":"t\"ok"}` || c.pad != "xxx" {
		t.Fatalf("derived fields: sources %d auth %s pad %q err %v", c.Sources, c.authJSON, c.pad, err)
	}
}

func TestSeveralServers(t *testing.T) {
	c, err := resolved(t, "--server", "http://127.0.0.1:3001, http://localhost:3002,http://127.0.0.1:3003", "--pid", "7,8,9", "--connections", "6000")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.targets) != 3 || c.targets[1].String() != "127.0.0.1:3002" || c.hosts[1] != "localhost:3002" || c.target != c.targets[0] {
		t.Errorf("targets %v hosts %q", c.targets, c.hosts)
	}
	if c.adminURL != "http://127.0.0.1:3001/SendWebsocketEvent" || c.Sources != 3 {
		t.Errorf("admin %q sources %d: want the first server and 3 sources", c.adminURL, c.Sources)
	}
	if fmt.Sprint(c.PIDs) != "[7 8 9]" {
		t.Errorf("pids %v", c.PIDs)
	}
	if _, err := resolved(t, "--server", "http://127.0.0.1:1,http://127.0.0.1:2", "--transport", "polling"); err == nil {
		t.Error("several servers over polling: no error")
	}
	if _, err := resolved(t, "--server", "http://127.0.0.1:1,http://[::1]:2", "--sources", "2"); err == nil {
		t.Error("--sources 2 with an IPv6 target: no error")
	}
}

func TestAutoSources(t *testing.T) {
	f := func(conns int, server string, want int) {
		t.Helper()
		c, err := resolved(t, "--server", server, "--connections", fmt.Sprint(conns))
		if err != nil || c.Sources != want {
			t.Errorf("%d clients to %s: sources %d %v, want %d", conns, server, c.Sources, err, want)
		}
	}
	f(100, "http://127.0.0.1:1", 1)
	f(2500, "http://127.0.0.1:1", 1)
	f(2501, "http://127.0.0.1:1", 2)
	f(19000, "http://127.0.0.1:1", 8)
	f(19000, "http://[::1]:1", 1)
}

func TestMaxLoss(t *testing.T) {
	f := func(flag string, expected, want uint64) {
		t.Helper()
		c, err := resolved(t, "--server", "http://127.0.0.1:1", "--max-loss", flag)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.lossAllowed(expected); got != want {
			t.Errorf("--max-loss %s of %d: %d allowed, want %d", flag, expected, got, want)
		}
	}
	f("0", 1000, 0)
	f("7", 1000, 7)
	f("1%", 1000, 10)
	f("0.5%", 1000, 5)
	f("100%", 1000, 1000)
}

func TestRunRefusesRemote(t *testing.T) {
	if got := run([]string{"--server", "http://10.1.2.3:3000", "--quiet"}); got != 2 {
		t.Fatalf("exit status %d, want 2", got)
	}
}

func TestRoomsFlags(t *testing.T) {
	f := func(args string, ok bool) {
		t.Helper()
		c, err := ParseFlags(strings.Fields(args), io.Discard)
		if err == nil {
			err = c.resolve(context.Background())
		}
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", args, err, ok)
		}
	}
	f("--server http://127.0.0.1:1 --scenario fanout --rooms 100 --room-affinity", true)
	f("--server http://127.0.0.1:1 --scenario fanout --rooms -1", false)
	f("--server http://127.0.0.1:1 --scenario echo --rooms 3", false)
	f("--server http://127.0.0.1:1 --scenario fanout --room-affinity", false)
	f("--server http://127.0.0.1:1 --scenario fanout --transport polling --rooms 3", false)
}
