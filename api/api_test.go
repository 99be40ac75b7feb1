package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sioloop/metrics/metricstest"
	"strings"
	"testing"
	"time"
)

var (
	mbPattern       = regexp.MustCompile(`^[0-9]+MB$`)
	durationPattern = regexp.MustCompile(`^[0-9]+\.[0-9]{3}ms$`)
)

// checkMemory checks a {"rss","heap_used","heap_total"} object.
func checkMemory(t *testing.T, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("memory %v is no object", v)
	}
	keys(t, m, "rss", "heap_used", "heap_total")
	for k, x := range m {
		if s, _ := x.(string); !mbPattern.MatchString(s) || s == "0MB" && k != "heap_used" {
			t.Errorf("memory %s = %v, want a size like 12MB", k, x)
		}
	}
}

func checkTimestamp(t *testing.T, v any) {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil || time.Since(ts).Abs() > time.Minute {
		t.Errorf("timestamp %v: want RFC 3339 time near now (%v)", v, err)
	}
}

func number(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is no number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v is no integer", v)
	}
	return i
}

// TestRoutes drives every GET route on both listeners: the admin port and
// the client port, where the reactors hand non-Socket.IO requests over.
func TestRoutes(t *testing.T) {
	ts := startService(t)
	c := dialSIO(t, ts, "/")
	_ = c
	for _, base := range []string{ts.admin, ts.main} {
		t.Run(strings.TrimPrefix(base, "http://"), func(t *testing.T) {
			r := do(t, http.MethodGet, base+"/", nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET /: %d %s", r.status, r.body)
			}
			m := r.object(t)
			keys(t, m, "status", "service", "version", "connectedClients")
			if m["status"] != "ok" || m["service"] != "sioloop" || m["version"] != Version {
				t.Errorf("GET /: %s", r.body)
			}
			if n := number(t, m["connectedClients"]); n != 1 {
				t.Errorf("GET /: connectedClients %d, want 1", n)
			}

			r = do(t, http.MethodGet, base+"/health", nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET /health: %d %s", r.status, r.body)
			}
			m = r.object(t)
			keys(t, m, "status", "timestamp", "uptime", "memory", "connections")
			if m["status"] != "healthy" {
				t.Errorf("GET /health: status %v", m["status"])
			}
			checkTimestamp(t, m["timestamp"])
			if up := number(t, m["uptime"]); up < 0 || up > 60 {
				t.Errorf("GET /health: uptime %d", up)
			}
			checkMemory(t, m["memory"])
			if n := number(t, m["connections"]); n != 1 {
				t.Errorf("GET /health: connections %d, want 1", n)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET /health: Cache-Control %q", cc)
			}

			mfs := scrape(t, base)
			if v, ok := metricstest.Value(mfs, "socket_io_connected", "namespace", "/"); !ok || v != 1 {
				t.Errorf("socket_io_connected{namespace=\"/\"} = %v (present %v), want 1", v, ok)
			}

			for _, q := range []struct{ url, accept string }{
				{"/metrics?format=json", ""},
				{"/metrics", "application/json"},
				{"/metrics", "text/html, application/json;q=0.9"},
			} {
				r = do(t, http.MethodGet, base+q.url, nil, "Accept", q.accept)
				if r.status != http.StatusOK {
					t.Fatalf("GET %s (Accept %q): %d %s", q.url, q.accept, r.status, r.body)
				}
				m = r.object(t)
				keys(t, m, "connected_clients", "memory_usage", "uptime", "timestamp")
				if n := number(t, m["connected_clients"]); n != 1 {
					t.Errorf("JSON metrics: connected_clients %d", n)
				}
				checkMemory(t, m["memory_usage"])
				checkTimestamp(t, m["timestamp"])
				number(t, m["uptime"])
			}
			// A Prometheus scraper's Accept header gets the text.
			scrape(t, base, "Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
			// application/json;q=0 means "not JSON".
			scrape(t, base, "Accept", "application/json;q=0, text/plain")

			r = do(t, http.MethodHead, base+"/health", nil)
			if r.status != http.StatusOK || len(r.body) != 0 {
				t.Errorf("HEAD /health: %d %q", r.status, r.body)
			}

			f := func(method, path string, status int, allow string) {
				t.Helper()
				r := do(t, method, base+path, strings.NewReader("{}"), "Content-Type", "application/json")
				if r.status != status {
					t.Errorf("%s %s: %d %s, want %d", method, path, r.status, r.body, status)
				}
				m := r.object(t)
				keys(t, m, "error")
				if msg, _ := m["error"].(string); msg == "" {
					t.Errorf("%s %s: empty error", method, path)
				}
				if got := r.header.Get("Allow"); got != allow {
					t.Errorf("%s %s: Allow %q, want %q", method, path, got, allow)
				}
			}
			f(http.MethodGet, "/SendWebsocketEvent", http.StatusMethodNotAllowed, "POST")
			f(http.MethodPut, "/SendWebsocketEvent", http.StatusMethodNotAllowed, "POST")
			f(http.MethodPost, "/health", http.StatusMethodNotAllowed, "GET, HEAD")
			f(http.MethodPost, "/", http.StatusMethodNotAllowed, "GET, HEAD")
			f(http.MethodDelete, "/metrics", http.StatusMethodNotAllowed, "GET, HEAD")
			f(http.MethodGet, "/nope", http.StatusNotFound, "")
			f(http.MethodGet, "/health/", http.StatusNotFound, "")
			f(http.MethodGet, "/sendwebsocketevent", http.StatusNotFound, "")
		})
	}
}

// sent checks a successful POST /SendWebsocketEvent answer.
func sent(t *testing.T, r response, events, recipients int64) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	m := r.object(t)
	keys(t, m, "status", "events_sent", "recipients", "duration")
	if m["status"] != "success" {
		t.Errorf("POST: status %v", m["status"])
	}
	if n := number(t, m["events_sent"]); n != events {
		t.Errorf("POST: events_sent %d, want %d (%s)", n, events, r.body)
	}
	if n := number(t, m["recipients"]); n != recipients {
		t.Errorf("POST: recipients %d, want %d (%s)", n, recipients, r.body)
	}
	if d, _ := m["duration"].(string); !durationPattern.MatchString(d) {
		t.Errorf("POST: duration %q: want milliseconds like 0.134ms", d)
	}
}

