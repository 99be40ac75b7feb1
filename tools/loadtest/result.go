package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"time"
)

// Result is everything one run measured; it is what --json writes.
type Result struct {
	Tool        string    `json:"tool"`
	StartedAt   time.Time `json:"started_at"`
	Interrupted bool      `json:"interrupted"`
	Setup       Setup     `json:"setup"`

	ConnectSeconds float64 `json:"connect_seconds"` // connect phase
	MeasureSeconds float64 `json:"measure_seconds"` // measured phase (--duration unless interrupted)
	DrainSeconds   float64 `json:"drain_seconds"`   // waiting for replies in flight

	Connections ConnectionResult `json:"connections"`
	Messages    MessageResult    `json:"messages"`
	// Latency is the echo round trip (echo) or the delivery latency of each
	// broadcast at each client (fanout), in milliseconds.
	Latency Percentiles   `json:"latency_ms"`
	Loss    LossCounts    `json:"loss"`
	Fanout  *FanoutResult `json:"fanout,omitempty"`

	Errors       map[string]uint64 `json:"errors"`
	ErrorTotal   uint64            `json:"error_total"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`

	Server *ServerResult `json:"server,omitempty"`
	Self   SelfResult    `json:"loadtest"`
	// Machine is the whole machine's CPU over the measured phase: on a
	// shared machine, how much of it went to work that was neither the
	// server (--pid) nor the tool.
	Machine *MachineResult `json:"machine,omitempty"`
	// ServerTiming is the server's own account of the fanout broadcasts
	// (servertiming.go), when it exposes one.
	ServerTiming *ServerTiming `json:"server_timing,omitempty"`

	Pass     bool     `json:"pass"`
	Failures []string `json:"failures,omitempty"`

	Series          []Sample `json:"series"`
	LatencyBuckets  []Bucket `json:"latency_buckets_ns"`
	ConnectBuckets  []Bucket `json:"connect_buckets_ns"`
	MeasuredClients int64    `json:"measured_clients"` // connected when the measured phase began
	cfg             *Config
	rs              *runState
	mark            int64 // clock time the current phase began
}

// Setup is the configuration of the run, as it was resolved.
type Setup struct {
	Scenario    string  `json:"scenario"`
	Transport   string  `json:"transport"`
	Server      string  `json:"server"`
	Namespace   string  `json:"namespace"`
	Connections int     `json:"connections"`
	DurationSec float64 `json:"duration_seconds"`
	IntervalMS  float64 `json:"interval_ms"`
	RatePerSec  float64 `json:"rate_per_second,omitempty"`
	Posters     int     `json:"posters,omitempty"`
	Rooms       int     `json:"rooms,omitempty"`
	Affinity    bool    `json:"room_affinity,omitempty"`
	Payload     int     `json:"payload_bytes"`
	Ramp        float64 `json:"ramp_per_second"`
	Inflight    int     `json:"inflight"`
	Workers     int     `json:"workers"`
	Procs       int     `json:"procs"`
	Sources     int     `json:"sources"`
}

// ConnectionResult describes the connect phase.
type ConnectionResult struct {
	Attempted   int64       `json:"attempted"`
	Connected   int64       `json:"connected"`
	Failed      int64       `json:"failed"`
	OpenAtEnd   int64       `json:"open_at_end"`
	PerSecond   float64     `json:"per_second"` // connected / connect phase
	ConnectTime Percentiles `json:"connect_time_ms"`
	// Stages splits the websocket connect time: tcp (connect(2)), upgrade
	// (request to 101), open (101 to the Engine.IO open packet), join
	// (Socket.IO CONNECT to its ack).
	Stages map[string]Percentiles `json:"stages_ms,omitempty"`
}

// MessageResult counts messages over the measured phase and the drain.
type MessageResult struct {
	Sent           uint64  `json:"sent"`
	Received       uint64  `json:"received"` // first copies of messages of interest
	ReceivedAll    uint64  `json:"received_including_duplicates"`
	Other          uint64  `json:"other_packets"`
	SentPerSec     float64 `json:"sent_per_second"`
	ReceivedPerSec float64 `json:"received_per_second"`
	BytesIn        uint64  `json:"bytes_in"`
	BytesOut       uint64  `json:"bytes_out"`
}

