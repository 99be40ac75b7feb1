package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkError checks an error answer: status, JSON {"error": …} only, and
// a message containing sub.
func checkError(t *testing.T, r response, status int, sub string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d (%s), want %d", r.status, r.body, status)
		return
	}
	m := r.object(t)
	keys(t, m, "error")
	if msg, _ := m["error"].(string); !strings.Contains(msg, sub) {
		t.Errorf("error %q, want it to contain %q", msg, sub)
	}
}

// TestSendErrors sends every kind of refused request to the running
// service, then proves that none of them reached a client.
func TestSendErrors(t *testing.T) {
	ts := startService(t)
	c := dialSIO(t, ts, "/")

	f := func(body string, status int, sub string) {
		t.Helper()
		checkError(t, post(t, ts.main, body), status, sub)
	}
	bad := http.StatusBadRequest
	f(`{"channel":"news","payload":`, bad, "malformed JSON")
	f(`{"channel":"news","payload":1} {}`, bad, "malformed JSON")
	f(`{"channel":"news","payload":1,}`, bad, "malformed JSON")
	f(``, bad, "malformed JSON")
	f(`[{"channel":"news","payload":1}]`, bad, "JSON object")
	f(`"news"`, bad, "JSON object")
	f(`null`, bad, "JSON object")
	f(`{}`, bad, "no event name")
	f(`{"payload":1}`, bad, "no event name")
	f(`{"channel":null,"payload":1}`, bad, "no event name")
	f(`{"data":1}`, bad, "no event name")
	f(`{"channel":"a","event":"b","payload":1}`, bad, "only one of")
	f(`{"channel":"a","channels":["b"],"payload":1}`, bad, "only one of")
	f(`{"channel":"","payload":1}`, bad, `"channel" is empty`)
	f(`{"event":""}`, bad, `"event" is empty`)
	f(`{"channel":42,"payload":1}`, bad, `"channel" must be a string, got a number`)
	f(`{"event":{"a":1}}`, bad, `"event" must be a string, got an object`)
	f(`{"channels":"news","payload":1}`, bad, `"channels" must be an array of strings, got a string`)
	f(`{"channels":["a",7],"payload":1}`, bad, `"channels[1]" must be a string, got a number`)
	f(`{"channels":["a",""],"payload":1}`, bad, `"channels[1]" is empty`)
	f(`{"channels":[],"payload":1}`, bad, `"channels" is empty`)
	f(`{"channels":["a"],"payload":[]}`, bad, `"payload" is an empty array`)
	f(`{"channels":[`+strings.Repeat(`"c",`, MaxChannels)+`"c"],"payload":1}`, bad, "101 channels: at most 100")
	f(`{"channel":"news"}`, bad, `missing "payload"`)
	f(`{"channel":"news","data":1}`, bad, `with "channel", send "payload"`)
	f(`{"event":"news","payload":1}`, bad, `with "event", send "data"`)
	f(`{"channel":"a","payload":1,"rooms":5}`, bad, `"rooms" must be a string or an array of strings, got a number`)
	f(`{"channel":"a","payload":1,"rooms":["r",false]}`, bad, `"rooms[1]" must be a string, got a boolean`)
	f(`{"channel":"a","payload":1,"rooms":[""]}`, bad, `"rooms[0]" is empty`)
	f(`{"channel":"a","payload":1,"except":{}}`, bad, `"except" must be a string or an array of strings, got an object`)
	f(`{"channel":"a","payload":1,"to":["x"]}`, bad, `"to" must be a string, got an array`)
	f(`{"channel":"a","payload":1,"namespace":1}`, bad, `"namespace" must be a string, got a number`)
	f(`{"channel":"a","payload":1,"volatile":"yes"}`, bad, `"volatile" must be a boolean, got a string`)
	f(`{"channel":"a","payload":1,"namespace":"/nope"}`, bad, `unknown namespace "/nope"`)
	f(`{"channel":"connect","payload":1}`, bad, `event name "connect" is reserved`)
	f(`{"channels":["ok","disconnect"],"payload":1}`, bad, `event name "disconnect" is reserved`)
	f(`{"event":"newListener"}`, bad, `event name "newListener" is reserved`)
	f("{\"channel\":\"a\",\"payload\":\"\xff\"}", bad, "not valid UTF-8")

	media := http.StatusUnsupportedMediaType
	g := func(ct string, sub string) {
		t.Helper()
		r := do(t, http.MethodPost, ts.admin+"/SendWebsocketEvent", strings.NewReader(`{"event":"x"}`), "Content-Type", ct)
		checkError(t, r, media, sub)
	}
	g("", "missing Content-Type")
	g("application/x-www-form-urlencoded", "want application/json") // curl -d
	g("text/plain", "want application/json")
	g("multipart/form-data; boundary=x", "want application/json")
	g("application/jsonx", "want application/json")
	g("application/json; charset=iso-8859-1", "must be UTF-8")
	g("application/json; charset", "want application/json")

	// 413, with a Content-Length and chunked (no length known ahead).
	big := `{"channel":"a","payload":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	checkError(t, post(t, ts.admin, big), http.StatusRequestEntityTooLarge, "larger than 1048576 bytes")
	checkError(t, post(t, ts.main, big), http.StatusRequestEntityTooLarge, "larger than 1048576 bytes")
	chunked := io.MultiReader(strings.NewReader(big)) // not a *strings.Reader: sent chunked
	checkError(t, do(t, http.MethodPost, ts.admin+"/SendWebsocketEvent", chunked, "Content-Type", "application/json"),
		http.StatusRequestEntityTooLarge, "larger than")

	// A client that uploads its whole oversized body before reading reads
	// the 413 (no reset); one that waits for "100 Continue" gets the 413
	// without uploading.
	for _, base := range []string{ts.admin, ts.main} {
		head := "POST /SendWebsocketEvent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(big)) + "\r\n"
		if got := rawExchange(t, base, head+"\r\n"+big); !strings.HasPrefix(got, "HTTP/1.1 413 ") {
			t.Errorf("%s: full oversized upload answered %q", base, got)
		}
		if got := rawExchange(t, base, head+"Expect: 100-continue\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 413 ") {
			t.Errorf("%s: Expect: 100-continue answered %q", base, got)
		}
	}

	// Nothing above reached the client: its next event is this one.
	sent(t, post(t, ts.main, `{"event":"after"}`), 1, 1)
	c.expect(`["after"]`)
}

// TestToken runs a service with ADMIN_TOKEN: / and /health stay open,
// every other route wants the bearer token, on both listeners.
func TestToken(t *testing.T) {
	const token = "s3cret-token"
	ts := startService(t, "--admin-token", token)
	c := dialSIO(t, ts, "/")
	for _, base := range []string{ts.admin, ts.main} {
		t.Run(strings.TrimPrefix(base, "http://"), func(t *testing.T) {
			for _, path := range []string{"/", "/health"} {
				if r := do(t, http.MethodGet, base+path, nil); r.status != http.StatusOK {
					t.Errorf("GET %s without token: %d %s", path, r.status, r.body)
				}
			}
			unauthorized := func(method, path string, hdr ...string) {
				t.Helper()
				hdr = append(hdr, "Content-Type", "application/json")
				r := do(t, method, base+path, strings.NewReader(`{"event":"x"}`), hdr...)
				checkError(t, r, http.StatusUnauthorized, "bearer token")
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s %s: WWW-Authenticate %q", method, path, got)
				}
			}
			for _, hdr := range [][]string{
				nil,
				{"Authorization", "Bearer wrong"},
				{"Authorization", "Bearer " + token + "x"},
				{"Authorization", "Bearer " + token[:len(token)-1]},
				{"Authorization", "Basic " + token},
				{"Authorization", token},
				{"Authorization", "Bearer"},
				{"Authorization", "Bearer "},
			} {
				unauthorized(http.MethodGet, "/metrics", hdr...)
				unauthorized(http.MethodGet, "/metrics?format=json", hdr...)
				unauthorized(http.MethodPost, "/SendWebsocketEvent", hdr...)
				// Without the token, a wrong method is 401 too: the route
				// tells nothing about itself.
				unauthorized(http.MethodGet, "/SendWebsocketEvent", hdr...)
			}
			for _, auth := range []string{"Bearer " + token, "bearer " + token, "BEARER  " + token} {
				scrape(t, base, "Authorization", auth)
				sent(t, post(t, base, `{"event":"authorized"}`, "Authorization", auth), 1, 1)
				c.expect(`["authorized"]`)
			}
			r := do(t, http.MethodGet, base+"/SendWebsocketEvent", nil, "Authorization", "Bearer "+token)
			checkError(t, r, http.StatusMethodNotAllowed, "not allowed")
		})
	}
	// None of the refused POSTs reached the client.
	sent(t, post(t, ts.main, `{"event":"last"}`, "Authorization", "Bearer "+token), 1, 1)
	c.expect(`["last"]`)
}

// rawExchange writes req on a new connection to base, then reads the
// answer until the server closes the connection.
func rawExchange(t *testing.T, base, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	if c, ok := conn.(*net.TCPConn); ok {
		_ = c.CloseWrite()
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Errorf("reading the answer: %v (got %q)", err, b)
	}
	return string(b)
}

func TestErrorIs(t *testing.T) {
	err := error(errorf(http.StatusBadRequest, "%q must be a string", "channel"))
	if !errors.Is(err, ErrBadRequest) || errors.Is(err, ErrNotFound) {
		t.Errorf("errors.Is on %v: wrong match", err)
	}
	if got := err.Error(); got != `api: "channel" must be a string` {
		t.Errorf("Error() = %q", got)
	}
}
