package main

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// TestMain lets the test binary stand in for the tool in --procs runs: the
// children the tool starts are its own executable with childEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestEndToEnd builds the sioloop server from the repository root, runs the
// tool against it for a few seconds per scenario and checks the tool's
// counts against the server's own /metrics. It fails (it does not skip)
// when the server cannot be built: the harness is only trustworthy if it is
// checked against the real thing. Set LOADTEST_E2E=off to skip it.
func TestEndToEnd(t *testing.T) {
	if os.Getenv("LOADTEST_E2E") == "off" {
		t.Skip("LOADTEST_E2E=off")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	srv := startServer(t)

	t.Run("echo/websocket", func(t *testing.T) {
		before := srv.metrics(t)
		res := srv.run(t, "--connections", "60", "--duration", "2s", "--interval", "50ms")
		after := srv.waitIdle(t, before)
		checkClean(t, res)
		if res.Messages.Sent < 60*2*20*9/10 {
			t.Errorf("sent %d messages, want about %d", res.Messages.Sent, 60*2*20)
		}
		if res.Messages.Received != res.Messages.Sent || res.Loss.Expected != res.Messages.Sent {
			t.Errorf("received %d of %d (expected %d)", res.Messages.Received, res.Messages.Sent, res.Loss.Expected)
		}
		delta(t, before, after, "socket_io_events_received_total", res.Messages.Sent)
		delta(t, before, after, "socket_io_events_sent_total", res.Messages.ReceivedAll)
		delta(t, before, after, "socket_io_connect_total", uint64(res.Connections.Connected))
		delta(t, before, after, "socket_io_disconnect_total", uint64(res.Connections.Connected))
		if res.Server == nil || res.Server.RSSEndKiB == 0 || res.Server.CPUSeconds <= 0 {
			t.Errorf("server figures missing: %+v", res.Server)
		}
		if res.Latency.Count != res.Messages.Received || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
			t.Errorf("latency %+v for %d messages", res.Latency, res.Messages.Received)
		}
		if len(res.Series) < 2 {
			t.Errorf("%d samples in the series, want one a second", len(res.Series))
		}
	})

	t.Run("echo/polling", func(t *testing.T) {
		before := srv.metrics(t)
		res := srv.run(t, "--transport", "polling", "--connections", "10", "--duration", "2s", "--interval", "100ms")
		after := srv.waitIdle(t, before)
		checkClean(t, res)
		if res.Messages.Sent < 10*2*10*9/10 || res.Messages.Received != res.Messages.Sent {
			t.Errorf("sent %d received %d, want about %d each", res.Messages.Sent, res.Messages.Received, 10*2*10)
		}
		delta(t, before, after, "socket_io_events_received_total", res.Messages.Sent)
		delta(t, before, after, "socket_io_events_sent_total", res.Messages.ReceivedAll)
		delta(t, before, after, "socket_io_connect_total", uint64(res.Connections.Connected))
	})

	t.Run("fanout", func(t *testing.T) {
		before := srv.metrics(t)
		res := srv.run(t, "--scenario", "fanout", "--connections", "50", "--duration", "2s", "--rate", "20")
		after := srv.waitIdle(t, before)
		checkClean(t, res)
		f := res.Fanout
		if f == nil || f.Accepted < 36 || f.Accepted != f.Posted || f.Failed != 0 {
			t.Fatalf("broadcasts: %+v", f)
		}
		if f.Expected != f.Accepted*50 || f.Delivered != f.Expected || f.Complete != f.Accepted {
			t.Errorf("deliveries: expected %d delivered %d complete %d, want %d each (%d complete)", f.Expected, f.Delivered, f.Complete, f.Accepted*50, f.Accepted)
		}
		if f.ServerRecipients >= 0 && uint64(f.ServerRecipients) != f.Expected {
			t.Errorf("server counted %d recipients, the tool expected %d", f.ServerRecipients, f.Expected)
		}
		if f.TimeToLastClient.Count != f.Accepted || f.TimeToLastClient.P50 <= 0 {
			t.Errorf("time to last client: %+v", f.TimeToLastClient)
		}
		checkBroadcastTimings(t, f, 50)
		delta(t, before, after, "socket_io_connect_total", 50)
		if _, ok := after["sioloop_broadcasts_total"]; ok {
			delta(t, before, after, "sioloop_broadcasts_total", f.Accepted)
		}
		if _, ok := after["sioloop_broadcast_deliveries_total"]; ok {
			delta(t, before, after, "sioloop_broadcast_deliveries_total", f.Delivered)
		}
		// Every broadcast is timed once as a whole, and one loop is its last.
		delta(t, before, after, "sioloop_broadcast_duration_seconds_count", f.Accepted)
		delta(t, before, after, "sioloop_broadcast_last_loop_total", f.Accepted)
		// The tool read the same from the server, around its measured phase.
		st := res.ServerTiming
		if st == nil || st.Duration.Count != f.Accepted || len(st.Loops) == 0 {
			t.Fatalf("server timing %+v for %d broadcasts", st, f.Accepted)
		}
		var last uint64
		for _, l := range st.Loops {
			last += l.Last
			if l.Write.Count == 0 || l.Wait.Count < l.Write.Count {
				t.Errorf("loop %d: %+v", l.Loop, l)
			}
		}
		if last != f.Accepted || st.Duration.P50 <= 0 || st.Duration.P99 < st.Duration.P50 {
			t.Errorf("server timing: last %d of %d broadcasts, %+v", last, f.Accepted, st.Duration)
		}
		if res.Machine == nil || res.Machine.BusySeconds <= 0 {
			t.Errorf("machine figures missing: %+v", res.Machine)
		}
	})

	t.Run("fanout/rooms", func(t *testing.T) {
		// 60 clients in 7 rooms (9, 9, 9, 9, 8, 8, 8 members) over two
		// processes and two names of one server, rooms kept together.
		both := fmt.Sprintf("http://127.0.0.1:%d,http://localhost:%d", srv.port, srv.port)
		res := srv.run(t, "--procs", "2", "--server", both, "--scenario", "fanout", "--connections", "60", "--duration", "2s", "--rate", "10", "--rooms", "7", "--room-affinity")
		checkClean(t, res)
		f := res.Fanout
		if f == nil || f.Accepted < 18 || f.Accepted != f.Posted {
			t.Fatalf("broadcasts: %+v", f)
		}
		want := expectedRoomDeliveries(func(uint64) bool { return true }, f.Accepted, 60, 7)
		if f.Expected != want || f.Delivered != want || f.Complete != f.Accepted || res.Setup.Rooms != 7 {
			t.Errorf("deliveries: expected %d delivered %d complete %d of %d broadcasts, want %d", f.Expected, f.Delivered, f.Complete, f.Accepted, want)
		}
	})

	t.Run("fanout/procs", func(t *testing.T) {
		// Two child processes; the server is named twice so that the
		// clients alternate between two Host headers of one server.
		before := srv.metrics(t)
		both := fmt.Sprintf("http://127.0.0.1:%d,http://localhost:%d", srv.port, srv.port)
		res := srv.run(t, "--procs", "2", "--server", both, "--scenario", "fanout", "--connections", "60", "--duration", "2s", "--rate", "10")
		after := srv.waitIdle(t, before)
		checkClean(t, res)
		if res.Setup.Procs != 2 || res.Self.Procs != 2 || res.Self.CPUSeconds <= 0 {
			t.Errorf("setup %+v, self %+v", res.Setup, res.Self)
		}
		if c := res.Connections; c.Connected != 60 || c.OpenAtEnd != 60 || c.ConnectTime.Count != 60 || res.Connections.Stages["join"].Count != 60 {
			t.Errorf("connections %+v", c)
		}
		f := res.Fanout
		if f == nil || f.Accepted < 18 || f.Accepted != f.Posted || f.Failed != 0 {
			t.Fatalf("broadcasts: %+v", f)
		}
		if res.MeasuredClients != 60 || f.Expected != f.Accepted*60 || f.Delivered != f.Expected || f.Complete != f.Accepted {
			t.Errorf("deliveries: measured %d expected %d delivered %d complete %d of %d broadcasts", res.MeasuredClients, f.Expected, f.Delivered, f.Complete, f.Accepted)
		}
		if f.TimeToLastClient.Count != f.Accepted || f.TimeToLastClient.P50 <= 0 || f.TimeToLastClient.Max > 2000 {
			t.Errorf("time to last client: %+v", f.TimeToLastClient)
		}
		checkBroadcastTimings(t, f, 60)
		if res.Latency.Count != f.Delivered || res.Latency.P50 <= 0 || res.Latency.P50 > f.TimeToLastClient.Max {
			t.Errorf("delivery latency %+v for %d deliveries", res.Latency, f.Delivered)
		}
		delta(t, before, after, "socket_io_connect_total", 60)
	})

	t.Run("connect", func(t *testing.T) {
		before := srv.metrics(t)
		var mid map[string]float64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			// Scrape while the clients are held.
			defer wg.Done()
			time.Sleep(1500 * time.Millisecond)
			mid = srv.metrics(t)
		}()
		res := srv.run(t, "--scenario", "connect", "--connections", "300", "--duration", "3s")
		wg.Wait()
		after := srv.waitIdle(t, before)
		checkClean(t, res)
		if res.Connections.Connected != 300 || res.Connections.OpenAtEnd != 300 {
			t.Errorf("connected %d, open at the end %d, want 300", res.Connections.Connected, res.Connections.OpenAtEnd)
		}
		if got := mid["socket_io_connected"] - before["socket_io_connected"]; got != 300 {
			t.Errorf("server's socket_io_connected rose by %g while the clients were held, want 300", got)
		}
		delta(t, before, after, "socket_io_connect_total", 300)
		if s := res.Connections.Stages; s["join"].Count != 300 || s["tcp"].Count != 300 {
			t.Errorf("handshake stages: %+v", s)
		}
	})
}

