package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testJWTSecret = "api-test-secret"

// userAuth is the CONNECT auth of user sub: an HS256 token signed with
// testJWTSecret.
func userAuth(t testing.TB, sub string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString([]byte(testJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return `{"token":"` + tok + `"}`
}

// TestUserTarget: "user" adds the room of each user to rooms (a union with
// rooms and to), and is checked with messages that name the field.
func TestUserTarget(t *testing.T) {
	ok := func(body string, nameBytes int, rooms ...string) {
		t.Helper()
		p, err := parseSend([]byte(body), nameBytes)
		if err != nil {
			t.Fatalf("parseSend(%s): %v", body, err)
		}
		if !slices.Equal(p.target.Rooms, rooms) {
			t.Errorf("parseSend(%s): rooms %q, want %q", body, p.target.Rooms, rooms)
		}
	}
	ok(`{"event":"e","user":"42"}`, 256, "user:42")
	ok(`{"event":"e","user":["42","7"],"rooms":"news","to":"abc"}`, 256, "news", "abc", "user:42", "user:7")
	ok(`{"event":"e","user":null}`, 256)
	ok(`{"event":"e","user":"`+strings.Repeat("é", 4)+`"}`, 8, "user:"+strings.Repeat("é", 4))
	bad := func(body string, nameBytes int, want string) {
		t.Helper()
		_, err := parseSend([]byte(body), nameBytes)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSend(%s): %v, want a 400 saying %q", body, err, want)
		}
	}
	bad(`{"event":"e","user":""}`, 256, `"user" is empty: want a user id`)
	bad(`{"event":"e","user":[]}`, 256, `"user" is an empty array`)
	bad(`{"event":"e","user":["a",""]}`, 256, `"user[1]" is empty`)
	bad(`{"event":"e","user":["a",42]}`, 256, `"user[1]" must be a string, got a number`)
	bad(`{"event":"e","user":42}`, 256, `"user" must be a user id or an array of user ids, got a number`)
	bad(`{"event":"e","user":{"id":"a"}}`, 256, `"user" must be a user id or an array of user ids, got an object`)
	bad(`{"event":"e","user":"123456789"}`, 8, `"user" "123456789" is 9 bytes, longer than MAX_NAME_BYTES (8)`)
	bad(`{"event":"e","user":["a","`+strings.Repeat("x", 300)+`"]}`, 256, `"user[1]" "`+strings.Repeat("x", 40)+`…" is 300 bytes`)
	many, _ := json.Marshal(make([]string, MaxUsers+1))
	bad(`{"event":"e","user":`+string(many)+`}`, 256, `"user" lists 101 user ids: at most 100 per request`)

	q := func(query string, want ...string) {
		t.Helper()
		v, _ := url.ParseQuery(query)
		tg, err := queryTarget(v, 8)
		if err != nil {
			t.Fatalf("queryTarget(%s): %v", query, err)
		}
		if !slices.Equal(tg.Rooms, want) {
			t.Errorf("queryTarget(%s): rooms %q, want %q", query, tg.Rooms, want)
		}
	}
	q("user=42&room=a&user=7", "a", "user:42", "user:7")
	qbad := func(query, want string) {
		t.Helper()
		v, _ := url.ParseQuery(query)
		_, err := queryTarget(v, 8)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("queryTarget(%s): %v, want a 400 saying %q", query, err, want)
		}
	}
	qbad("user=", `"user" is empty`)
	qbad("user=123456789", `"user" "123456789" is 9 bytes, longer than MAX_NAME_BYTES (8)`)
	qbad(strings.Repeat("user=a&", MaxUsers+1), `101 "user" parameters: at most 100 per request`)
}

