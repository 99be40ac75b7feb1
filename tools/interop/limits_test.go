package interop

import (
	"testing"
	"time"
)

// TestLimits runs limits.js: for each limit of issue 17, a sioloop with that limit set, the
// official socket.io-client at the limit (served), one past it (the documented refusal, as the
// client reports it) and the clients already connected (unharmed). The limits are sioloop
// settings; the Node peer has none.
func TestLimits(t *testing.T) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the limits are sioloop settings: INTEROP_TARGET=%s has none", h.target)
	}
	for _, tc := range []struct {
		name     string
		settings []string
	}{
		{"connections", []string{"MAX_CONNECTIONS=3"}},
		{"per-ip", []string{"MAX_CONNECTIONS_PER_IP=2", "TRUSTED_PROXIES=127.0.0.0/8"}},
		{"connect-rate", []string{"CONNECT_RATE=0.5", "CONNECT_BURST=3"}},
		{"rooms", []string{"MAX_ROOMS_PER_SOCKET=3"}},
		{"events", []string{"MAX_EVENTS_PER_SECOND=5", "EVENT_BURST=5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := h.startServer(t, "limits-"+tc.name, serverConfig{app: appSocketIO, settings: tc.settings})
			// The script reads the same variables to know the limits.
			h.run(t, srv, scenario{tool: "limits", name: tc.name, env: tc.settings, timeout: 40 * time.Second})
		})
	}
}
