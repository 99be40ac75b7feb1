package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// failoverBound is how long after the Sentinel master is killed every broadcast must reach
// every client again, and the longest any client may go without a broadcast from the other
// replica. Measured on loopback, 2 cores, with redistest's Sentinels (down-after-milliseconds
// 1000, failover-timeout 3000): every client had a broadcast posted after the kill 2.6 s after
// it with pubsub and sharded, 3.5 s with streams, and the longest silence of a client was 2.8 s
// and 3.7 s (README, "How do I run Redis without a single point of failure?"). The bound is
// about three times that, for a loaded machine.
const failoverBound = 10 * time.Second

// promptMillis is failover.js's PROMPT_MS: a broadcast that reached every client within it of
// its POST was delivered as usual, a later one waited out the failover.
const promptMillis = 1000

// holdPosts is failover.js's HOLD: the promptly delivered broadcasts in a row that show
// delivery is back.
const holdPosts = 20

// inFlightMillis is how long before the kill a broadcast may have been posted and still be
// lost with pub/sub: its PUBLISH may have reached the master as it died.
const inFlightMillis = 250

// failoverClients is the number of socket.io-client clients on each replica.
const failoverClients = 20

// TestClusterSentinelFailover runs failover.js: two sioloop replicas on Redis Sentinel (a
// master, a replica, three Sentinels), 20 official socket.io-client clients on each in one
// room, and a broadcast to the room every 100 ms posted alternately to each replica. The
// Sentinel master is killed by PID. It checks that no client is disconnected and no replica
// exits; that within failoverBound of the kill every broadcast reaches every client again
// (and no client waits longer than that for one from the other replica); that nothing posted
// well before the kill is lost; and, with streams, that nothing is lost at all. With pub/sub
// and sharded, the broadcasts lost in the gap are logged.
func TestClusterSentinelFailover(t *testing.T) {
	for _, adapter := range []string{"pubsub", "streams", "sharded"} {
		t.Run(adapter, func(t *testing.T) {
			if testing.Short() {
				t.Skip("a Sentinel failover takes several seconds")
			}
			if adapter == "sharded" {
				redistest.NeedVersion(t, 7)
			}
			runSentinelFailover(t, adapter)
		})
	}
}

// runSentinelFailover runs failover.js against two replicas with REDIS_ADAPTER=adapter and
// judges what it reports.
func runSentinelFailover(t *testing.T, adapter string) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the failover test runs sioloop replicas; INTEROP_TARGET=%s", h.target)
	}
	start := time.Now()
	rs := redistest.StartSentinel(t)
	procs := startSentinelReplicas(t, h, rs, adapter, 2)
	var urls []string
	for _, p := range procs {
		urls = append(urls, p.url)
	}
	t.Logf("Sentinel topology and 2 sioloop replicas (%s) ready in %v", adapter, time.Since(start).Round(time.Millisecond))

	js := startNodeScript(t, h, 75*time.Second, []string{
		"FAILOVER_SERVERS=" + strings.Join(urls, ","), "FAILOVER_ADMIN_TOKEN=" + clusterAdminToken,
		"FAILOVER_CLIENTS=" + strconv.Itoa(failoverClients), "FAILOVER_MAX_MS=" + strconv.FormatInt((failoverBound+3*time.Second).Milliseconds(), 10),
	}, "failover.js", "--timeout", "65")
	var checks checkLines
	var res *failoverResult
	for js.lines.Scan() {
		line := js.lines.Text()
		switch {
		case line == "@@KILL_MASTER@@":
			killed := time.Now()
			rs.Master.Kill()
			fmt.Fprintf(js.stdin, "killed %d\n", killed.UnixMilli())
			t.Logf("Sentinel master %s killed (SIGKILL, pid)", rs.Master.Addr())
		case strings.HasPrefix(line, "@@RESULT@@ "):
			res = parseFailoverResult(t, strings.TrimPrefix(line, "@@RESULT@@ "))
		default:
			t.Log(line)
			checks.add(line)
		}
	}
	js.finish(t, "failover.js", procs, &checks)
	if res == nil {
		t.Fatal("failover.js printed no @@RESULT@@ line")
	}
	judgeFailover(t, adapter, res)
	for _, p := range procs {
		checkFollowedFailover(t, p, rs.Replica.Addr())
	}
	t.Logf("failover test took %v", time.Since(start).Round(time.Millisecond))
}