// FanoutResult describes the broadcasts of the fanout scenario.
type FanoutResult struct {
	Posted           uint64  `json:"posted"`
	Accepted         uint64  `json:"accepted"`
	Failed           uint64  `json:"failed"`
	RatePerSec       float64 `json:"rate_per_second"` // accepted / measured phase
	Expected         uint64  `json:"expected_deliveries"`
	Delivered        uint64  `json:"delivered"`
	DeliveredRatio   float64 `json:"delivered_ratio"`
	DeliveriesPerSec float64 `json:"deliveries_per_second"` // delivered / (last delivery - first broadcast)
	ServerRecipients int64   `json:"server_recipients"`     // sum of the server's "recipients", -1 when it reports none
	Complete         uint64  `json:"complete_broadcasts"`   // broadcasts every measured client received
	// TimeToLastClient is, per broadcast, the latest arrival among the
	// clients that received it, measured from the start of the POST.
	TimeToLastClient Percentiles `json:"time_to_last_client_ms"`
	// Post is the duration of the POST /SendWebsocketEvent requests.
	Post Percentiles `json:"post_ms"`
	// Broadcasts lists every accepted broadcast, for finding where a tail
	// comes from: which broadcasts were late, and whether all of their
	// clients were (first and last late) or only some (last only).
	Broadcasts []BroadcastTiming `json:"broadcasts,omitempty"`
}

// BroadcastTiming is one broadcast as the clients saw it; times are from the
// start of its POST.
type BroadcastTiming struct {
	Seq        uint64  `json:"seq"`
	SentUnixNS int64   `json:"sent_unix_ns"` // start of the POST, Unix ns (to match the server's own records)
	PostMS     float64 `json:"post_ms"`
	FirstMS    float64 `json:"first_client_ms"`
	LastMS     float64 `json:"last_client_ms"`
	Deliveries uint32  `json:"deliveries"`
}

// ServerResult is what /proc says about the server process.
// With several --pid, memory and CPU are the sums over the processes (VmHWM
// the sum of their peaks).
type ServerResult struct {
	PID           int     `json:"pid"`            // the first --pid
	PIDs          []int   `json:"pids,omitempty"` // every --pid, when there are several
	Error         string  `json:"error,omitempty"`
	RSSBaseKiB    uint64  `json:"rss_baseline_kib"` // before the first client
	RSSEndKiB     uint64  `json:"rss_end_kib"`      // at the end, clients still open
	RSSPeakKiB    uint64  `json:"rss_peak_kib"`     // highest sample
	HWMKiB        uint64  `json:"vm_hwm_kib"`       // VmHWM, the kernel's peak
	RSSPerConnKiB float64 `json:"rss_per_connection_kib"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPercent    float64 `json:"cpu_percent"`         // of one core, over the run
	MeasureCPU    float64 `json:"measure_cpu_seconds"` // CPU seconds of the measured phase only
}

// SelfResult is the load tool's own cost.
type SelfResult struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"`         // of one core, over the run
	MeasureCPU float64 `json:"measure_cpu_seconds"` // CPU seconds of the measured phase only, children included
	MaxRSSKiB  uint64  `json:"max_rss_kib"`         // summed over the processes with --procs
	Workers    int     `json:"workers"`             // epoll workers per process
	Procs      int     `json:"procs"`               // processes holding clients (--procs), 1 without
}

// MachineResult is the machine's CPU over the measured phase, in seconds
// and in % of one core.
type MachineResult struct {
	Cores        int     `json:"cores"`
	BusySeconds  float64 `json:"measure_busy_seconds"`  // every process and the kernel
	OtherSeconds float64 `json:"measure_other_seconds"` // busy, less the tool and the --pid processes
	OtherPercent float64 `json:"measure_other_percent"`
}

