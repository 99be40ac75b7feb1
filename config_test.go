package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.AdminAddr != ":3001" || !c.AdminOnMainPort || c.SocketIOPath != "/socket.io/" ||
		c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second || c.MaxPayload != 1000000 ||
		c.ConnectTimeout != 45*time.Second || c.ShutdownTimeout != 10*time.Second || c.LogLevel != slog.LevelInfo ||
		c.LogFormat != "text" || c.EventLoops != 0 || c.MaxOutbound != 1<<20 || !c.IOURing || c.LoopConfig().DisableIOURing ||
		c.AdminReadTimeout != 30*time.Second || c.AdminIdleTimeout != 60*time.Second ||
		c.ConnectionStateRecovery != 0 || c.RecoveryBufferBytes != 64<<20 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadConfigEnvAndFlags(t *testing.T) {
	c, err := LoadConfig(
		[]string{"--port", "4000", "--ping-timeout", "5s"},
		env(map[string]string{"PORT": "3500", "PING_INTERVAL": "10s", "NAMESPACES": "/chat, /org-*", "CORS_ORIGINS": "https://a.example,https://b.example", "ADMIN_ON_MAIN_PORT": "false", "LOG_LEVEL": "debug", "IO_URING": "off"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 4000 {
		t.Errorf("flag must win over env: port %d", c.Port)
	}
	if c2, err := LoadConfig([]string{"--connection-state-recovery", "2m"}, env(nil), io.Discard); err != nil || c2.ConnectionStateRecovery != 2*time.Minute {
		t.Errorf("recovery: %v %v", c2.ConnectionStateRecovery, err)
	}
	if c.PingInterval != 10*time.Second || c.PingTimeout != 5*time.Second {
		t.Errorf("ping %v/%v", c.PingInterval, c.PingTimeout)
	}
	if strings.Join(c.Namespaces, "|") != "/chat|/org-*" || len(c.CORSOrigins) != 2 || c.AdminOnMainPort || c.LogLevel != slog.LevelDebug {
		t.Errorf("lists and bools: %+v", c)
	}
	lc := c.LoopConfig()
	if lc.Addr != ":4000" || lc.PingTimeout != 5*time.Second || !lc.DisableIOURing {
		t.Errorf("LoopConfig: %+v", lc)
	}
}

func TestLoadConfigLimits(t *testing.T) {
	c, err := LoadConfig([]string{"--connect-rate", "2.5"}, env(map[string]string{"MAX_CONNECTIONS": "1000", "MAX_CONNECTIONS_PER_IP": "20",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7, ::ffff:172.16.0.0/108, fd00::/8"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	lc := c.LoopConfig()
	var nets []string
	for _, p := range lc.TrustedProxies {
		nets = append(nets, p.String())
	}
	if lc.MaxConnections != 1000 || lc.MaxConnectionsPerIP != 20 || lc.ConnectRate != 2.5 || lc.ConnectBurst != 0 ||
		strings.Join(nets, " ") != "10.0.0.0/8 192.168.1.7/32 172.16.0.0/12 fd00::/8" {
		t.Errorf("LoopConfig: %+v", lc)
	}
	if b := lc.Resolve().ConnectBurst; b != 3 {
		t.Errorf("CONNECT_BURST resolves to %d, want CONNECT_RATE rounded up, 3", b)
	}
	c, err = LoadConfig([]string{"--event-burst", "20"}, env(map[string]string{"MAX_EVENTS_PER_SECOND": "7.5"}), io.Discard)
	if err != nil || c.MaxEventsPerSecond != 7.5 || c.EventBurst != 20 {
		t.Errorf("MAX_EVENTS_PER_SECOND 7.5, --event-burst 20: %v %+v", err, c)
	}
	if d, _ := LoadConfig(nil, env(nil), io.Discard); d.MaxConnections != 0 || d.MaxConnectionsPerIP != 0 || d.ConnectRate != 0 || d.TrustedProxies != nil ||
		d.MaxEventsPerSecond != 0 || d.EventBurst != 0 {
		t.Errorf("limits must default to off: %+v", d)
	}
}

func TestLoadConfigErrorsNameTheValue(t *testing.T) {
	f := func(args []string, e map[string]string, want string) {
		t.Helper()
		_, err := LoadConfig(args, env(e), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("args %q env %v: err %v, want it to contain %q", args, e, err, want)
		}
	}
	f(nil, map[string]string{"PING_TIMEOUT": "abc"}, `invalid PING_TIMEOUT "abc": want a positive duration`)
	f(nil, map[string]string{"PORT": "70000"}, `invalid PORT "70000": want a TCP port`)
	f(nil, map[string]string{"MAX_PAYLOAD": "-1"}, `invalid MAX_PAYLOAD "-1"`)
	f(nil, map[string]string{"LOG_FORMAT": "xml"}, `invalid LOG_FORMAT "xml": want text or json`)
	f(nil, map[string]string{"NAMESPACES": "chat"}, `invalid NAMESPACES "chat"`)
	f(nil, map[string]string{"SOCKETIO_PATH": "socket.io"}, `invalid SOCKETIO_PATH`)
	f(nil, map[string]string{"ADMIN_ON_MAIN_PORT": "maybe"}, `want true or false`)
	f(nil, map[string]string{"IO_URING": "on"}, `invalid IO_URING "on": want auto or off`)
	f([]string{"--event-loops", "x"}, nil, `invalid --event-loops "x"`)
	f(nil, map[string]string{"ADMIN_READ_TIMEOUT": "30"}, `invalid ADMIN_READ_TIMEOUT "30": want a positive duration`)
	f([]string{"--admin-idle-timeout", "0s"}, nil, `invalid --admin-idle-timeout "0s": want a positive duration`)
	f(nil, map[string]string{"DRAIN_DURATION": "-1s"}, `invalid DRAIN_DURATION "-1s": want a duration like 30s, or 0 for off`)
	f(nil, map[string]string{"DRAIN_DURATION": "10s"}, `invalid DRAIN_DURATION 10s: must be shorter than SHUTDOWN_TIMEOUT (10s)`)
	f(nil, map[string]string{"DRAIN_DURATION": "20s", "SHUTDOWN_TIMEOUT": "15s"}, `must be shorter than SHUTDOWN_TIMEOUT (15s)`)
	f(nil, map[string]string{"JWT_SECRET": "s", "JWT_PUBLIC_KEY": "k"}, "invalid JWT_SECRET and JWT_PUBLIC_KEY: set one of")
	f(nil, map[string]string{"JWT_SECRET": "s", "JWT_JWKS_URL": "https://idp/jwks"}, "invalid JWT_SECRET and JWT_JWKS_URL: set one of")
	f(nil, map[string]string{"JWT_JWKS_URL": "idp.example.com/jwks"}, `invalid JWT_JWKS_URL "idp.example.com/jwks": want an http:// or https:// URL`)
	f(nil, map[string]string{"JWT_JWKS_URL": "https://idp/jwks", "JWT_JWKS_REFRESH": "soon"}, `invalid JWT_JWKS_REFRESH "soon": want a positive duration`)
	f(nil, map[string]string{"JWT_AUDIENCE": "app"}, `invalid JWT_AUDIENCE "app": it needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL`)
	f(nil, map[string]string{"JWT_ISSUER": "idp"}, `invalid JWT_ISSUER "idp": it needs`)
	f(nil, map[string]string{"CONNECTION_STATE_RECOVERY": "2"}, `invalid CONNECTION_STATE_RECOVERY "2": want a duration like 30s, or 0 for off`)
	f(nil, map[string]string{"MAX_CONNECTIONS": "-1"}, `invalid MAX_CONNECTIONS "-1": want a whole number, or 0 for off`)
	f(nil, map[string]string{"CONNECT_RATE": "fast"}, `invalid CONNECT_RATE "fast": want a number per second`)
	f(nil, map[string]string{"MAX_EVENTS_PER_SECOND": "-5"}, `invalid MAX_EVENTS_PER_SECOND "-5": want a number per second`)
	f(nil, map[string]string{"MAX_EVENTS_PER_SECOND": "2e6"}, `invalid MAX_EVENTS_PER_SECOND "2e6": want at most 1000000 events per second`)
	f([]string{"--event-burst", "1.5"}, nil, `invalid --event-burst "1.5": want a whole number`)
	f(nil, map[string]string{"EVENT_BURST": "1000001"}, `invalid EVENT_BURST "1000001": want at most 1000000`)
	f(nil, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/33"}, `invalid TRUSTED_PROXIES "10.0.0.0/8,10.0.0.0/33": "10.0.0.0/33" is not a CIDR`)
	f(nil, map[string]string{"EVENT_HOOK_URL": "backend/event"}, `invalid EVENT_HOOK_URL "backend/event": want an http:// or https:// URL like http://backend:8080/hooks/connect`)
	f(nil, map[string]string{"HOOK_CONCURRENCY": "0"}, `invalid HOOK_CONCURRENCY "0": want a positive whole number`)
	f(nil, map[string]string{"HOOK_BATCH_INTERVAL": "1"}, `invalid HOOK_BATCH_INTERVAL "1": want a positive duration`)
	f(nil, map[string]string{"CONNECT_HOOK_URL": "http://b/c", "HOOK_TIMEOUT": "1m"}, `invalid HOOK_TIMEOUT 1m0s: must be shorter than CONNECT_TIMEOUT (45s)`)
	f([]string{"--nope"}, nil, "flag provided but not defined")
}

func TestLoadConfigHooks(t *testing.T) {
	c, err := LoadConfig([]string{"--event-hook-url", "http://b/event"}, env(map[string]string{
		"CONNECT_HOOK_URL": "https://b/connect", "HOOK_SECRET": "k", "HOOK_FORWARD_HEADERS": "Cookie, X-Tenant",
		"HOOK_FAIL_OPEN": "true", "HOOK_BATCH_SIZE": "7",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hooks(nil)
	if h.ConnectURL != "https://b/connect" || h.EventURL != "http://b/event" || h.SubscribeURL != "" || h.Secret != "k" || !h.FailOpen ||
		h.BatchSize != 7 || h.Timeout != 3*time.Second || h.Concurrency != 64 || h.BatchInterval != time.Second ||
		strings.Join(h.ForwardHeaders, ",") != "Cookie,X-Tenant" || strings.Join(c.LoopConfig().KeepHeaders, ",") != "Cookie,X-Tenant" {
		t.Fatalf("hooks %+v, keep %q", h, c.LoopConfig().KeepHeaders)
	}
	// Without the connect hook, no session keeps a header.
	c, _ = LoadConfig(nil, env(map[string]string{"HOOK_FORWARD_HEADERS": "Cookie"}), io.Discard)
	if c.LoopConfig().KeepHeaders != nil || c.Hooks(nil).On() {
		t.Fatalf("keep %q without CONNECT_HOOK_URL", c.LoopConfig().KeepHeaders)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if _, err := LoadConfig([]string{"--help"}, env(nil), &out); err != ErrHelp {
		t.Fatalf("--help: err %v", err)
	}
	for _, s := range Settings() {
		if !strings.Contains(out.String(), "-"+s.Flag) || !strings.Contains(out.String(), "env "+s.Env) {
			t.Errorf("--help does not list --%s (env %s)", s.Flag, s.Env)
		}
	}
}

// TestCheckConfig: "sioloop config" prints every setting with the value
// an environment gives, hides secrets, and refuses what the server
// refuses.
func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	err := checkConfig(env(map[string]string{"PORT": "4000", "ADMIN_TOKEN": "s3cret", "REDIS_URL": "redis://u:pw@h:6379/0"}), &out)
	if err != nil {
		t.Fatal(err)
	}
	var vals []SettingValue
	if err := json.Unmarshal(out.Bytes(), &vals); err != nil {
		t.Fatal(err)
	}
	if len(vals) != len(Settings()) {
		t.Fatalf("%d settings printed, want %d", len(vals), len(Settings()))
	}
	got := make(map[string]string)
	for _, v := range vals {
		got[v.Env] = v.Value
	}
	for k, want := range map[string]string{"PORT": "4000", "ADMIN_TOKEN": "(set)", "REDIS_URL": "redis://u:xxxxx@h:6379/0", "PING_INTERVAL": "25s"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "pw@") {
		t.Errorf("a secret is printed:\n%s", out.String())
	}
	if err := checkConfig(env(map[string]string{"PING_TIMEOUT": "abc"}), io.Discard); err == nil || !strings.Contains(err.Error(), `invalid PING_TIMEOUT "abc"`) {
		t.Errorf("PING_TIMEOUT=abc: err %v", err)
	}
}

func TestLoadConfigAdminUI(t *testing.T) {
	const hash = "$2a$04$r0RDA/FXbBPpFLzeUemsUO.EdR4aH6cbk8MmhQv7TWc3g2rFBRQ4a" // "secret", cost 4
	f := func(e map[string]string, want string) {
		t.Helper()
		c, err := LoadConfig(nil, env(e), io.Discard)
		switch {
		case want == "" && err != nil:
			t.Errorf("env %v: %v", e, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("env %v: err %v, want it to contain %q", e, err, want)
		case want == "" && (!c.AdminUI || c.AdminUINamespace == ""):
			t.Errorf("env %v: %+v", e, c)
		}
	}
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_USERNAME": "admin", "ADMIN_UI_PASSWORD_HASH": hash}, "")
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_NO_AUTH": "true", "ADMIN_UI_MODE": "development", "ADMIN_UI_NAMESPACE": "/ops"}, "")
	f(map[string]string{"ADMIN_UI": "true"}, "invalid ADMIN_UI=true: set ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD_HASH (bcrypt), or ADMIN_UI_NO_AUTH=true")
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_USERNAME": "admin"}, "invalid ADMIN_UI=true: set ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD_HASH")
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_NO_AUTH": "true", "ADMIN_UI_USERNAME": "admin"}, "invalid ADMIN_UI_NO_AUTH=true: ADMIN_UI_USERNAME or ADMIN_UI_PASSWORD_HASH is set too")
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_USERNAME": "admin", "ADMIN_UI_PASSWORD_HASH": "secret"}, "invalid ADMIN_UI_PASSWORD_HASH: want a bcrypt hash")
	f(map[string]string{"ADMIN_UI": "true", "ADMIN_UI_NO_AUTH": "true", "NAMESPACES": "/chat,/adm*"}, `invalid ADMIN_UI_NAMESPACE "/admin": NAMESPACES serves it to clients ("/adm*")`)
	f(map[string]string{"ADMIN_UI_MODE": "dev"}, `invalid ADMIN_UI_MODE "dev": want "production" or "development"`)
	f(map[string]string{"ADMIN_UI_NAMESPACE": "admin"}, `invalid ADMIN_UI_NAMESPACE "admin"`)
}