// TestSend sends every body form and extension to real Socket.IO clients
// and checks what each one receives, byte for byte. After each case a
// sentinel broadcast to everyone proves that nobody received more than
// the case said: it must be the next event of every client.
func TestSend(t *testing.T) {
	ts := startService(t)
	a := dialSIO(t, ts, "/")
	b := dialSIO(t, ts, "/")
	ch := dialSIO(t, ts, "/chat")
	a.subscribe("room1")
	ch.subscribe("room1")

	sentinel := func(t *testing.T) {
		t.Helper()
		for _, ns := range []string{"/", "/chat"} {
			sent(t, post(t, ts.main, `{"event":"sentinel","namespace":"`+ns+`"}`), 1, map[string]int64{"/": 2, "/chat": 1}[ns])
		}
		for _, c := range []*sioClient{a, b, ch} {
			c.expect(`["sentinel"]`)
		}
	}

	type want map[*sioClient][]string
	tests := []struct {
		name               string
		body               string
		events, recipients int64
		want               want
	}{
		{"channel", `{"channel":"news","payload":{"z": 1, "a":[1, 2],"m":"é\u00e9"}}`, 1, 2, want{
			a: {`["news",{"payload":{"z":1,"a":[1,2],"m":"é\u00e9"}}]`},
			b: {`["news",{"payload":{"z":1,"a":[1,2],"m":"é\u00e9"}}]`}}},
		{"channel string payload", `{"channel":"news","payload":"hi"}`, 1, 2, want{
			a: {`["news",{"payload":"hi"}]`}, b: {`["news",{"payload":"hi"}]`}}},
		{"channel null payload", `{"channel":"news","payload":null}`, 1, 2, want{
			a: {`["news",{"payload":null}]`}, b: {`["news",{"payload":null}]`}}},
		{"channel array payload", `{"channel":"news","payload":[1,{"b":2,"a":1}]}`, 1, 2, want{
			a: {`["news",{"payload":[1,{"b":2,"a":1}]}]`}, b: {`["news",{"payload":[1,{"b":2,"a":1}]}]`}}},
		{"channels", `{"channels":["x","y"],"payload":{"k":1}}`, 2, 2, want{
			a: {`["x",{"payload":{"k":1}}]`, `["y",{"payload":{"k":1}}]`},
			b: {`["x",{"payload":{"k":1}}]`, `["y",{"payload":{"k":1}}]`}}},
		{"channels paired payloads", `{"channels":["x","y","z"],"payload":[1,{"two":2}]}`, 2, 2, want{
			a: {`["x",{"payload":1}]`, `["y",{"payload":{"two":2}}]`},
			b: {`["x",{"payload":1}]`, `["y",{"payload":{"two":2}}]`}}},
		{"channels more payloads than channels", `{"channels":["x"],"payload":["p","q"]}`, 1, 2, want{
			a: {`["x",{"payload":"p"}]`}, b: {`["x",{"payload":"p"}]`}}},
		{"event", `{"event":"broadcast","data":{"msg":"hello","n":[3,2,1]}}`, 1, 2, want{
			a: {`["broadcast",{"msg":"hello","n":[3,2,1]}]`}, b: {`["broadcast",{"msg":"hello","n":[3,2,1]}]`}}},
		{"event array data is one argument", `{"event":"broadcast","data":[1,2]}`, 1, 2, want{
			a: {`["broadcast",[1,2]]`}, b: {`["broadcast",[1,2]]`}}},
		{"event without data", `{"event":"ping!"}`, 1, 2, want{
			a: {`["ping!"]`}, b: {`["ping!"]`}}},
		{"event name escaped", `{"event":"a\"b\\c\n","data":1}`, 1, 2, want{
			a: {`["a\"b\\c\n",1]`}, b: {`["a\"b\\c\n",1]`}}},
		{"rooms", `{"channel":"r","payload":1,"rooms":["room1"]}`, 1, 1, want{
			a: {`["r",{"payload":1}]`}}},
		{"rooms as a string", `{"channel":"r","payload":1,"rooms":"room1"}`, 1, 1, want{
			a: {`["r",{"payload":1}]`}}},
		{"rooms no member", `{"channel":"r","payload":1,"rooms":["empty"]}`, 1, 0, want{}},
		{"except", `{"channel":"e","payload":2,"except":["room1"]}`, 1, 1, want{
			b: {`["e",{"payload":2}]`}}},
		{"to", `{"event":"direct","data":"x","to":"` + b.sid + `"}`, 1, 1, want{
			b: {`["direct","x"]`}}},
		{"to and rooms", `{"event":"both","to":"` + b.sid + `","rooms":["room1"]}`, 1, 2, want{
			a: {`["both"]`}, b: {`["both"]`}}},
		{"rooms except", `{"event":"re","rooms":["room1"],"except":["` + a.sid + `"]}`, 1, 0, want{}},
		{"namespace", `{"channel":"c","payload":true,"namespace":"/chat"}`, 1, 1, want{
			ch: {`["c",{"payload":true}]`}}},
		{"namespace without slash", `{"channel":"c","payload":false,"namespace":"chat"}`, 1, 1, want{
			ch: {`["c",{"payload":false}]`}}},
		{"namespace and rooms", `{"event":"cr","namespace":"/chat","rooms":["room1"]}`, 1, 1, want{
			ch: {`["cr"]`}}},
		{"volatile", `{"channel":"v","payload":0,"volatile":true}`, 1, 2, want{
			a: {`["v",{"payload":0}]`}, b: {`["v",{"payload":0}]`}}},
		{"not volatile", `{"channel":"v","payload":0,"volatile":false}`, 1, 2, want{
			a: {`["v",{"payload":0}]`}, b: {`["v",{"payload":0}]`}}},
		{"null extensions", `{"channel":"n","payload":0,"rooms":null,"except":null,"to":null,"namespace":null,"volatile":null}`, 1, 2, want{
			a: {`["n",{"payload":0}]`}, b: {`["n",{"payload":0}]`}}},
		{"unknown fields ignored", `{"channel":"u","payload":0,"priority":"high"}`, 1, 2, want{
			a: {`["u",{"payload":0}]`}, b: {`["u",{"payload":0}]`}}},
	}
	for i, tc := range tests {
		base := ts.main
		if i%2 == 1 {
			base = ts.admin
		}
		t.Run(tc.name, func(t *testing.T) {
			sent(t, post(t, base, tc.body), tc.events, tc.recipients)
			for c, evs := range tc.want {
				c.expect(evs...)
			}
			sentinel(t)
		})
	}

	t.Run("content types", func(t *testing.T) {
		for _, ct := range []string{"application/json; charset=utf-8", "application/json;charset=UTF-8", "application/vnd.api+json"} {
			r := do(t, http.MethodPost, ts.admin+"/SendWebsocketEvent", strings.NewReader(`{"event":"ct"}`), "Content-Type", ct)
			sent(t, r, 1, 2)
			a.expect(`["ct"]`)
			b.expect(`["ct"]`)
		}
		sentinel(t)
	})

	t.Run("100 channels", func(t *testing.T) {
		names := make([]string, MaxChannels)
		for i := range names {
			names[i] = fmt.Sprintf("%q", fmt.Sprint("c", i))
		}
		sent(t, post(t, ts.main, `{"channels":[`+strings.Join(names, ",")+`],"payload":1,"to":"`+a.sid+`"}`), MaxChannels, 1)
		for i := range names {
			a.expect(fmt.Sprintf(`["c%d",{"payload":1}]`, i))
		}
		sentinel(t)
	})

	t.Run("large payload", func(t *testing.T) {
		big := strings.Repeat("x", MaxBodyBytes-100)
		sent(t, post(t, ts.main, `{"channel":"big","payload":"`+big+`","to":"`+a.sid+`"}`), 1, 1)
		a.expect(`["big",{"payload":"` + big + `"}]`)
		sentinel(t)
	})
}