// TestUsers: the sockets of a user, reached by POST /SendWebsocketEvent,
// listed, counted and acted on by the /sockets routes; nobody else is.
func TestUsers(t *testing.T) {
	ts := startService(t, "--jwt-secret", testJWTSecret)
	a1 := dialSIOAuth(t, ts, "/", userAuth(t, "alice"))
	a2 := dialSIOAuth(t, ts, "/", userAuth(t, "alice"))
	ac := dialSIOAuth(t, ts, "/chat", userAuth(t, "alice"))
	b := dialSIOAuth(t, ts, "/", userAuth(t, "bob"))
	all := []*sioClient{a1, a2, b}
	sentinel := func() {
		t.Helper()
		postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"sentinel"}`)
	}

	m := postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"for","data":"alice","user":"alice"}`)
	if number(t, m["recipients"]) != 2 {
		t.Errorf("recipients %v, want alice's 2 sockets on /", m["recipients"])
	}
	sentinel()
	a1.expect(`["for","alice"]`, `["sentinel"]`)
	a2.expect(`["for","alice"]`, `["sentinel"]`)
	b.expect(`["sentinel"]`)
	// A list, except, and the union with a room.
	b.subscribe("news")
	postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"x","user":["alice","bob"],"except":"`+a1.sid+`"}`)
	postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"u","rooms":"news","user":"alice","except":"`+a2.sid+`"}`)
	sentinel()
	a1.expect(`["u"]`, `["sentinel"]`)
	a2.expect(`["x"]`, `["sentinel"]`)
	b.expect(`["x"]`, `["u"]`, `["sentinel"]`)
	// Another namespace.
	postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"c","user":"alice","namespace":"/chat"}`)
	ac.expect(`["c"]`)

	// GET /sockets?user=: the list shows the user room among the rooms;
	// count=true answers the count alone.
	r := do(t, http.MethodGet, ts.admin+"/sockets?user=alice", nil)
	var list fetchResponse
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != http.StatusOK || list.Count != 2 || len(list.Sockets) != 2 {
		t.Fatalf("GET /sockets?user=alice: %d %s", r.status, r.body)
	}
	for _, s := range list.Sockets {
		if s.UserID != "alice" || !slices.Equal(s.Rooms, []string{s.ID, "user:alice"}) {
			t.Errorf("socket %+v: want user alice, rooms [id user:alice]", s)
		}
	}
	r = do(t, http.MethodGet, ts.admin+"/sockets?user=alice&user=bob&count=true", nil)
	cm := r.object(t)
	keys(t, cm, "count", "servers", "answered", "complete")
	if number(t, cm["count"]) != 3 {
		t.Errorf("count of alice and bob: %s", r.body)
	}
	if r := do(t, http.MethodGet, ts.admin+"/sockets?user=alice&namespace=/chat&count=true", nil); number(t, r.object(t)["count"]) != 1 {
		t.Errorf("count of alice on /chat: %s", r.body)
	}
	if r := do(t, http.MethodGet, ts.admin+"/sockets?user=carol&count=true", nil); number(t, r.object(t)["count"]) != 0 {
		t.Errorf("count of nobody: %s", r.body)
	}

	// join, leave and disconnect by user; user rooms themselves cannot be
	// joined or left there.
	if m := postJSON(t, ts.admin+"/sockets/join", `{"user":"alice","room":"vip"}`); number(t, m["local_sockets"]) != 2 {
		t.Errorf("join by user: %v", m)
	}
	if r := do(t, http.MethodGet, ts.admin+"/sockets?room=vip&count=true", nil); number(t, r.object(t)["count"]) != 2 {
		t.Errorf("vip after join by user: %s", r.body)
	}
	for _, route := range []string{"/sockets/join", "/sockets/leave"} {
		r := do(t, http.MethodPost, ts.admin+route, strings.NewReader(`{"to":"`+b.sid+`","room":["x","user:alice"]}`), "Content-Type", "application/json")
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `\"room\" \"user:alice\" is reserved`) {
			t.Errorf("POST %s of a user room: %d %s", route, r.status, r.body)
		}
	}
	r = do(t, http.MethodPost, ts.admin+"/sockets/disconnect", strings.NewReader(`{"user":""}`), "Content-Type", "application/json")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `\"user\" is empty`) {
		t.Errorf("disconnect with an empty user: %d %s", r.status, r.body)
	}
	if m := postJSON(t, ts.admin+"/sockets/disconnect", `{"user":"bob"}`); number(t, m["local_sockets"]) != 1 {
		t.Errorf("disconnect bob: %v", m)
	}
	if got := b.read(); got != "41" {
		t.Errorf("bob got %q, want a DISCONNECT", got)
	}
	sentinel()
	for _, c := range all[:2] {
		c.expect(`["sentinel"]`)
	}
}

