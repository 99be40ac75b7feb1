package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sioloop/metrics/metricstest"
	"slices"
	"strings"
	"testing"
	"time"

	"sioloop/loop/cluster/redistest"
)

// waitHealth polls GET /health until its "redis" field is want.
func waitHealth(t *testing.T, ts *testService, want string, status int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, http.MethodGet, ts.admin+"/health", nil)
		m := r.object(t)
		if m["redis"] == want && r.status == status {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /health: %d %s; want %d with redis %q", r.status, r.body, status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	r := do(t, http.MethodPost, url, strings.NewReader(body), "Content-Type", "application/json")
	if r.status != http.StatusOK {
		t.Fatalf("POST %s %s: %d %s", url, body, r.status, r.body)
	}
	return r.object(t)
}

// TestCluster runs three services on one Redis: broadcasts and socket
// management reach every server, "local" stays on one, and a Redis outage
// only pauses the cross-server part.
func TestCluster(t *testing.T) { testCluster(t, "pubsub") }

// TestClusterStreams is TestCluster with REDIS_ADAPTER=streams.
func TestClusterStreams(t *testing.T) { testCluster(t, "streams") }

// TestClusterSharded is TestCluster with REDIS_ADAPTER=sharded (dynamic
// subscription mode).
func TestClusterSharded(t *testing.T) {
	redistest.NeedVersion(t, 7)
	testCluster(t, "sharded")
}

