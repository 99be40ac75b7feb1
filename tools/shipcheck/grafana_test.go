package shipcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "sioloop/api/adminui" // its counters are in the default set
	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/metrics"
	"sioloop/tools/testnet"
)

// metricName finds the metric names in a PromQL expression: sioloop's
// own, the socket_io_* family and the process metrics.
var metricName = regexp.MustCompile(`\b(?:sioloop|socket_io|process|go)_[a-z0-9_]+\b`)

// TestGrafanaDashboard checks that every metric the dashboard of deploy/
// queries is one a server exports: the names of a scrape of a server with
// the Admin UI's package and a cluster source, every family registered.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	exported := scrapedNames(t)
	n := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				n++
				if !exported[name] {
					t.Errorf("panel %q queries %s, which no sioloop server exports", p.Title, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard queries no metric")
	}
}

// scrapedNames returns the sample names of a scrape of an idle server
// (serving: the per-reactor families need reactors).
func scrapedNames(t *testing.T) map[string]bool {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testnet.FreePort(t))
	srv := loop.New(loop.Config{Addr: addr, EventLoops: 1}, nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	// A reactor is known once it has served a connection.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); len(srv.Snapshot().LoopConnections) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the reactor never showed up in the snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	set := metrics.New(srv, loop.NewSocketIO(srv))
	set.AddCluster(idleCluster{})
	set.AdminRoute("/health").Update(0.001)
	var w bytes.Buffer
	set.WritePrometheus(&w)
	names := map[string]bool{}
	for _, line := range strings.Split(w.String(), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	if testing.Verbose() {
		all := make([]string, 0, len(names))
		for n := range names {
			all = append(all, n)
		}
		sort.Strings(all)
		t.Logf("exported: %s", strings.Join(all, " "))
	}
	return names
}

// idleCluster is a Redis adapter with nothing to report.
type idleCluster struct{}

func (idleCluster) Stats() cluster.Stats { return cluster.Stats{} }
