package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errKind classifies the errors the tool counts.
type errKind int

const (
	errDial           errKind = iota // socket, bind or connect failed
	errHandshake                     // HTTP upgrade or polling handshake refused or malformed
	errTimeout                       // not connected within --handshake-timeout or before the measured phase
	errConnectRefused                // Socket.IO CONNECT_ERROR
	errProtocol                      // a frame or packet the tool cannot accept
	errClosed                        // the server closed a connected client
	errWrite                         // a write failed for another reason
	errBroadcast                     // POST /SendWebsocketEvent failed
	errPolling                       // a polling GET or POST failed after the handshake
	errMessage                       // a message of interest without a sequence number or timestamp
	errChild                         // a child process (--procs) failed to start, report or stop
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	"dial", "handshake", "handshake_timeout", "connect_error", "protocol",
	"closed", "write", "broadcast", "polling_request", "bad_message", "child_process",
}

// String returns the name used in the summary and the JSON result.
func (k errKind) String() string { return errKindNames[k] }

// Phases of a run, in order.
const (
	phaseConnect int32 = iota // opening connections
	phaseMeasure              // --duration: sending (echo) or broadcasting (fanout)
	phaseDrain                // grace: no new messages, waiting for replies in flight
	phaseStop                 // close everything
)

var phaseNames = [...]string{"connect", "measure", "drain", "stop"}

// counters are the figures of one worker (or of all polling clients).
// Fields are atomics written by their owner and read by the reporter.
type counters struct {
	dialed    atomic.Int64  // connection attempts started
	connected atomic.Int64  // handshakes completed
	open      atomic.Int64  // clients connected now
	failed    atomic.Int64  // attempts that never connected
	measured  atomic.Int64  // clients connected when the measured phase began
	sent      atomic.Uint64 // messages sent (echo)
	received  atomic.Uint64 // messages of interest received, duplicates included
	fresh     atomic.Uint64 // first copies among received
	other     atomic.Uint64 // other packets: pings, acks, other events and namespaces
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	lastRecv  atomic.Int64 // clock time of the last message of interest
	errs      [numErrKinds]atomic.Uint64

	rtt    Histogram // echo round trip or fanout delivery latency, ns
	conn   Histogram // connect time: connect(2) to the Socket.IO CONNECT ack, ns
	stages [numStages]Histogram
}

// Stages of a websocket client's handshake; their durations add up to the
// connect time.
const (
	stageTCP     = iota // connect(2) until the socket is writable
	stageUpgrade        // upgrade request until the 101 response
	stageOpen           // 101 until the Engine.IO open packet
	stageJoin           // Socket.IO CONNECT until its ack
	numStages
)

var stageNames = [numStages]string{"tcp", "upgrade", "open", "join"}

// clock reads a monotonic clock expressed as Unix nanoseconds: the wall time
// at start plus the monotonic time elapsed since, so a wall clock step does
// not corrupt latencies.
type clock struct {
	wall int64
	mono time.Time
}

func newClock() clock {
	t := time.Now()
	return clock{wall: t.UnixNano(), mono: t}
}

// now returns the current time in Unix nanoseconds. Any goroutine may call it.
func (c *clock) now() int64 { return c.wall + int64(time.Since(c.mono)) }

// runState is what the controller, the clients and the broadcaster share.
type runState struct {
	cfg          *Config
	clk          clock
	phase        atomic.Int32
	measureStart atomic.Int64 // clock time, set before phase becomes phaseMeasure
	measureEnd   atomic.Int64
	stats        []*counters // one per worker; polling uses stats[0]
	bcast        *bcastTable // fanout only

	errMu      sync.Mutex
	errSamples map[string]string // first message per error kind
}

func newRunState(cfg *Config, workers int) *runState {
	rs := &runState{cfg: cfg, clk: newClock(), errSamples: map[string]string{}}
	for range workers {
		rs.stats = append(rs.stats, new(counters))
	}
	if cfg.Scenario == ScenarioFanout {
		rs.bcast = newBcastTable(cfg)
	}
	return rs
}