// Percentiles summarises a distribution in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Sample is one second of the run.
type Sample struct {
	T         float64 `json:"t"` // seconds since the start
	Phase     string  `json:"phase"`
	Connected int64   `json:"connected"`
	Sent      uint64  `json:"sent"`
	Received  uint64  `json:"received"`
	Errors    uint64  `json:"errors"`
	SendRate  float64 `json:"sent_per_second"`
	RecvRate  float64 `json:"received_per_second"`
	ConnRate  float64 `json:"connects_per_second"`
	P50       float64 `json:"p50_ms"` // over this second
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	ConnP99   float64 `json:"connect_p99_ms"`
	ToolCPU   float64 `json:"loadtest_cpu_percent"`
	ServerCPU float64 `json:"server_cpu_percent,omitempty"`
	// MachineCPU is the busy time of every core (200 % is a 2-core machine
	// fully busy); OtherCPU that busy time less the tool's and the server's.
	MachineCPU float64 `json:"machine_cpu_percent,omitempty"`
	OtherCPU   float64 `json:"other_cpu_percent,omitempty"`
	ServerRSS  uint64  `json:"server_rss_kib,omitempty"`
}

func newResult(cfg *Config, rs *runState) *Result {
	r := &Result{
		Tool:      "sioloop loadtest",
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		cfg:       cfg,
		rs:        rs,
		Setup: Setup{
			Scenario: cfg.Scenario, Transport: cfg.Transport, Server: cfg.Server, Namespace: cfg.Namespace,
			Connections: cfg.Connections, DurationSec: cfg.Duration.Seconds(),
			IntervalMS: float64(cfg.Interval) / 1e6, Payload: cfg.Payload, Ramp: cfg.Ramp,
			Inflight: cfg.Inflight, Workers: cfg.Workers, Procs: cfg.Procs, Sources: cfg.Sources,
		},
	}
	if cfg.Scenario == ScenarioFanout {
		r.Setup.RatePerSec = cfg.Rate
		r.Setup.Posters = cfg.Posters
		r.Setup.Rooms, r.Setup.Affinity = cfg.Rooms, cfg.Affinity
	}
	if cfg.Transport == TransportPolling {
		r.Setup.Workers = 0
	}
	return r
}

// phaseEnded records the length of a phase that ended at clock time t.
func (r *Result) phaseEnded(p int32, t int64) {
	d := round3(float64(t-r.mark) / 1e9)
	r.mark = t
	switch p {
	case phaseConnect:
		r.ConnectSeconds = d
	case phaseMeasure:
		r.MeasureSeconds = d
	case phaseDrain:
		r.DrainSeconds = d
	}
}

