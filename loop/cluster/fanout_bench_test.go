//go:build bench

package cluster

// The cluster fan-out benchmark: 3 sioloop processes on one redis-server,
// 5,000 WebSocket clients on each, broadcasts posted to the first one.
// It is a measurement, not a test; run it alone on a quiet machine:
//
//	go test -tags bench -run TestClusterFanout -v -timeout 10m ./loop/cluster/
//
// FANOUT_CLIENTS (per server, default 5000), FANOUT_ROUNDS (latency
// rounds, default 50) and FANOUT_BURST (broadcasts of the throughput
// phase, default 20) change the load.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"sioloop/loop/cluster/redistest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// slot records the deliveries of one broadcast.
type slot struct {
	count atomic.Int64
	last  atomic.Int64 // unix nanoseconds of the latest delivery
	local atomic.Int64 // latest delivery to a client of the server posted to
}

func (s *slot) record(now int64, local bool) {
	s.count.Add(1)
	for v := s.last.Load(); now > v && !s.last.CompareAndSwap(v, now); v = s.last.Load() {
	}
	if local {
		for v := s.local.Load(); now > v && !s.local.CompareAndSwap(v, now); v = s.local.Load() {
		}
	}
}

func TestClusterFanout(t *testing.T) {
	perServer := envInt("FANOUT_CLIENTS", 5000)
	rounds := envInt("FANOUT_ROUNDS", 50)
	burst := envInt("FANOUT_BURST", 20)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if need := uint64(3*perServer + 200); lim.Cur < need {
			t.Fatalf("open files limit %d < %d needed", lim.Cur, need)
		}
	}

	rs := redistest.Start(t)
	root, _ := filepath.Abs("../..")
	bin := filepath.Join(t.TempDir(), "sioloop")
	if out, err := exec.Command("go", "build", "-C", root, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var servers []string
	for i := 0; i < 3; i++ {
		port := freeTCPPort(t)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "ADMIN_ADDR=off", "REDIS_URL="+rs.URL,
			"LOG_LEVEL=warn", "PING_INTERVAL=120s", "PING_TIMEOUT=60s")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("server %d output:\n%s", i, out.String())
			}
		})
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		waitHealthy(t, base)
		servers = append(servers, base)
	}

	slots := make([]slot, rounds+burst+1)
	var connected atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	start := time.Now()
	for i := 0; i < 3*perServer; i++ {
		srv := i % 3
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, rw, err := dialClient(ctx, servers[srv])
			<-sem
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			defer conn.Close()
			connected.Add(1)
			readLoop(conn, rw, slots, srv == 0)
		}()
	}
	for connected.Load() < int64(3*perServer) {
		if time.Since(start) > 3*time.Minute || t.Failed() {
			t.Fatalf("only %d of %d clients connected", connected.Load(), 3*perServer)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d clients connected (%d per server) in %v", 3*perServer, perServer, time.Since(start).Round(time.Millisecond))
	total := int64(3 * perServer)

	post := func(k int) {
		body := `{"event":"bench","data":` + strconv.Itoa(k) + `}`
		resp, err := http.Post(servers[0]+"/SendWebsocketEvent", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST: %s", resp.Status)
		}
	}
	wait := func(k int, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for slots[k].count.Load() < total {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(200 * time.Microsecond)
		}
		return true
	}

	// Latency: one broadcast at a time, time from the POST to the last client.
	var lastAll, lastLocal []float64
	for k := 1; k <= rounds; k++ {
		t0 := time.Now().UnixNano()
		post(k)
		if !wait(k, 10*time.Second) {
			t.Fatalf("broadcast %d reached %d of %d clients in 10s", k, slots[k].count.Load(), total)
		}
		lastAll = append(lastAll, float64(slots[k].last.Load()-t0)/1e6)
		lastLocal = append(lastLocal, float64(slots[k].local.Load()-t0)/1e6)
		time.Sleep(20 * time.Millisecond)
	}

	// Throughput: a burst of broadcasts posted back to back.
	t0 := time.Now()
	for k := rounds + 1; k <= rounds+burst; k++ {
		post(k)
	}
	for k := rounds + 1; k <= rounds+burst; k++ {
		if !wait(k, 30*time.Second) {
			t.Fatalf("burst broadcast %d reached %d of %d clients", k, slots[k].count.Load(), total)
		}
	}
	var end int64
	for k := rounds + 1; k <= rounds+burst; k++ {
		end = max(end, slots[k].last.Load())
	}
	elapsed := time.Duration(end - t0.UnixNano())
	rate := float64(total*int64(burst)) / elapsed.Seconds()

	q := func(v []float64, p float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), %s; redis-server %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, redisVersion())
	t.Logf("time to last client, %d broadcasts to %d clients on 3 servers via Redis: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		rounds, total, q(lastAll, 0.5), q(lastAll, 0.99), q(lastAll, 1))
	t.Logf("  of which the %d clients of the server posted to (local fan-out): p50 %.1f ms, p99 %.1f ms",
		perServer, q(lastLocal, 0.5), q(lastLocal, 0.99))
	t.Logf("burst of %d broadcasts: %d deliveries in %v: %.0f deliveries/s", burst, total*int64(burst), elapsed.Round(time.Millisecond), rate)
	fmt.Printf("FANOUT clients=%d p50_ms=%.1f p99_ms=%.1f deliveries_per_s=%.0f\n", total, q(lastAll, 0.5), q(lastAll, 0.99), rate)
	cancel()
}

func redisVersion() string {
	out, _ := exec.Command("redis-server", "--version").Output()
	if f := strings.Fields(string(out)); len(f) >= 3 {
		return strings.TrimPrefix(f[2], "v=")
	}
	return "?"
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitHealthy(t *testing.T, base string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(b, []byte(`"redis":"up"`)) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy with redis up after 20s: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialClient opens a WebSocket Socket.IO client and joins "/".
func dialClient(ctx context.Context, base string) (net.Conn, io.ReadWriter, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(dctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if b, err := wsutil.ReadServerText(rw); err != nil || len(b) == 0 || b[0] != '0' {
		conn.Close()
		return nil, nil, fmt.Errorf("open packet %q: %v", b, err)
	}
	if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if b, err := wsutil.ReadServerText(rw); err != nil || !bytes.HasPrefix(b, []byte("40{")) {
		conn.Close()
		return nil, nil, fmt.Errorf("connect answer %q: %v", b, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, rw, nil
}

var benchPrefix = []byte(`42["bench",`)

// readLoop records the arrival of every bench broadcast and answers pings.
// It reads frame headers with ws.ReadHeader into a per-client buffer, so
// the 15,000 readers of the load side cost as little as possible.
func readLoop(conn net.Conn, rw io.ReadWriter, slots []slot, local bool) {
	br := bufio.NewReaderSize(rw, 512)
	buf := make([]byte, 256)
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return
		}
		if h.Length > int64(cap(buf)) {
			buf = make([]byte, h.Length)
		}
		b := buf[:h.Length]
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		now := time.Now().UnixNano()
		switch {
		case h.OpCode != ws.OpText:
		case len(b) == 1 && b[0] == '2':
			_ = wsutil.WriteClientText(conn, []byte("3"))
		case bytes.HasPrefix(b, benchPrefix):
			k, err := strconv.Atoi(string(b[len(benchPrefix) : len(b)-1]))
			if err == nil && k >= 0 && k < len(slots) {
				slots[k].record(now, local)
			}
		}
	}
}
