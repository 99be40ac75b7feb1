package attack

import (
	"net/http"
	"testing"
	"time"
)

// TestCORSWildcard runs CORS_ORIGINS=* and sends a preflight and a
// polling handshake from a foreign origin. Both answers must carry
// Access-Control-Allow-Origin: * and no Access-Control-Allow-Credentials:
// true: a wildcard must not turn into "any site, with the visitor's
// cookies" (the Fetch standard refuses credentials with "*"; reflecting
// the origin with credentials would allow them). Bounds: RSS +64 MB,
// canary p99 500 ms.
func TestCORSWildcard(t *testing.T) {
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "CORS_ORIGINS=*")
	defer a.finish()
	const origin = "https://evil.example"
	url := "http://" + a.Srv.Addr + "/socket.io/?EIO=4&transport=polling"
	pre, _ := http.NewRequest(http.MethodOptions, url, nil)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	get, _ := http.NewRequest(http.MethodGet, url, nil)
	get.Header.Set("Origin", origin)
	for _, r := range []struct {
		name string
		req  *http.Request
	}{{"preflight", pre}, {"polling handshake", get}} {
		resp, _, _, err := httpDo(r.req, 5*time.Second)
		if err != nil {
			a.Outcome("%s: %v", r.name, err)
			t.Errorf("%s: %v", r.name, err)
			continue
		}
		acao := resp.Header.Values("Access-Control-Allow-Origin")
		acac := resp.Header.Values("Access-Control-Allow-Credentials")
		a.Outcome("%s: %d, Allow-Origin %q, Allow-Credentials %q", r.name, resp.StatusCode, acao, acac)
		if len(acao) != 1 || acao[0] != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want exactly \"*\"", r.name, acao)
		}
		for _, v := range acac {
			if v == "true" {
				t.Errorf("%s: Access-Control-Allow-Credentials: true with a wildcard origin", r.name)
			}
		}
	}
}
