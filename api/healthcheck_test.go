package api

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"sioloop/tools/testnet"
)

// env returns a getenv over the given name, value pairs.
func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestHealthURL(t *testing.T) {
	f := func(getenv func(string) string, want string) {
		t.Helper()
		got, err := healthURL(getenv)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("healthURL = %q, want %q", got, want)
		}
	}
	f(env(), "http://127.0.0.1:3001/health")
	f(env("ADMIN_ADDR", ":4001"), "http://127.0.0.1:4001/health")
	f(env("ADMIN_ADDR", "0.0.0.0:4001"), "http://127.0.0.1:4001/health")
	f(env("ADMIN_ADDR", "[::]:4001"), "http://127.0.0.1:4001/health")
	f(env("ADMIN_ADDR", "10.1.2.3:4001"), "http://10.1.2.3:4001/health")
	f(env("ADMIN_ADDR", "[::1]:4001"), "http://[::1]:4001/health")
	f(env("ADMIN_ADDR", "localhost:4001"), "http://localhost:4001/health")
	f(env("ADMIN_ADDR", "off"), "http://127.0.0.1:3000/health")
	f(env("ADMIN_ADDR", "off", "PORT", "8080"), "http://127.0.0.1:8080/health")
	f(env("ADMIN_ADDR", "off", "ADMIN_ON_MAIN_PORT", "true"), "http://127.0.0.1:3000/health")
	f(env("ADMIN_ADDR", "off", "ADMIN_ON_MAIN_PORT", "false"), "error: ADMIN_ADDR=off and ADMIN_ON_MAIN_PORT=false: no port serves /health")
	f(env("ADMIN_ADDR", "3001"), `error: invalid ADMIN_ADDR "3001": want host:port like :3001`)
}

// TestHealthcheck runs the subcommand against a running service.
func TestHealthcheck(t *testing.T) {
	ts := startService(t)
	adminAddr := strings.TrimPrefix(ts.admin, "http://")
	f := func(args []string, getenv func(string) string, code int, out string) {
		t.Helper()
		var stdout, stderr strings.Builder
		if got := healthcheck(args, getenv, &stdout, &stderr); got != code {
			t.Errorf("healthcheck(%q) = %d, want %d (stdout %q, stderr %q)", args, got, code, stdout.String(), stderr.String())
		}
		printed := stdout.String()
		if code != 0 {
			printed = stderr.String()
		}
		if !strings.HasPrefix(printed, out) || strings.Count(printed, "\n") != 1 {
			t.Errorf("healthcheck(%q) printed %q, want one line starting %q", args, printed, out)
		}
	}
	f(nil, env("ADMIN_ADDR", adminAddr), 0, "healthy: GET "+ts.admin+"/health: 200 OK")
	f(nil, env("ADMIN_ADDR", "off", "PORT", strconv.Itoa(ts.port)), 0, "healthy: GET "+ts.main+"/health: 200 OK")
	f([]string{"--url", ts.main + "/health"}, env(), 0, "healthy: GET "+ts.main+"/health: 200 OK")
	f([]string{"--url", ts.main + "/nope"}, env(), 1, "unhealthy: GET "+ts.main+"/nope: 404 Not Found")
	closed := testnet.FreePort(t)
	f(nil, env("ADMIN_ADDR", "127.0.0.1:"+strconv.Itoa(closed)), 1, "unhealthy: Get ")
	f([]string{"--url", "::bad"}, env(), 1, `unhealthy: invalid --url "::bad"`)
	f(nil, env("ADMIN_ADDR", "nope"), 1, `unhealthy: invalid ADMIN_ADDR "nope"`)
	if code := healthcheck([]string{"--bogus"}, env(), io.Discard, io.Discard); code != 1 {
		t.Errorf("healthcheck with an unknown flag: exit %d, want 1", code)
	}
}