// startSentinelReplicas starts n sioloop replicas that find their Redis through the Sentinels
// of rs.
func startSentinelReplicas(t *testing.T, h *harness, rs *redistest.Sentinel, adapter string, n int) []*clusterProc {
	t.Helper()
	bin := h.binary(t, "sioloop")
	var procs []*clusterProc
	for i := range n {
		port, admin := testnet.FreePort(t), testnet.FreePort(t)
		procs = append(procs, startClusterProc(t, "sioloop"+strconv.Itoa(i), h.root, bin, nil, []string{
			"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(admin),
			"REDIS_SENTINEL_ADDRS=" + strings.Join(rs.Addrs(), ","), "REDIS_SENTINEL_MASTER=" + redistest.SentinelMaster,
			"REDIS_ADAPTER=" + adapter, "LOG_LEVEL=warn", "ADMIN_TOKEN=" + clusterAdminToken,
		}, port))
	}
	return procs
}

// checkFollowedFailover checks that GET /health of p names master and one failover.
func checkFollowedFailover(t *testing.T, p *clusterProc, master string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(p.url + "/health")
	if err != nil {
		t.Errorf("%s: GET /health after the failover: %v", p.name, err)
		return
	}
	defer resp.Body.Close()
	var h struct {
		Redis     string `json:"redis"`
		Master    string `json:"redis_master"`
		Failovers int    `json:"redis_failovers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Redis != "up" || h.Master != master || h.Failovers != 1 {
		t.Errorf("%s: GET /health after the failover: %+v (%v), want redis up on %s after 1 failover", p.name, h, err, master)
	}
}

// failoverResult is failover.js's @@RESULT@@ line; times are milliseconds, T relative to the
// kill.
type failoverResult struct {
	Clients []failoverClient `json:"clients"`
	Posts   []failoverPost   `json:"posts"`
}

type failoverClient struct {
	Name        string   `json:"name"`
	Connected   bool     `json:"connected"`
	Disconnects []string `json:"disconnects"`
	Silence     int64    `json:"silence"` // longest time without a broadcast from the other replica
}

type failoverPost struct {
	N      int    `json:"n"`
	Server int    `json:"server"`
	T      int64  `json:"t"`      // when it was posted
	Status int    `json:"status"` // of the POST; 0 when it failed (Error)
	Error  string `json:"error"`
	Got    int    `json:"got"`   // clients that received it
	Delay  int64  `json:"delay"` // longest delay from the POST to a client's first receipt; -1 unless every client got it
	Dups   int    `json:"dups"`  // receipts beyond the first, summed over the clients
}

func (p failoverPost) answered() bool { return p.Status >= 200 && p.Status < 300 }

// prompt reports whether the broadcast was accepted and reached every client as usual.
func (p failoverPost) prompt() bool { return p.answered() && p.Delay >= 0 && p.Delay <= promptMillis }

func parseFailoverResult(t *testing.T, text string) *failoverResult {
	t.Helper()
	var r failoverResult
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatalf("failover.js result: %v: %.200s", err, text)
	}
	return &r
}

// resumedAt returns when, relative to the kill, the run of promptly delivered broadcasts that
// ends the test began: every broadcast posted from then on reached every client within
// promptMillis. ok is false when the last broadcast was not prompt (delivery never came back).
// held is the length of that run.
func resumedAt(posts []failoverPost) (at int64, held int, ok bool) {
	i := len(posts)
	for i > 0 && posts[i-1].prompt() && posts[i-1].T > 0 {
		i--
	}
	if i == len(posts) {
		return 0, 0, false
	}
	return posts[i].T, len(posts) - i, true
}

// backAt returns when, relative to the kill, every client had received a broadcast posted
// after the kill: the failover gap from the clients' side. -1 if none reached them all.
func backAt(posts []failoverPost) int64 {
	back := int64(-1)
	for _, p := range posts {
		if p.T > 0 && p.Delay >= 0 && (back < 0 || p.T+p.Delay < back) {
			back = p.T + p.Delay
		}
	}
	return back
}

// failoverLosses returns the accepted broadcasts that did not reach every client, and the
// deliveries they missed.
func failoverLosses(posts []failoverPost, clients int) (lost []failoverPost, missed int) {
	for _, p := range posts {
		if p.answered() && p.Got < clients {
			lost = append(lost, p)
			missed += clients - p.Got
		}
	}
	return lost, missed
}

// lostWindow says when the lost broadcasts were posted, relative to the kill.
func lostWindow(lost []failoverPost) string {
	if len(lost) == 0 {
		return ""
	}
	return fmt.Sprintf(", posted %dms to %dms after the kill", lost[0].T, lost[len(lost)-1].T)
}

// longestSilence returns the longest and the median silence of the clients.
func longestSilence(clients []failoverClient) (longest, median int64) {
	var s []int64
	for _, c := range clients {
		s = append(s, c.Silence)
	}
	slices.Sort(s)
	return s[len(s)-1], s[len(s)/2]
}

// judgeFailover checks what failover.js reported (see TestClusterSentinelFailover) and logs
// the figures.
func judgeFailover(t *testing.T, adapter string, r *failoverResult) {
	t.Helper()
	if len(r.Clients) != 2*failoverClients || len(r.Posts) == 0 {
		t.Fatalf("result with %d clients and %d broadcasts, want %d clients", len(r.Clients), len(r.Posts), 2*failoverClients)
	}
	clients := len(r.Clients)
	checkClientsStayed(t, r.Clients)
	checkBeforeKill(t, r.Posts, clients)
	at, held, ok := resumedAt(r.Posts)
	if !ok {
		last := r.Posts[len(r.Posts)-1]
		t.Fatalf("delivery never came back: the last broadcast, posted %dms after the kill, reached %d of %d clients (status %d, delay %dms)",
			last.T, last.Got, clients, last.Status, last.Delay)
	}
	if at > failoverBound.Milliseconds() || held < holdPosts {
		t.Errorf("delivery back %dms after the kill for the last %d broadcasts; want within %v and at least %d", at, held, failoverBound, holdPosts)
	}
	longest, median := longestSilence(r.Clients)
	if longest > failoverBound.Milliseconds() {
		t.Errorf("a client waited %dms for a broadcast from the other replica; want at most %v", longest, failoverBound)
	}
	lost, missed := failoverLosses(r.Posts, clients)
	for _, p := range lost {
		// Losses are the price of pub/sub in the gap only; streams must lose nothing.
		if adapter == "streams" || p.T < -inFlightMillis || p.T >= at {
			t.Errorf("%s: broadcast %d posted %dms after the kill (status %d) reached %d of %d clients",
				adapter, p.N, p.T, p.Status, p.Got, clients)
		}
	}
	c := countPosts(r.Posts)
	t.Logf("%s: %d clients, %d broadcasts (%d before the kill); delivery back %dms after the kill; every broadcast posted from %dms after the kill on (%d of them) reached every client within %dms; "+
		"longest silence of a client %dms (median %dms); lost %d broadcasts (%d of %d deliveries)%s; %d delivered late (after %dms); %d duplicate receipts; %d POSTs refused or failed",
		adapter, clients, len(r.Posts), c.before, backAt(r.Posts), at, held, promptMillis, longest, median, len(lost), missed, clients*len(r.Posts), lostWindow(lost),
		c.late, promptMillis, c.dups, c.refused)
}

// checkClientsStayed fails t for every client that lost its connection.
func checkClientsStayed(t *testing.T, clients []failoverClient) {
	t.Helper()
	var gone []string
	for _, c := range clients {
		if !c.Connected || len(c.Disconnects) > 0 {
			gone = append(gone, fmt.Sprintf("%s (connected %v, disconnects %q)", c.Name, c.Connected, c.Disconnects))
		}
	}
	if len(gone) > 0 {
		t.Errorf("%d of %d clients lost their connection: %s", len(gone), len(clients), strings.Join(gone, ", "))
	}
}

// checkBeforeKill fails t for every broadcast posted before the kill (and before a publish
// could be in flight) that did not reach every client promptly.
func checkBeforeKill(t *testing.T, posts []failoverPost, clients int) {
	t.Helper()
	for _, p := range posts {
		if p.T < -inFlightMillis && !p.prompt() {
			t.Errorf("broadcast %d posted %dms before the kill: status %d %s, reached %d of %d clients, delay %dms",
				p.N, -p.T, p.Status, p.Error, p.Got, clients, p.Delay)
		}
	}
}

// postCounts are the figures of a run that are logged, not judged.
type postCounts struct {
	before  int // posted before the kill
	late    int // reached every client, later than promptMillis
	dups    int // receipts beyond the first
	refused int // POSTs not answered 2xx
}

func countPosts(posts []failoverPost) postCounts {
	var c postCounts
	for _, p := range posts {
		if p.T < 0 {
			c.before++
		}
		if !p.answered() {
			c.refused++
		} else if p.Delay > promptMillis {
			c.late++
		}
		c.dups += p.Dups
	}
	return c
}
