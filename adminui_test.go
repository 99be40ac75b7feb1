package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServiceAdminUI checks the wiring of ADMIN_UI: the page's origin in
// CORS_ORIGINS gets polling answers it may read (with credentials, as
// socket.io-client's withCredentials needs), and the admin namespace
// answers with its config while the service's own namespaces keep their
// JWT check, which the admin namespace does not have.
func TestServiceAdminUI(t *testing.T) {
	main, _ := runService(t, "--admin-ui=true", "--admin-ui-no-auth=true", "--cors-origins=https://admin.socket.io",
		"--jwt-secret=0123456789abcdef0123456789abcdef")
	base := "http://" + main + "/socket.io/?EIO=4&transport=polling"
	do := func(method, url, body string) (string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Origin", "https://admin.socket.io")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return string(b), resp.Header
	}
	open, h := do("GET", base, "")
	if h.Get("Access-Control-Allow-Origin") != "https://admin.socket.io" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("handshake from the page's origin: CORS headers %v", h)
	}
	var o struct{ Sid string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &o); err != nil {
		t.Fatalf("open packet %q: %v", open, err)
	}
	sid := base + "&sid=" + o.Sid
	do("POST", sid, "40/admin,\x1e40")
	var got string
	for range 5 {
		b, _ := do("GET", sid, "")
		got += b + "\x1e"
		if strings.Contains(got, `"supportedFeatures"`) && strings.Contains(got, "44{") {
			break
		}
	}
	if !strings.Contains(got, `40/admin,{"sid":`) || !strings.Contains(got, `42/admin,["config",{"supportedFeatures":[`) {
		t.Fatalf("the admin namespace did not answer with its config: %q", got)
	}
	if !strings.Contains(got, `44{"message":`) {
		t.Fatalf("\"/\" admitted a CONNECT without a token next to the admin namespace: %q", got)
	}
}