// TestShardedRoomTraffic: with REDIS_ADAPTER=sharded a broadcast to a
// room is published on the room's channel, which only the servers with a
// member of the room subscribe (loop's OnRoom hook): of three servers,
// the one with no member receives no Redis message for it at all, while
// a broadcast to everyone reaches both others.
func TestShardedRoomTraffic(t *testing.T) {
	redistest.NeedVersion(t, 7)
	rs := redistest.Start(t)
	var ss []*testService
	for range 3 {
		s := startService(t, "--redis-url", rs.URL, "--redis-adapter", "sharded")
		waitHealth(t, s, "up", http.StatusOK)
		ss = append(ss, s)
	}
	member, other := dialSIO(t, ss[1], "/"), dialSIO(t, ss[2], "/")
	postJSON(t, ss[1].admin+"/sockets/join", `{"to":"`+member.sid+`","room":"r"}`)
	// The room's channel is subscribed when its first member joins.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := ss[0].ad.ServerCount(context.Background(), "/")
		r := do(t, http.MethodGet, ss[0].admin+"/sockets?room=r", nil)
		if err == nil && n == 3 && number(t, r.object(t)["count"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the member never joined r: %s", r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	received := func(s *testService) uint64 { return s.ad.Stats().Received[0] } // broadcasts
	r1, r2 := received(ss[1]), received(ss[2])
	const n = 20
	for range n {
		postJSON(t, ss[0].admin+"/SendWebsocketEvent", `{"rooms":"r","event":"room"}`)
	}
	for range n {
		if got := member.read(); got != `42["room"]` {
			t.Fatalf("member got %q", got)
		}
	}
	postJSON(t, ss[0].admin+"/SendWebsocketEvent", `{"event":"all"}`)
	if got := other.read(); got != `42["all"]` {
		t.Fatalf("other got %q, want all (and no room broadcast before it)", got)
	}
	if got := member.read(); got != `42["all"]` {
		t.Fatalf("member got %q", got)
	}
	d1, d2 := received(ss[1])-r1, received(ss[2])-r2
	t.Logf("%d broadcasts to a room with its one member on server 2, then 1 to all: Redis messages received by server 2: %d, by server 3: %d", n, d1, d2)
	if d1 != n+1 || d2 != 1 {
		t.Errorf("received %d and %d, want %d and 1", d1, d2, n+1)
	}
}

// TestHealthSentinel: with Redis Sentinel, GET /health names the master
// the adapter is connected to and counts the failovers it saw. Two
// services follow a failover (the master killed by PID): /health names
// the promoted replica, and a broadcast posted to one reaches the client
// of the other, which was never disconnected.
func TestHealthSentinel(t *testing.T) {
	rs := redistest.StartSentinel(t)
	var ss []*testService
	for range 2 {
		ss = append(ss, startService(t, "--redis-sentinel-addrs", strings.Join(rs.Addrs(), ","), "--redis-sentinel-master", redistest.SentinelMaster))
	}
	m := waitHealth(t, ss[0], "up", http.StatusOK)
	if m["redis_master"] != rs.Master.Addr() || number(t, m["redis_failovers"]) != 0 {
		t.Errorf("GET /health: %v, want redis_master %s and redis_failovers 0", m, rs.Master.Addr())
	}
	var sentinels []string
	for _, a := range slices.Sorted(slices.Values(rs.Addrs())) {
		sentinels = append(sentinels, a+" sentinel true")
	}
	waitNodes(t, ss[0], sentinels)
	mfs := scrape(t, ss[0].admin)
	if v, ok := metricstest.Value(mfs, "sioloop_redis_info", "topology", "sentinel", "master", rs.Master.Addr()); !ok || v != 1 {
		t.Errorf("sioloop_redis_info = %v (present %v)", v, ok)
	}
	waitHealth(t, ss[1], "up", http.StatusOK)
	c := dialSIO(t, ss[1], "/")
	killed := time.Now()
	rs.Master.Kill()
	for _, s := range ss {
		deadline := time.Now().Add(20 * time.Second)
		for {
			m := do(t, http.MethodGet, s.admin+"/health", nil).object(t)
			if m["redis"] == "up" && m["redis_master"] == rs.Replica.Addr() && number(t, m["redis_failovers"]) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /health 20s after the master was killed: %v, want redis up on %s after 1 failover", m, rs.Replica.Addr())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("both services on the promoted replica %v after the kill", time.Since(killed).Round(time.Millisecond))
	postJSON(t, ss[0].admin+"/SendWebsocketEvent", `{"event":"after"}`)
	if got := c.read(); got != `42["after"]` {
		t.Errorf("the client of the other service got %q, want the broadcast posted after the failover", got)
	}
	if v, _ := metricstest.Value(scrape(t, ss[1].admin), "sioloop_redis_failovers_total"); v != 1 {
		t.Errorf("sioloop_redis_failovers_total = %v, want 1", v)
	}
}

func testCluster(t *testing.T, adapter string) {
	rs := redistest.Start(t)
	s1 := startService(t, "--redis-url", rs.URL, "--redis-request-timeout", "2s", "--redis-adapter", adapter)
	s2 := startService(t, "--redis-url", rs.URL, "--redis-request-timeout", "2s", "--redis-adapter", adapter)
	s3 := startService(t, "--redis-url", rs.URL, "--redis-adapter", adapter, "--redis-readiness", "true")
	for _, s := range []*testService{s1, s2, s3} {
		keys(t, waitHealth(t, s, "up", http.StatusOK), "status", "timestamp", "uptime", "memory", "connections", "redis")
	}
	c1, c2 := dialSIO(t, s1, "/"), dialSIO(t, s2, "/")
	expect := func(c *sioClient, want string) {
		t.Helper()
		if got := c.read(); got != want {
			t.Fatalf("socket %s got %q, want %q", c.sid, got, want)
		}
	}

	// A broadcast posted to one server reaches the clients of the others.
	postJSON(t, s1.admin+"/SendWebsocketEvent", `{"event":"hello","data":{"n":1}}`)
	expect(c1, `42["hello",{"n":1}]`)
	expect(c2, `42["hello",{"n":1}]`)

	// "local" stays on the server it was posted to.
	postJSON(t, s1.admin+"/SendWebsocketEvent", `{"event":"here","local":true}`)
	postJSON(t, s1.admin+"/SendWebsocketEvent", `{"event":"sentinel"}`)
	expect(c1, `42["here"]`)
	expect(c1, `42["sentinel"]`)
	expect(c2, `42["sentinel"]`)

	// GET /sockets lists the sockets of every server.
	r := do(t, http.MethodGet, s2.admin+"/sockets", nil)
	m := r.object(t)
	if r.status != http.StatusOK || number(t, m["count"]) != 2 || number(t, m["servers"]) != 3 || m["complete"] != true {
		t.Fatalf("GET /sockets: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), c1.sid) || !strings.Contains(string(r.body), c2.sid) {
		t.Errorf("GET /sockets: %s lacks %s or %s", r.body, c1.sid, c2.sid)
	}
	if r := do(t, http.MethodGet, s2.admin+"/sockets?local=true", nil); number(t, r.object(t)["count"]) != 1 {
		t.Errorf("GET /sockets?local=true: %s", r.body)
	}

	// Join on another server, then a broadcast to the room.
	m = postJSON(t, s2.admin+"/sockets/join", `{"to":"`+c1.sid+`","room":"vip"}`)
	if number(t, m["local_sockets"]) != 0 || m["published"] != true {
		t.Errorf("POST /sockets/join: %v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, http.MethodGet, s3.admin+"/sockets?room=vip", nil)
		if number(t, r.object(t)["count"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c1 never joined vip: %s", r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	postJSON(t, s3.admin+"/SendWebsocketEvent", `{"rooms":"vip","event":"vip"}`)
	postJSON(t, s3.admin+"/SendWebsocketEvent", `{"event":"sentinel"}`)
	expect(c1, `42["vip"]`)
	expect(c1, `42["sentinel"]`)
	expect(c2, `42["sentinel"]`)
	postJSON(t, s1.admin+"/sockets/leave", `{"rooms":"vip","room":"vip"}`)

	// A broadcast with acks posted to one server waits for the clients of
	// every server.
	answer := func(c *sioClient, v string) {
		p := c.read()
		id, _, ok := strings.Cut(strings.TrimPrefix(p, "42"), "[")
		if !strings.HasPrefix(p, "42") || !ok || id == "" {
			t.Errorf("socket %s got %q, want an EVENT with an ack id", c.sid, p)
			return
		}
		c.send("43" + id + `[` + v + `]`)
	}
	acked := make(chan map[string]any, 1)
	go func() {
		r := do(t, http.MethodPost, s3.admin+"/SendWebsocketEvent", strings.NewReader(`{"event":"q","ack":true,"timeout":"3s"}`),
			"Content-Type", "application/json")
		acked <- r.object(t)
	}()
	answer(c1, `"one"`)
	answer(c2, `"two"`)
	m = <-acked
	if number(t, m["recipients"]) != 2 || number(t, m["timeouts"]) != 0 ||
		!strings.Contains(fmt.Sprint(m["responses"]), "one") || !strings.Contains(fmt.Sprint(m["responses"]), "two") {
		t.Errorf("POST /SendWebsocketEvent with ack: %v", m)
	}

	// Redis down: liveness stays 200, readiness follows REDIS_READINESS,
	// local delivery goes on.
	rs.Kill()
	waitHealth(t, s1, "down", http.StatusOK)
	if m := waitHealth(t, s3, "down", http.StatusServiceUnavailable); m["status"] != "unready" {
		t.Errorf("GET /health with Redis down and REDIS_READINESS: %v", m)
	}
	postJSON(t, s2.admin+"/SendWebsocketEvent", `{"event":"alone"}`)
	expect(c2, `42["alone"]`)
	r = do(t, http.MethodGet, s2.admin+"/sockets", nil)
	if m := r.object(t); r.status != http.StatusOK || m["complete"] != false || number(t, m["count"]) != 1 || m["error"] == nil {
		t.Errorf("GET /sockets with Redis down: %d %s", r.status, r.body)
	}

	// Redis back: cross-server delivery resumes by itself.
	rs.Restart(t)
	for _, s := range []*testService{s1, s2, s3} {
		waitHealth(t, s, "up", http.StatusOK)
	}
	postJSON(t, s2.admin+"/SendWebsocketEvent", `{"event":"back"}`)
	expect(c2, `42["back"]`)
	// "alone" was queued on s2 and retried (REDIS_PUBLISH_RETRY): it
	// reaches c1 too if s1 subscribed again before the retry went out.
	if got := c1.read(); got == `42["alone"]` {
		expect(c1, `42["back"]`)
	} else if got != `42["back"]` {
		t.Fatalf("c1 got %q, want the retried alone or back", got)
	}

	// Disconnect from another server.
	postJSON(t, s2.admin+"/sockets/disconnect", `{"to":"`+c1.sid+`"}`)
	expect(c1, `41`)

	// The adapter's metrics are on /metrics.
	mfs := scrape(t, s2.admin)
	if v, ok := metricstest.Value(mfs, "sioloop_redis_up"); !ok || v != 1 {
		t.Errorf("sioloop_redis_up = %v (present %v)", v, ok)
	}
	if v, _ := metricstest.Value(mfs, "sioloop_redis_reconnects_total"); v < 1 {
		t.Errorf("sioloop_redis_reconnects_total = %v, want ≥ 1", v)
	}
	if v, _ := metricstest.Value(mfs, "sioloop_cluster_messages_sent_total", "type", "broadcast"); v < 2 {
		t.Errorf("sioloop_cluster_messages_sent_total{type=broadcast} = %v", v)
	}
}

// TestSocketsRoutesLocal drives the socket management routes without a
// cluster, and their errors.
func TestSocketsRoutesLocal(t *testing.T) {
	ts := startService(t)
	c := dialSIO(t, ts, "/")
	m := postJSON(t, ts.admin+"/sockets/join", `{"room":["a","b"]}`)
	if number(t, m["local_sockets"]) != 1 || m["published"] != false {
		t.Errorf("POST /sockets/join: %v", m)
	}
	r := do(t, http.MethodGet, ts.admin+"/sockets?room=b", nil)
	m = r.object(t)
	keys(t, m, "sockets", "count", "servers", "answered", "complete")
	if number(t, m["count"]) != 1 || !strings.Contains(string(r.body), `"rooms":["`+c.sid+`","a","b"]`) {
		t.Errorf("GET /sockets?room=b: %s", r.body)
	}
	postJSON(t, ts.admin+"/sockets/leave", `{"room":"a"}`)
	if r := do(t, http.MethodGet, ts.admin+"/sockets?room=a", nil); number(t, r.object(t)["count"]) != 0 {
		t.Errorf("after leave: %s", r.body)
	}
	bad := func(method, path, body string, status int, msg string) {
		t.Helper()
		var r response
		if method == http.MethodGet {
			r = do(t, method, ts.admin+path, nil)
		} else {
			r = do(t, method, ts.admin+path, strings.NewReader(body), "Content-Type", "application/json")
		}
		if r.status != status || !strings.Contains(string(r.body), msg) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", method, path, body, r.status, r.body, status, msg)
		}
	}
	bad(http.MethodPost, "/sockets/join", `{}`, 400, `missing \"room\"`)
	bad(http.MethodPost, "/sockets/join", `{"room":1}`, 400, `\"room\" must be`)
	bad(http.MethodPost, "/sockets/leave", `{"room":"a","namespace":"/nope"}`, 400, "unknown namespace")
	bad(http.MethodPost, "/sockets/disconnect", `{"close":"yes"}`, 400, `\"close\" must be a boolean`)
	bad(http.MethodPost, "/sockets/disconnect", `[]`, 400, "JSON object")
	bad(http.MethodGet, "/sockets/disconnect", ``, 405, "not allowed")
	bad(http.MethodGet, "/sockets?namespace=/nope", ``, 400, "unknown namespace")
	bad(http.MethodGet, "/sockets?local=maybe", ``, 400, "want true or false")
	bad(http.MethodGet, "/sockets?room=", ``, 400, "empty")
	postJSON(t, ts.admin+"/sockets/disconnect", `{"close":true}`)
	if got := c.read(); got != "41" {
		t.Errorf("after POST /sockets/disconnect the client got %q, want 41", got)
	}
}

// TestClusterUsers: a user with three sockets on two servers is reached
// by one POST, counted and paged across the cluster through Redis; a
// socket of another user is not reached.
func TestClusterUsers(t *testing.T) {
	rs := redistest.Start(t)
	s1 := startService(t, "--redis-url", rs.URL, "--redis-request-timeout", "2s", "--jwt-secret", testJWTSecret)
	s2 := startService(t, "--redis-url", rs.URL, "--redis-request-timeout", "2s", "--jwt-secret", testJWTSecret)
	for _, s := range []*testService{s1, s2} {
		waitHealth(t, s, "up", http.StatusOK)
	}
	a := []*sioClient{
		dialSIOAuth(t, s1, "/", userAuth(t, "42")),
		dialSIOAuth(t, s1, "/", userAuth(t, "42")),
		dialSIOAuth(t, s2, "/", userAuth(t, "42")),
	}
	other := dialSIOAuth(t, s2, "/", userAuth(t, "7"))
	waitCount := func(s *testService, query string, want int) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := do(t, http.MethodGet, s.admin+"/sockets?"+query, nil)
			m := r.object(t)
			if r.status == http.StatusOK && m["complete"] == true && number(t, m["count"]) == int64(want) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /sockets?%s: %d %s, want count %d from every server", query, r.status, r.body, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	m := waitCount(s1, "user=42&count=true", 3)
	keys(t, m, "count", "servers", "answered", "complete")
	if number(t, m["servers"]) != 2 || number(t, m["answered"]) != 2 {
		t.Errorf("count of user 42: %v", m)
	}

	// One POST to s1 reaches the three, on both servers, and not user 7.
	// The sentinel goes through the same server, so it follows the event
	// everywhere (two servers' publishes have no order between them).
	postJSON(t, s1.admin+"/SendWebsocketEvent", `{"event":"hi","data":{"to":"42"},"user":"42"}`)
	postJSON(t, s1.admin+"/SendWebsocketEvent", `{"event":"sentinel"}`)
	for _, c := range a {
		c.expect(`["hi",{"to":"42"}]`, `["sentinel"]`)
	}
	other.expect(`["sentinel"]`)

	// Pages across servers: sorted by id, nothing lost or repeated.
	var ids []string
	cursor := ""
	for range 3 {
		r := do(t, http.MethodGet, s2.admin+"/sockets?user=42&limit=2&cursor="+cursor, nil)
		var p fetchResponse
		if err := json.Unmarshal(r.body, &p); err != nil || p.Count != 3 {
			t.Fatalf("GET /sockets?user=42&limit=2: %s", r.body)
		}
		for _, s := range p.Sockets {
			ids = append(ids, s.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{a[0].sid, a[1].sid, a[2].sid}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("pages of user 42: %q, want %q", ids, want)
	}

	// Socket management by user reaches the other server too.
	postJSON(t, s2.admin+"/sockets/disconnect", `{"user":"42"}`)
	for _, c := range a {
		if got := c.read(); got != "41" {
			t.Errorf("socket %s got %q, want a DISCONNECT", c.sid, got)
		}
	}
	waitCount(s1, "user=42&count=true", 0)
	waitCount(s1, "user=7&count=true", 1)
}

// TestClusterStreamsOutage kills Redis for 3s while one service posts
// steadily: a client of the other service gets every event, in order,
// once. What s1 posted during the outage waited in its publish queue and
// reached the stream when Redis was back; what reached the stream before
// the kill was read by s2 from its last entry.
func TestClusterStreamsOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("kills redis-server for 3s")
	}
	rs := redistest.Start(t)
	s1 := startService(t, "--redis-url", rs.URL, "--redis-adapter", "streams")
	s2 := startService(t, "--redis-url", rs.URL, "--redis-adapter", "streams")
	for _, s := range []*testService{s1, s2} {
		waitHealth(t, s, "up", http.StatusOK)
	}
	c2 := dialSIO(t, s2, "/")
	const total = 250
	posted := make(chan error, 1)
	go func() {
		for i := range total {
			r, err := http.Post(s1.admin+"/SendWebsocketEvent", "application/json",
				strings.NewReader(fmt.Sprintf(`{"event":"tick","data":%d}`, i)))
			if err != nil {
				posted <- err
				return
			}
			r.Body.Close()
			time.Sleep(20 * time.Millisecond) // 5s of posts
		}
		posted <- nil
	}()
	time.Sleep(time.Second)
	rs.Kill()
	time.Sleep(3 * time.Second)
	rs.Restart(t)
	for i := range total {
		if got, want := c2.read(), fmt.Sprintf(`42["tick",%d]`, i); got != want {
			t.Fatalf("event %d: got %q, want %q (lost, duplicated or out of order)", i, got, want)
		}
	}
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
}

// redisNodes returns "addr role up" of each node /health lists.
func redisNodes(m map[string]any) []string {
	var out []string
	list, _ := m["redis_nodes"].([]any)
	for _, v := range list {
		n, _ := v.(map[string]any)
		out = append(out, fmt.Sprint(n["addr"], " ", n["role"], " ", n["up"]))
	}
	return out
}

// waitNodes polls /health until its redis_nodes are want (sorted by role
// then address), for up to 20s (the nodes are PINGed every 5s).
func waitNodes(t *testing.T, s *testService, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := redisNodes(do(t, http.MethodGet, s.admin+"/health", nil).object(t))
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /health redis_nodes %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHealthRedisClusterNodes kills one master of a 3-master Redis
// Cluster by PID: /health and sioloop_redis_node_up show it down.
func TestHealthRedisClusterNodes(t *testing.T) {
	rc := redistest.StartCluster(t)
	s := startService(t, "--redis-cluster-addrs", strings.Join(rc.Addrs(), ","))
	waitHealth(t, s, "up", http.StatusOK)
	addrs := rc.Addrs()
	slices.Sort(addrs)
	want := func(down string) []string {
		var out []string
		for _, a := range addrs {
			out = append(out, fmt.Sprint(a, " master ", a != down))
		}
		return out
	}
	waitNodes(t, s, want(""))
	victim := rc.Nodes[2]
	victim.Kill()
	waitNodes(t, s, want(victim.Addr()))
	mfs := scrape(t, s.admin)
	if v, ok := metricstest.Value(mfs, "sioloop_redis_node_up", "addr", victim.Addr(), "role", "master"); !ok || v != 0 {
		t.Errorf("sioloop_redis_node_up{addr=%q} = %v (present %v), want 0", victim.Addr(), v, ok)
	}
	if v, ok := metricstest.Value(mfs, "sioloop_redis_node_up", "addr", rc.Nodes[0].Addr(), "role", "master"); !ok || v != 1 {
		t.Errorf("sioloop_redis_node_up{addr=%q} = %v (present %v), want 1", rc.Nodes[0].Addr(), v, ok)
	}
}