// noteErr counts one error of kind k on st and keeps the first message of
// each kind for the summary. Any goroutine may call it.
func (rs *runState) noteErr(st *counters, k errKind, err error) {
	if st.errs[k].Add(1) > 1 {
		return
	}
	rs.errMu.Lock()
	if _, ok := rs.errSamples[k.String()]; !ok && err != nil {
		rs.errSamples[k.String()] = err.Error()
	}
	rs.errMu.Unlock()
}

// totals is a sum of every worker's counters at one moment.
type totals struct {
	dialed, connected, open, failed int64
	sent, received, fresh, other    uint64
	bytesIn, bytesOut               uint64
	lastRecv                        int64
	errs                            [numErrKinds]uint64
	errTotal                        uint64
}

// sum adds up the workers' counters. Any goroutine may call it.
func (rs *runState) sum() totals {
	var t totals
	for _, s := range rs.stats {
		t.dialed += s.dialed.Load()
		t.connected += s.connected.Load()
		t.open += s.open.Load()
		t.failed += s.failed.Load()
		t.sent += s.sent.Load()
		t.received += s.received.Load()
		t.fresh += s.fresh.Load()
		t.other += s.other.Load()
		t.bytesIn += s.bytesIn.Load()
		t.bytesOut += s.bytesOut.Load()
		t.lastRecv = max(t.lastRecv, s.lastRecv.Load())
		for k := range s.errs {
			v := s.errs[k].Load()
			t.errs[k] += v
			t.errTotal += v
		}
	}
	return t
}

// snapshot merges the workers' histograms into rtt and conn (reusing their
// storage; nil allocates). Any goroutine may call it.
func (rs *runState) snapshot(rtt, conn *Distribution) (*Distribution, *Distribution) {
	if rtt == nil {
		rtt = new(Distribution)
	}
	if conn == nil {
		conn = new(Distribution)
	}
	*rtt, *conn = Distribution{}, Distribution{}
	var tmp Distribution
	for _, s := range rs.stats {
		s.rtt.Snapshot(&tmp)
		rtt.Add(&tmp)
		s.conn.Snapshot(&tmp)
		conn.Add(&tmp)
	}
	return rtt, conn
}

// bcastTable follows every fanout broadcast: when it was sent, whether the
// server accepted it, how many clients got it and how long the last one took.
// Slots are indexed by sequence number; the table is sized for the whole run.
type bcastTable struct {
	slots    []bcastSlot
	posted   atomic.Uint64 // broadcasts attempted (highest seq used)
	accepted atomic.Uint64 // broadcasts answered with 2xx
	failed   atomic.Uint64
	outside  atomic.Uint64 // deliveries with a sequence number outside the table
	postLat  Histogram     // duration of the POST requests, ns
}

type bcastSlot struct {
	sentAt     atomic.Int64  // clock time the POST started
	ok         atomic.Bool   // the server answered 2xx
	recipients atomic.Int64  // "recipients" from the server's answer, -1 when absent
	deliveries atomic.Uint32 // first copies received by clients
	minLat     atomic.Int64  // smallest delivery latency, ns (0 until the first)
	maxLat     atomic.Int64  // largest delivery latency, ns
	postDur    atomic.Int64  // duration of the POST, ns
}

func newBcastTable(cfg *Config) *bcastTable {
	n := int(cfg.Rate*cfg.Duration.Seconds()) + 2
	return &bcastTable{slots: make([]bcastSlot, n+1)}
}

// deliver records the first copy of broadcast seq at one client, lat ns after
// it was sent. It returns false for a sequence number outside the table. Any
// goroutine may call it.
func (b *bcastTable) deliver(seq uint64, lat int64) bool {
	if seq == 0 || seq >= uint64(len(b.slots)) {
		return false
	}
	s := &b.slots[seq]
	s.deliveries.Add(1)
	s.noteLat(lat, lat)
	return true
}