// TestEndToEndLadder runs a two-step echo ladder at low rates against the
// real server: both steps must pass and carry the server's CPU.
func TestEndToEndLadder(t *testing.T) {
	if os.Getenv("LOADTEST_E2E") == "off" {
		t.Skip("LOADTEST_E2E=off")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	srv := startServer(t)
	cfg, err := ParseFlags([]string{"--server", "http://127.0.0.1:" + strconv.Itoa(srv.port), "--pid", strconv.Itoa(srv.pid),
		"--quiet", "--grace", "3s", "--scenario", "echo-ladder", "--connections", "50",
		"--ladder", "200,500", "--step", "1500ms", "--warmup", "500ms", "--ladder-p99", "250ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunLadder(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("RunLadder: %v", err)
	}
	var b bytes.Buffer
	res.PrintSummary(&b)
	if !res.Pass || res.Best != 500 || len(res.Steps) != 2 || res.Warmup == nil {
		t.Fatalf("ladder did not climb both steps:\n%s", b.String())
	}
	for _, s := range res.Steps {
		if s.Clients != 50 || s.Lost != 0 || s.Echoed != s.Sent || s.Sent < uint64(s.Rate*1.5*0.9) {
			t.Errorf("step %+v", s)
		}
		if s.ServerCPU <= 0 || s.ServerUSPerMsg <= 0 || s.ToolUSPerMsg <= 0 {
			t.Errorf("step at %g/s has no CPU per message: %+v", s.Rate, s)
		}
	}
}

// checkClean fails unless the run passed with no error and no loss.
func checkClean(t *testing.T, res *Result) {
	t.Helper()
	if !res.Pass || res.ErrorTotal != 0 || res.Loss.Lost != 0 || res.Loss.Duplicates != 0 || res.Loss.Unexpected != 0 {
		var b bytes.Buffer
		res.PrintSummary(&b)
		t.Fatalf("run not clean:\n%s", b.String())
	}
}

// checkBroadcastTimings checks the per-broadcast list of a fanout result:
// one entry per accepted broadcast, each with its clients' first and last
// arrival, agreeing with the time-to-last-client figures.
func checkBroadcastTimings(t *testing.T, f *FanoutResult, clients uint32) {
	t.Helper()
	if uint64(len(f.Broadcasts)) != f.Accepted {
		t.Fatalf("%d per-broadcast timings for %d broadcasts", len(f.Broadcasts), f.Accepted)
	}
	slowest := 0.0
	for i, b := range f.Broadcasts {
		if b.Seq != uint64(i+1) || b.Deliveries != clients || b.SentUnixNS <= 0 || b.PostMS <= 0 ||
			b.FirstMS <= 0 || b.FirstMS > b.LastMS {
			t.Errorf("broadcast %d: %+v", i+1, b)
		}
		slowest = max(slowest, b.LastMS)
	}
	// The histogram rounds up to its bucket; the list keeps the exact value.
	if slowest > f.TimeToLastClient.Max || slowest < f.TimeToLastClient.Max*0.9 {
		t.Errorf("slowest last client %.3f ms, time to last client max %.3f ms", slowest, f.TimeToLastClient.Max)
	}
}

// delta checks that a server counter grew by want during a run.
func delta(t *testing.T, before, after map[string]float64, name string, want uint64) {
	t.Helper()
	a, ok := after[name]
	if !ok {
		t.Errorf("the server exposes no %s", name)
		return
	}
	if got := a - before[name]; got != float64(want) {
		t.Errorf("server %s grew by %g, the tool counted %d", name, got, want)
	}
}

type testServer struct {
	port, admin int
	pid         int
}

// startServer builds sioloop and starts it on free loopback ports.
func startServer(t *testing.T) *testServer {
	t.Helper()
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "sioloop")
	build := exec.Command("go", "build", "-o", bin, "sioloop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the server under test (cd %s && go build sioloop): %v\n%s", root, err, out)
	}
	s := &testServer{port: testnet.FreePort(t), admin: testnet.FreePort(t)}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(s.port), "ADMIN_ADDR=127.0.0.1:"+strconv.Itoa(s.admin))
	var logs testnet.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := scrape(s.admin); err == nil {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
				c.Close()
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("the server exited at start:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer on ports %d/%d within 15s:\n%s", s.port, s.admin, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs the tool in-process against the server.
func (s *testServer) run(t *testing.T, args ...string) *Result {
	t.Helper()
	args = append([]string{"--server", "http://127.0.0.1:" + strconv.Itoa(s.port), "--pid", strconv.Itoa(s.pid), "--quiet", "--grace", "3s"}, args...)
	cfg, err := ParseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func (s *testServer) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	m, err := scrape(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitIdle scrapes until the server has seen every client leave (its
// connected gauge is back to the value in before), at most 5 s.
func (s *testServer) waitIdle(t *testing.T, before map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := s.metrics(t)
		if m["socket_io_connected"] == before["socket_io_connected"] || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape reads the Prometheus text of the admin listener. Each metric name
// maps to the sum of its series for namespace "/" (or without labels).
func scrape(port int) (map[string]float64, error) {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		if labels != "" && strings.Contains(labels, "namespace=") && !strings.Contains(labels, `namespace="/"`) {
			continue
		}
		m[name] += v
	}
	return m, sc.Err()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module sioloop\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the sioloop module root above the working directory")
		}
		dir = parent
	}
}