// finish fills the result from the counters, the trackers and the monitor.
// Call it after the engine has stopped.
func (r *Result) finish(eng engine, m *monitor) {
	rs, cfg := r.rs, r.cfg
	t := rs.sum()
	rtt, conn := rs.snapshot(nil, nil)
	r.Connections = ConnectionResult{
		Attempted: t.dialed, Connected: t.connected, Failed: t.failed, OpenAtEnd: m.openAtEnd,
		ConnectTime: percentiles(conn),
	}
	if cfg.Transport == TransportWebSocket {
		r.Connections.Stages = map[string]Percentiles{}
		for i, name := range stageNames {
			var d, tmp Distribution
			for _, st := range rs.stats {
				st.stages[i].Snapshot(&tmp)
				d.Add(&tmp)
			}
			r.Connections.Stages[name] = percentiles(&d)
		}
	}
	if r.ConnectSeconds > 0 {
		r.Connections.PerSecond = round1(float64(t.connected) / r.ConnectSeconds)
	}
	span := r.MeasureSeconds + r.DrainSeconds
	r.Messages = MessageResult{
		Sent: t.sent, Received: t.fresh, ReceivedAll: t.received, Other: t.other,
		BytesIn: t.bytesIn, BytesOut: t.bytesOut,
	}
	if r.MeasureSeconds > 0 {
		r.Messages.SentPerSec = round1(float64(t.sent) / r.MeasureSeconds)
	}
	if span > 0 {
		r.Messages.ReceivedPerSec = round1(float64(t.fresh) / span)
	}
	r.Latency = percentiles(rtt)
	r.LatencyBuckets = rtt.Buckets(20)
	r.ConnectBuckets = conn.Buckets(20)

	var measured int64
	r.Loss, measured = eng.loss()
	r.MeasuredClients = measured // exact: the clients marked when they saw the phase begin
	switch cfg.Scenario {
	case ScenarioConnect:
		r.Loss = LossCounts{}
	case ScenarioFanout:
		r.Fanout, r.Loss = fanoutResult(rs, eng, measured, r.MeasureSeconds)
	}

	r.Errors = map[string]uint64{}
	for k, v := range t.errs {
		if v > 0 {
			r.Errors[errKind(k).String()] = v
		}
	}
	r.ErrorTotal = t.errTotal
	rs.errMu.Lock()
	if len(rs.errSamples) > 0 {
		r.ErrorSamples = map[string]string{}
		for k, v := range rs.errSamples {
			r.ErrorSamples[k] = v
		}
	}
	rs.errMu.Unlock()

	wall := float64(m.ended-m.started) / 1e9
	r.Self = SelfResult{CPUSeconds: round3(m.selfEnd - m.selfStart), MaxRSSKiB: selfMaxRSS(), Workers: r.Setup.Workers, Procs: cfg.Procs}
	if m.measSelf[1] > m.measSelf[0] {
		r.Self.MeasureCPU = round3(m.measSelf[1] - m.measSelf[0])
	}
	if m.children != nil {
		r.Self.MaxRSSKiB += m.children.childMaxRSS()
	}
	if wall > 0 {
		r.Self.CPUPercent = round1(r.Self.CPUSeconds / wall * 100)
	}
	if len(cfg.PIDs) > 0 {
		s := &ServerResult{PID: cfg.PIDs[0], RSSBaseKiB: m.rssBase, RSSEndKiB: m.rssEnd, RSSPeakKiB: m.rssPeak, HWMKiB: m.hwm}
		if len(cfg.PIDs) > 1 {
			s.PIDs = cfg.PIDs
		}
		if m.cpuOK && m.cpuEnd >= m.cpuStart {
			s.CPUSeconds = round3(m.cpuEnd - m.cpuStart)
		}
		if m.cpuOK && m.measSrv[1] >= m.measSrv[0] {
			s.MeasureCPU = round3(m.measSrv[1] - m.measSrv[0])
		}
		if m.serverErr != nil {
			s.Error = m.serverErr.Error()
		}
		if m.openAtEnd > 0 && m.rssEnd > m.rssBase {
			s.RSSPerConnKiB = round3(float64(m.rssEnd-m.rssBase) / float64(m.openAtEnd))
		}
		if wall > 0 {
			s.CPUPercent = round1(s.CPUSeconds / wall * 100)
		}
		r.Server = s
	}
	if m.machineOK && m.measMachine[1] > m.measMachine[0] && r.MeasureSeconds > 0 {
		busy := m.measMachine[1] - m.measMachine[0]
		other := busy - r.Self.MeasureCPU
		if r.Server != nil {
			other -= r.Server.MeasureCPU
		}
		other = max(other, 0)
		r.Machine = &MachineResult{Cores: runtime.NumCPU(), BusySeconds: round3(busy), OtherSeconds: round3(other),
			OtherPercent: round1(other / r.MeasureSeconds * 100)}
	}
	r.Series = m.series
	r.check()
}

