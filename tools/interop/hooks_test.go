package interop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookSecret is the HOOK_SECRET of the hooks scenario's server.
const hookSecret = "interop-hooks-7d1e"

// hookBackend is the backend of the hooks scenario, served by the test: the four hooks of
// sioloop at /connect, /subscribe, /event and /disconnect, each request's signature checked as
// README.md shows, and GET /seen for the script: the disconnect records received and the
// number of requests whose signature did not verify.
//
//	/connect    auth {"name":"mallory"} → 403 {"message":"banned","data":{"reason":"test"}};
//	            another name → 200 {"user":<name>,"channels":["lobby"],"data":{"name":<name>}};
//	            the X-Tenant header (HOOK_FORWARD_HEADERS) must arrive
//	/subscribe  allows the names that start with "public-"
//	/event      "order" → {"ok":true,"user":…,"tenant":data.name,"args":[…]}; "fail" → 400 {"error":"out of stock"}
type hookBackend struct {
	url string

	mu          sync.Mutex
	disconnects []json.RawMessage
	badSig      int
	noTenant    int
}

func newHookBackend(t *testing.T) *hookBackend {
	b := &hookBackend{}
	mux := http.NewServeMux()
	read := func(r *http.Request) []byte {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(hookSecret))
		mac.Write([]byte(r.Header.Get("X-Sioloop-Timestamp") + "." + string(body)))
		ok := hmac.Equal([]byte(r.Header.Get("X-Sioloop-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
		if !ok {
			b.mu.Lock()
			b.badSig++
			b.mu.Unlock()
		}
		return body
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /connect", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Auth    struct{ Name string }
			Headers map[string]string
		}
		_ = json.Unmarshal(read(r), &req)
		if req.Headers["x-tenant"] != "acme" {
			b.mu.Lock()
			b.noTenant++
			b.mu.Unlock()
		}
		if req.Auth.Name == "mallory" {
			reply(w, http.StatusForbidden, map[string]any{"message": "banned", "data": map[string]string{"reason": "test"}})
			return
		}
		reply(w, http.StatusOK, map[string]any{"user": req.Auth.Name, "channels": []string{"lobby"}, "data": map[string]string{"name": req.Auth.Name}})
	})
	mux.HandleFunc("POST /subscribe", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Channels []string }
		_ = json.Unmarshal(read(r), &req)
		allowed := []string{}
		for _, ch := range req.Channels {
			if strings.HasPrefix(ch, "public-") {
				allowed = append(allowed, ch)
			}
		}
		reply(w, http.StatusOK, map[string]any{"channels": allowed})
	})
	mux.HandleFunc("POST /event", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User  string
			Event string
			Args  []json.RawMessage
			Data  struct{ Name string }
		}
		_ = json.Unmarshal(read(r), &req)
		if req.Event == "fail" {
			reply(w, http.StatusBadRequest, map[string]string{"error": "out of stock"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"ok": true, "user": req.User, "name": req.Data.Name, "args": req.Args})
	})
	mux.HandleFunc("POST /disconnect", func(w http.ResponseWriter, r *http.Request) {
		var batch []json.RawMessage
		_ = json.Unmarshal(read(r), &batch)
		b.mu.Lock()
		b.disconnects = append(b.disconnects, batch...)
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /seen", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		reply(w, http.StatusOK, map[string]any{"disconnects": b.disconnects, "bad_signatures": b.badSig, "no_tenant": b.noTenant})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// TestHooks runs hooks.js: socket.io-client 4.8 against a sioloop whose four backend hooks
// (issue 18) point at a backend this test serves.
func TestHooks(t *testing.T) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the backend hooks are sioloop's; INTEROP_TARGET=%s has none", h.target)
	}
	b := newHookBackend(t)
	settings := []string{
		"CONNECT_HOOK_URL=" + b.url + "/connect",
		"SUBSCRIBE_HOOK_URL=" + b.url + "/subscribe",
		"EVENT_HOOK_URL=" + b.url + "/event",
		"DISCONNECT_HOOK_URL=" + b.url + "/disconnect",
		"HOOK_SECRET=" + hookSecret,
		"HOOK_FORWARD_HEADERS=X-Tenant",
		"HOOK_BATCH_INTERVAL=100ms",
	}
	srv := h.startServer(t, "sio-hooks", serverConfig{app: appSocketIO, settings: settings})
	h.run(t, srv, scenario{tool: "hooks", name: "hooks", env: []string{"BACKEND_URL=" + b.url}, timeout: 60 * time.Second})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.badSig != 0 || b.noTenant != 0 {
		t.Errorf("%d hook requests failed the signature check, %d connect requests lacked X-Tenant", b.badSig, b.noTenant)
	}
}