// TestUserRoomNotAChannel: no client subscribes to a user room (its own
// or another's) or leaves its own; the user room is listed in the acks
// but does not count against MAX_ROOMS_PER_SOCKET.
func TestUserRoomNotAChannel(t *testing.T) {
	ts := startService(t, "--jwt-secret", testJWTSecret, "--max-rooms-per-socket", "2")
	a := dialSIOAuth(t, ts, "/", userAuth(t, "alice"))
	b := dialSIOAuth(t, ts, "/", userAuth(t, "bob"))
	want := func(got string, rooms ...string) {
		t.Helper()
		w, _ := json.Marshal(rooms)
		if got != "["+string(w)+"]" {
			t.Errorf("ack %s, want [%s]", got, w)
		}
	}
	want(a.call(`["subscribe",["user:bob","user:","news"]]`), a.sid, "user:alice", "news")
	want(a.call(`["unsubscribe","user:alice"]`), a.sid, "user:alice", "news")
	// Two channels are allowed: the user room is not one of them.
	want(a.call(`["subscribe","sport"]`), a.sid, "user:alice", "news", "sport")
	got := a.call(`["subscribe","more"]`)
	if !strings.Contains(got, "MAX_ROOMS_PER_SOCKET (2)") {
		t.Errorf("third channel: ack %s, want a refusal", got)
	}
	// alice did not get into bob's room: a post to bob reaches bob alone.
	postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"bob","user":"bob"}`)
	postJSON(t, ts.admin+"/SendWebsocketEvent", `{"event":"sentinel"}`)
	a.expect(`["sentinel"]`)
	b.expect(`["bob"]`, `["sentinel"]`)
	// A socket without a user has no user room.
	anon := startService(t)
	c := dialSIO(t, anon, "/")
	want(c.call(`["subscribe","news"]`), c.sid, "news")
}

// TestMaxUserConnectionsService: past MAX_USER_CONNECTIONS the CONNECT is
// refused with the limit named, counted in /metrics; others go on.
func TestMaxUserConnectionsService(t *testing.T) {
	ts := startService(t, "--jwt-secret", testJWTSecret, "--max-user-connections", "2")
	a1 := dialSIOAuth(t, ts, "/", userAuth(t, "alice"))
	dialSIOAuth(t, ts, "/chat", userAuth(t, "alice"))
	c := openSIO(t, ts)
	const refused = `44{"message":"too many connections for this user: MAX_USER_CONNECTIONS (2)","data":{"limit":"MAX_USER_CONNECTIONS","max":2}}`
	if got := c.connect("/", userAuth(t, "alice")); got != refused {
		t.Fatalf("third socket of alice: %q, want %q", got, refused)
	}
	b := dialSIOAuth(t, ts, "/", userAuth(t, "bob"))
	mfs := scrape(t, ts.admin)
	found := false
	for _, m := range mfs["sioloop_connection_refusals_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == "max_user_connections" {
				found = true
				if v := m.GetCounter().GetValue(); v != 1 {
					t.Errorf("max_user_connections refusals = %v, want 1", v)
				}
			}
		}
	}
	if !found {
		t.Error(`no sioloop_connection_refusals_total{reason="max_user_connections"}`)
	}
	// One leaves: the refused client gets in on the same connection.
	a1.send("41")
	deadline := time.Now().Add(5 * time.Second)
	for ts.srvUserConns("alice") != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.connect("/", userAuth(t, "alice")); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("after a slot freed: %q", got)
	}
	c.ns = "/"
	c.send(`42["message","hi"]`)
	c.expect(`["message","hi"]`)
	b.send(`42["message","still"]`)
	b.expect(`["message","still"]`)
}

// srvUserConns is the count of user id's sockets that MAX_USER_CONNECTIONS
// bounds, through GET /sockets (the count is per process, all namespaces).
func (ts *testService) srvUserConns(id string) int {
	n := 0
	for _, ns := range []string{"/", "/chat"} {
		resp, err := http.Get(ts.admin + "/sockets?count=true&user=" + url.QueryEscape(id) + "&namespace=" + url.QueryEscape(ns))
		if err != nil {
			return -1
		}
		var m countResponse
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		n += m.Count
	}
	return n
}

// TestSocketsPaging: GET /sockets in pages of limit, by socket id, loses
// and repeats nothing; count is the total on every page; bad parameters
// are refused.
func TestSocketsPaging(t *testing.T) {
	ts := startService(t)
	const n = 23
	var want []string
	for range n {
		want = append(want, dialSIO(t, ts, "/").sid)
	}
	slices.Sort(want)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("too many pages")
		}
		r := do(t, http.MethodGet, ts.admin+"/sockets?limit=5&cursor="+url.QueryEscape(cursor), nil)
		var p fetchResponse
		if err := json.Unmarshal(r.body, &p); err != nil || r.status != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		if p.Count != n || !p.Complete {
			t.Errorf("page %d: count %d complete %v, want %d true", pages, p.Count, p.Complete, n)
		}
		wantLen := min(5, n-len(got))
		if len(p.Sockets) != wantLen {
			t.Fatalf("page %d: %d sockets, want %d", pages, len(p.Sockets), wantLen)
		}
		for _, s := range p.Sockets {
			got = append(got, s.ID)
		}
		if p.NextCursor == "" {
			if strings.Contains(string(r.body), "next_cursor") {
				t.Errorf("last page shows next_cursor: %s", r.body)
			}
			break
		}
		cursor = p.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave\n%q\nwant (sorted, once each)\n%q", got, want)
	}
	// The default limit takes them all in one page.
	r := do(t, http.MethodGet, ts.admin+"/sockets", nil)
	m := r.object(t)
	keys(t, m, "sockets", "count", "servers", "answered", "complete")
	if number(t, m["count"]) != n {
		t.Errorf("GET /sockets: %s", r.body)
	}
	if r := do(t, http.MethodGet, ts.admin+"/sockets?count=true", nil); number(t, r.object(t)["count"]) != n {
		t.Errorf("count=true: %s", r.body)
	}
	// A cursor past the last socket gives an empty last page.
	if r := do(t, http.MethodGet, ts.admin+"/sockets?cursor=fn5-", nil); !strings.HasPrefix(string(r.body), `{"sockets":[],"count":23,`) {
		t.Errorf("after the last: %s", r.body)
	}
	for q, msg := range map[string]string{
		"limit=0":       `limit=\"0\": want a whole number from 1 to 10000`,
		"limit=10001":   `limit=\"10001\": want a whole number from 1 to 10000`,
		"limit=ten":     `limit=\"ten\"`,
		"limit=-1":      `limit=\"-1\"`,
		"cursor=%21%21": `cursor=\"!!\": want the next_cursor of a previous answer`,
		"count=maybe":   `count=\"maybe\": want true or false`,
	} {
		r := do(t, http.MethodGet, ts.admin+"/sockets?"+q, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), msg) {
			t.Errorf("GET /sockets?%s: %d %s, want 400 with %s", q, r.status, r.body, msg)
		}
	}
	if r := do(t, http.MethodGet, ts.admin+"/sockets?limit="+strconv.Itoa(MaxSocketsLimit), nil); r.status != http.StatusOK {
		t.Errorf("limit=%d: %d", MaxSocketsLimit, r.status)
	}
}