// fanoutResult computes the delivery figures from the broadcast table and the
// clients' trackers.
func fanoutResult(rs *runState, eng engine, measured int64, measureSec float64) (*FanoutResult, LossCounts) {
	tab := rs.bcast
	f := &FanoutResult{Accepted: tab.accepted.Load(), Failed: tab.failed.Load(), ServerRecipients: -1}
	f.Posted = f.Accepted + f.Failed
	maxSeq := tab.posted.Load()
	if measureSec > 0 {
		f.RatePerSec = round1(float64(f.Accepted) / measureSec)
	}
	var l LossCounts
	l.Unexpected = tab.outside.Load()
	var ttlc Histogram
	var first int64
	var lastRecv int64
	for _, s := range rs.stats {
		lastRecv = max(lastRecv, s.lastRecv.Load())
	}
	for seq := uint64(1); seq <= maxSeq && seq < uint64(len(tab.slots)); seq++ {
		s := &tab.slots[seq]
		d := uint64(s.deliveries.Load())
		if !s.ok.Load() {
			l.Unexpected += d
			continue
		}
		if at := s.sentAt.Load(); first == 0 || at < first {
			first = at
		}
		f.Delivered += d
		if n := s.recipients.Load(); n >= 0 {
			f.ServerRecipients = max(f.ServerRecipients, 0) + n
		}
		if d > 0 {
			ttlc.Record(s.maxLat.Load())
		}
		f.Broadcasts = append(f.Broadcasts, BroadcastTiming{Seq: seq, SentUnixNS: s.sentAt.Load(), PostMS: ms(uint64(max(s.postDur.Load(), 0))),
			FirstMS: ms(uint64(max(s.minLat.Load(), 0))), LastMS: ms(uint64(max(s.maxLat.Load(), 0))), Deliveries: uint32(d)})
		want := measured // clients the broadcast owes a delivery to
		if rs.cfg.Rooms > 0 {
			want = int64(RoomMembers(RoomOfSeq(seq, rs.cfg.Rooms), int(measured), rs.cfg.Rooms))
		}
		if int64(d) >= want {
			f.Complete++
		}
	}
	f.Expected = f.Accepted * uint64(max(measured, 0))
	if rs.cfg.Rooms > 0 {
		f.Expected = expectedRoomDeliveries(func(seq uint64) bool { return seq < uint64(len(tab.slots)) && tab.slots[seq].ok.Load() },
			maxSeq, int(max(measured, 0)), rs.cfg.Rooms)
	}
	f.TimeToLastClient = percentiles(ttlc.Snapshot(nil))
	f.Post = percentiles(tab.postLat.Snapshot(nil))
	if f.Expected > 0 {
		f.DeliveredRatio = round6(float64(f.Delivered) / float64(f.Expected))
	}
	if first > 0 && lastRecv > first {
		f.DeliveriesPerSec = round1(float64(f.Delivered) / (float64(lastRecv-first) / 1e9))
	}
	l.Expected = f.Expected
	l.Received = f.Delivered
	if f.Expected > f.Delivered {
		l.Lost = f.Expected - f.Delivered
	}
	eng.trackers(func(t *SeqTracker) {
		l.Duplicates += t.Duplicates
		l.Reordered += t.Reordered
		l.Late += t.Late
		l.Unexpected += t.Invalid
	})
	return f, l
}

// check applies --max-loss and --max-errors.
func (r *Result) check() {
	cfg := r.cfg
	r.Failures = nil
	if allowed := cfg.lossAllowed(r.Loss.Expected); r.Loss.Lost > allowed {
		r.Failures = append(r.Failures, fmt.Sprintf("lost %d messages of %d (--max-loss %s allows %d)", r.Loss.Lost, r.Loss.Expected, cfg.MaxLoss, allowed))
	}
	if r.ErrorTotal > uint64(cfg.MaxErrors) {
		r.Failures = append(r.Failures, fmt.Sprintf("%d errors (--max-errors %d)", r.ErrorTotal, cfg.MaxErrors))
	}
	if r.Connections.Connected == 0 {
		r.Failures = append(r.Failures, "no client connected")
	}
	if r.Interrupted {
		r.Failures = append(r.Failures, "interrupted")
	}
	r.Pass = len(r.Failures) == 0
}

// WriteJSON writes the result to path.
func (r *Result) WriteJSON(path string) error { return writeJSONFile(path, r) }

// writeJSONFile writes v to path as indented JSON.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// percentiles summarises d (nanoseconds) in milliseconds.
func percentiles(d *Distribution) Percentiles {
	return Percentiles{
		Count: d.N, Min: ms(d.Min), Mean: round6(d.Mean() / 1e6),
		P50: ms(d.Quantile(0.50)), P90: ms(d.Quantile(0.90)), P99: ms(d.Quantile(0.99)),
		P999: ms(d.Quantile(0.999)), Max: ms(d.Max),
	}
}

// ms converts nanoseconds to milliseconds, rounded to the nanosecond.
func ms(ns uint64) float64 { return round6(float64(ns) / 1e6) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