// TestClientPortSocketRoutes: without ADMIN_TOKEN the socket management
// routes are refused on the client port, which the public reaches, with a
// 403 that says why and a count in sioloop_admin_refused_total; they act
// on nothing. The admin listener serves them, and POST /SendWebsocketEvent
// still works on both.
func TestClientPortSocketRoutes(t *testing.T) {
	ts := startService(t)
	c := dialSIO(t, ts, "/")
	refused := func(method, path, body string) {
		t.Helper()
		r := do(t, method, ts.main+path, strings.NewReader(body), "Content-Type", "application/json")
		route, _, _ := strings.Cut(path, "?")
		checkError(t, r, http.StatusForbidden, route+" is served on the client port only when ADMIN_TOKEN is set; use the admin listener (ADMIN_ADDR)")
	}
	refused(http.MethodGet, "/sockets", "")
	refused(http.MethodGet, "/sockets?room="+c.sid, "")
	refused(http.MethodPost, "/sockets/join", `{"room":"stolen"}`)
	refused(http.MethodPost, "/sockets/leave", `{"room":"`+c.sid+`"}`)
	refused(http.MethodPost, "/sockets/disconnect", `{"close":true}`)
	refused(http.MethodPut, "/sockets/disconnect", `{}`) // before 405: nothing to learn about the route
	refused(http.MethodGet, "/sockets/join", "")

	mfs := scrape(t, ts.admin)
	for path, want := range map[string]float64{"/sockets": 2, "/sockets/join": 2, "/sockets/leave": 1, "/sockets/disconnect": 2} {
		if v, ok := metricstest.Value(mfs, "sioloop_admin_refused_total", "route", path, "reason", "client_port"); !ok || v != want {
			t.Errorf(`sioloop_admin_refused_total{route=%q,reason="client_port"} = %v (present %v), want %v`, path, v, ok, want)
		}
	}
	if _, ok := mfs["sioloop_admin_refused_total"]; !ok {
		t.Fatal("sioloop_admin_refused_total missing")
	}
	for _, m := range mfs["sioloop_admin_refused_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == "token" {
				t.Errorf("a token refusal counter without ADMIN_TOKEN: %v", m)
			}
		}
	}

	// None of the refused requests acted: the socket is in no new room
	// and still connected, as the admin listener shows.
	r := do(t, http.MethodGet, ts.admin+"/sockets", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"rooms":["`+c.sid+`"]`) || number(t, r.object(t)["count"]) != 1 {
		t.Errorf("GET /sockets on the admin listener: %d %s", r.status, r.body)
	}
	postJSON(t, ts.admin+"/sockets/join", `{"room":"granted"}`)
	sent(t, post(t, ts.main, `{"event":"still here","rooms":"granted"}`), 1, 1)
	c.expect(`["still here"]`)
}

// TestClientPortSocketRoutesWithToken: with ADMIN_TOKEN the socket
// management routes are served on the client port too, behind the token;
// refusals for a missing token are counted.
func TestClientPortSocketRoutesWithToken(t *testing.T) {
	const token = "s3cret-token"
	ts := startService(t, "--admin-token", token)
	c := dialSIO(t, ts, "/")
	auth := []string{"Authorization", "Bearer " + token}
	for _, base := range []string{ts.main, ts.admin} {
		r := do(t, http.MethodGet, base+"/sockets", nil)
		checkError(t, r, http.StatusUnauthorized, "bearer token")
		r = do(t, http.MethodGet, base+"/sockets", nil, auth...)
		if r.status != http.StatusOK || number(t, r.object(t)["count"]) != 1 {
			t.Errorf("GET %s/sockets with the token: %d %s", base, r.status, r.body)
		}
	}
	r := do(t, http.MethodPost, ts.main+"/sockets/join", strings.NewReader(`{"room":"r1"}`),
		append([]string{"Content-Type", "application/json"}, auth...)...)
	if r.status != http.StatusOK || number(t, r.object(t)["local_sockets"]) != 1 {
		t.Errorf("POST /sockets/join on the client port with the token: %d %s", r.status, r.body)
	}
	sent(t, post(t, ts.main, `{"event":"joined","rooms":"r1"}`, auth...), 1, 1)
	c.expect(`["joined"]`)
	mfs := scrape(t, ts.admin, auth...)
	if v, ok := metricstest.Value(mfs, "sioloop_admin_refused_total", "route", "/sockets", "reason", "token"); !ok || v != 2 {
		t.Errorf(`sioloop_admin_refused_total{route="/sockets",reason="token"} = %v (present %v), want 2`, v, ok)
	}
	if v, ok := metricstest.Value(mfs, "sioloop_admin_refused_total", "route", "/sockets", "reason", "client_port"); ok {
		t.Errorf("a client_port refusal counter with ADMIN_TOKEN set: %v", v)
	}
}
