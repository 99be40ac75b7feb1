package attack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSocketsRouteOnClientPort runs the defaults (admin routes also on
// the client port, no ADMIN_TOKEN). The socket management routes must not
// be served on the client port, where any client can reach them: GET
// /sockets and POST /sockets/disconnect answer an error status with a
// JSON {"error":…} body there, and work on the admin port. The start log
// must warn that /SendWebsocketEvent is reachable on the client port
// without a token. Bounds: RSS +64 MB, canary p99 500 ms.
func TestSocketsRouteOnClientPort(t *testing.T) {
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{})
	defer a.finish()
	type call struct{ method, path, body string }
	calls := []call{
		{http.MethodGet, "/sockets", ""},
		// A room nobody is in: on the admin port this must not drop the canary.
		{http.MethodPost, "/sockets/disconnect", `{"rooms":["attack-no-such-room"]}`},
	}
	do := func(addr string, c call) (int, []byte, error) {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, body, _, err := httpDo(req, 5*time.Second)
		if err != nil {
			return 0, nil, err
		}
		return resp.StatusCode, body, nil
	}
	for _, c := range calls {
		code, body, err := do(a.Srv.Addr, c)
		var e struct {
			Error string `json:"error"`
		}
		jerr := json.Unmarshal(body, &e)
		a.Outcome("client port %s %s: %d %s", c.method, c.path, code, clip(strings.TrimSpace(string(body))))
		if err != nil {
			t.Errorf("client port %s %s: %v", c.method, c.path, err)
		} else if code == 200 || jerr != nil || e.Error == "" {
			t.Errorf("client port %s %s: %d %s, want an error status with a JSON error", c.method, c.path, code, clip(body))
		}
		code, body, err = do(a.Srv.AdminAddr, c)
		a.Outcome("admin port %s %s: %d", c.method, c.path, code)
		if err != nil || code != 200 {
			t.Errorf("admin port %s %s: %d %s %v, want 200", c.method, c.path, code, clip(body), err)
		}
	}
	warn := a.Srv.Log.Lines("level=WARN", "/SendWebsocketEvent")
	a.Outcome("%d start-log warning(s) about /SendWebsocketEvent", len(warn))
	if len(warn) == 0 {
		t.Errorf("no WARN line about /SendWebsocketEvent on the client port without ADMIN_TOKEN; log:\n%s", a.Srv.Log.Tail(1500))
	}
}
