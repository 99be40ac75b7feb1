package api

import (
	"bufio"
	"bytes"
	"mime"
	"net/http"
	"os"
	rtmetrics "runtime/metrics" // not sioloop/metrics
	"strconv"
	"strings"
	"time"

	"sioloop/loop/cluster"
)

// rootResponse is the body of GET /.
type rootResponse struct {
	Status           string `json:"status"`
	Service          string `json:"service"`
	Version          string `json:"version"`
	ConnectedClients int64  `json:"connectedClients"`
}

// memory is the memory report of /health and of the JSON /metrics, sizes
// as "NMB" (mebibytes, rounded) like the old service.
type memory struct {
	RSS       string `json:"rss"`        // resident set size (VmRSS of /proc/self/status)
	HeapUsed  string `json:"heap_used"`  // what runtime.MemStats.HeapAlloc counts (memStats)
	HeapTotal string `json:"heap_total"` // what runtime.MemStats.HeapSys counts (memStats)
}

// healthResponse is the body of GET /health.
type healthResponse struct {
	Status      string `json:"status"` // "healthy", "unready" (Redis down with REDIS_READINESS) or "draining"
	Timestamp   string `json:"timestamp"`
	Uptime      int64  `json:"uptime"` // whole seconds
	Memory      memory `json:"memory"`
	Connections int64  `json:"connections"`
	// Redis is "up" or "down" with REDIS_URL, absent without.
	Redis string `json:"redis,omitempty"`
	// RedisMaster is the master the Sentinels named when the adapter last
	// connected, RedisFailovers the changes of master it saw since the
	// start; both only with REDIS_SENTINEL_ADDRS.
	RedisMaster    string  `json:"redis_master,omitempty"`
	RedisFailovers *uint64 `json:"redis_failovers,omitempty"`
	// RedisNodes are the nodes of a Redis Cluster, or the Sentinels,
	// with whether each answered the adapter's last PING (every 5s).
	RedisNodes []cluster.NodeState `json:"redis_nodes,omitempty"`
}

// metricsJSON is the old service's JSON form of GET /metrics.
type metricsJSON struct {
	ConnectedClients int64  `json:"connected_clients"`
	MemoryUsage      memory `json:"memory_usage"`
	Uptime           int64  `json:"uptime"`
	Timestamp        string `json:"timestamp"`
}

// timestampLayout is RFC 3339 in UTC with milliseconds, the shape of
// JavaScript's Date.prototype.toISOString.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

func (h *handler) serveRoot(w http.ResponseWriter, _ *http.Request, _ time.Time) error {
	writeJSON(w, http.StatusOK, rootResponse{
		Status:           "ok",
		Service:          "sioloop",
		Version:          Version,
		ConnectedClients: h.clients(),
	})
	return nil
}

// serveHealth answers 200 "healthy", or 503 "draining" once shutdown has
// begun, so that a Kubernetes readiness probe takes the pod out of the
// service while its clients are moved away. With REDIS_URL it adds
// "redis":"up" or "down"; while Redis is down it answers 503 "unready"
// if REDIS_READINESS is set, else still 200.
func (h *handler) serveHealth(w http.ResponseWriter, _ *http.Request, _ time.Time) error {
	resp := healthResponse{
		Status:      "healthy",
		Timestamp:   time.Now().UTC().Format(timestampLayout),
		Uptime:      h.uptime(),
		Memory:      readMemory(),
		Connections: h.clients(),
	}
	status := http.StatusOK
	if c := h.s.Cluster; c != nil {
		resp.Redis = "up"
		st := c.Stats()
		if st.Topology == cluster.TopologySentinel {
			resp.RedisMaster, resp.RedisFailovers = st.Master, &st.Failovers
		}
		resp.RedisNodes = st.Nodes
		if !c.Up() {
			// Local delivery goes on without Redis: still alive, and
			// ready unless REDIS_READINESS asks for Redis too.
			resp.Redis = "down"
			if h.s.RedisReadiness {
				resp.Status = "unready"
				status = http.StatusServiceUnavailable
			}
		}
	}
	if h.s.Server.Draining() {
		resp.Status = "draining"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, resp)
	return nil
}