// noteLat widens the slot's latency range to take in [lo, hi]. Any goroutine.
func (s *bcastSlot) noteLat(lo, hi int64) {
	for {
		m := s.minLat.Load()
		if (m != 0 && lo >= m) || s.minLat.CompareAndSwap(m, max(lo, 1)) {
			break
		}
	}
	for {
		m := s.maxLat.Load()
		if hi <= m || s.maxLat.CompareAndSwap(m, hi) {
			return
		}
	}
}

// account records one message of interest (an echo or a broadcast, whose
// arguments are args) received at clock time now by a client with tracker t
// that has sent sent echo messages. It reports whether the message carried
// an echo sequence number the client never sent. Only the client's own
// goroutine may call it for t.
func (rs *runState) account(st *counters, t *SeqTracker, sent uint64, args []byte, now int64) (extra bool) {
	seq, ok1 := FindUint(args, `"seq":`)
	ts, ok2 := FindUint(args, `"ts":`)
	if !ok1 || !ok2 {
		rs.noteErr(st, errMessage, fmt.Errorf("loadtest: message without seq or ts: %s", truncate(args, 120)))
		return false
	}
	st.received.Add(1)
	st.lastRecv.Store(now)
	if !t.Observe(seq) {
		return false
	}
	st.fresh.Add(1)
	lat := now - int64(ts)
	st.rtt.Record(lat)
	if rs.bcast != nil {
		if !rs.bcast.deliver(seq, lat) {
			rs.bcast.outside.Add(1)
		}
		return false
	}
	return seq > sent
}

// counterValues is a plain copy of a counters' atomics, the form in which a
// child process reports them to its parent.
type counterValues struct {
	Dialed    int64               `json:"dialed"`
	Connected int64               `json:"connected"`
	Open      int64               `json:"open"`
	Failed    int64               `json:"failed"`
	Measured  int64               `json:"measured"`
	Sent      uint64              `json:"sent"`
	Received  uint64              `json:"received"`
	Fresh     uint64              `json:"fresh"`
	Other     uint64              `json:"other"`
	BytesIn   uint64              `json:"bytes_in"`
	BytesOut  uint64              `json:"bytes_out"`
	LastRecv  int64               `json:"last_recv"`
	Errs      [numErrKinds]uint64 `json:"errs"`
}

// add adds every counter of rs's workers into v. Any goroutine may call it.
func (v *counterValues) add(rs *runState) {
	t := rs.sum()
	v.Dialed += t.dialed
	v.Connected += t.connected
	v.Open += t.open
	v.Failed += t.failed
	v.Sent += t.sent
	v.Received += t.received
	v.Fresh += t.fresh
	v.Other += t.other
	v.BytesIn += t.bytesIn
	v.BytesOut += t.bytesOut
	v.LastRecv = max(v.LastRecv, t.lastRecv)
	for k, n := range t.errs {
		v.Errs[k] += n
	}
	for _, s := range rs.stats {
		v.Measured += s.measured.Load()
	}
}

// load replaces st's counters with v: st mirrors a child process. The
// errChild count belongs to the parent (a child never reports one) and is
// kept.
func (st *counters) load(v *counterValues) {
	st.dialed.Store(v.Dialed)
	st.connected.Store(v.Connected)
	st.open.Store(v.Open)
	st.failed.Store(v.Failed)
	st.measured.Store(v.Measured)
	st.sent.Store(v.Sent)
	st.received.Store(v.Received)
	st.fresh.Store(v.Fresh)
	st.other.Store(v.Other)
	st.bytesIn.Store(v.BytesIn)
	st.bytesOut.Store(v.BytesOut)
	st.lastRecv.Store(v.LastRecv)
	for k, n := range v.Errs {
		if errKind(k) != errChild {
			st.errs[k].Store(n)
		}
	}
}