// serveMetrics writes the Prometheus text exposition, or the old JSON when
// the request asks for it with ?format=json or Accept: application/json.
func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request, _ time.Time) error {
	if r.URL.Query().Get("format") == "json" || acceptsJSON(r.Header.Values("Accept")) {
		writeJSON(w, http.StatusOK, metricsJSON{
			ConnectedClients: h.clients(),
			MemoryUsage:      readMemory(),
			Uptime:           h.uptime(),
			Timestamp:        time.Now().UTC().Format(timestampLayout),
		})
		return nil
	}
	var b bytes.Buffer
	h.metrics.WritePrometheus(&b)
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
	return nil
}

// acceptsJSON reports whether an Accept header lists application/json
// with a non-zero quality (RFC 9110 §12.5.1: "a value of 0 means not
// acceptable"). Prometheus scrapers never list it, so they get text.
func acceptsJSON(accept []string) bool {
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "application/json" {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// clients returns the open Engine.IO sessions (see the package doc).
func (h *handler) clients() int64 { return h.s.Server.Snapshot().Sessions }

func (h *handler) uptime() int64 { return int64(time.Since(h.start) / time.Second) }

// readMemory reads the process's memory for /health and the JSON
// /metrics, without stopping the world (memStats).
func readMemory() memory {
	heapUsed, heapTotal, sys := memStats()
	rss, ok := readRSS()
	if !ok {
		rss = sys // no /proc: what the Go runtime mapped is the best guess
	}
	return memory{RSS: formatMB(rss), HeapUsed: formatMB(heapUsed), HeapTotal: formatMB(heapTotal)}
}

// memSamples are the runtime/metrics that memStats reads, in this order.
// heapUsed is the memory of heap objects, live or not yet swept, which is
// runtime.MemStats.HeapAlloc; heapTotal adds the heap's unused, free and
// released spans, which is runtime.MemStats.HeapSys; sys is everything
// the runtime mapped, runtime.MemStats.Sys.
var memSamples = [...]string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/total:bytes",
}

// memStats returns the heap in use, the heap reserved and the memory the
// Go runtime mapped, in bytes. It reads runtime/metrics, which does not
// stop the world: runtime.ReadMemStats does, and /health is public (a
// flood of requests to it must not pause every reactor). Any goroutine.
func memStats() (heapUsed, heapTotal, sys uint64) {
	var s [len(memSamples)]rtmetrics.Sample
	for i, name := range memSamples {
		s[i].Name = name
	}
	rtmetrics.Read(s[:])
	v := func(i int) uint64 {
		if s[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0 // not supported by this Go version
		}
		return s[i].Value.Uint64()
	}
	return v(0), v(0) + v(1) + v(2) + v(3), v(4)
}

// readRSS returns VmRSS from /proc/self/status in bytes.
func readRSS() (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := parseVmRSS(sc.Text()); ok {
			return v, true
		}
	}
	return 0, false
}

// parseVmRSS reads a "VmRSS:\t  12345 kB" line of /proc/<pid>/status
// (proc(5): "VmRSS: Resident set size", in kB, which the kernel means as
// KiB) and returns the size in bytes.
func parseVmRSS(line string) (uint64, bool) {
	rest, ok := strings.CutPrefix(line, "VmRSS:")
	if !ok {
		return 0, false
	}
	num, unit, _ := strings.Cut(strings.TrimSpace(rest), " ")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || unit != "kB" {
		return 0, false
	}
	return n * 1024, true
}

// formatMB formats a byte count as whole mebibytes, rounded, with the
// "MB" suffix the old service used (Math.round(bytes / 1024 / 1024) + "MB").
func formatMB(b uint64) string {
	return strconv.FormatUint((b+1<<19)>>20, 10) + "MB"
}
