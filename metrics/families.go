package metrics

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"sioloop/loop"
)

// reading is what one scrape reads from the server.
type reading struct {
	snap      loop.Snapshot
	nss       []loop.NamespaceStats // sorted by name
	hasIO     bool                  // the server runs Socket.IO: table is meaningful
	table     loop.NamespaceTableStats
	rec       loop.RecoveryStats
	hasRec    bool // connection state recovery is on: rec is meaningful
	draining  bool
	queued    int64
	queuedErr error // OutboundQueued did not answer in time
}

// family is one metric family written at scrape time from a reading.
type family struct {
	name string // full Prometheus name, without labels
	typ  string // "counter", "gauge" or "histogram"
	help string
	// samples adds the family's samples from r with a.
	samples func(a *appender, r *reading)
}

// families is every metric that sioloop reads from the loop at scrape time.
// The socket_io_* names and their namespace label are those of the
// socket.io-prometheus-metrics exporter, so existing Grafana dashboards
// keep working; socket_io_connected carries the label too, since a sioloop
// server serves several namespaces.
//
// The namespace label takes only names from the configuration: the
// namespaces clients create from a pattern ("/org-*") are summed under the
// pattern's label (loop.SocketIO.NamespaceStats does it), so no client can
// add series to a scrape.
var families = []family{
	{"socket_io_connected", "gauge", "Sockets connected to the namespace now.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.int(nsLabel(n), n.Connected)
			}
		}},
	{"socket_io_connect_total", "counter", "Socket.IO CONNECTs the namespace accepted.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.Connects)
			}
		}},
	{"socket_io_disconnect_total", "counter", "Sockets that left the namespace.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.Disconnects)
			}
		}},
	{"socket_io_events_received_total", "counter", "Events received from clients.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.EventsIn)
			}
		}},
	{"socket_io_events_sent_total", "counter", "Events sent to clients: direct emits and broadcast deliveries.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.EventsOut)
			}
		}},
	{"socket_io_receive_bytes", "counter", "Bytes of event packets received from clients.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.BytesIn)
			}
		}},
	{"socket_io_transmit_bytes", "counter", "Bytes of event packets sent to clients.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.BytesOut)
			}
		}},
	{"socket_io_errors_total", "counter", "CONNECTs the namespace refused and protocol errors of its sockets.",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.uint(nsLabel(n), n.Errors)
			}
		}},

	{"sioloop_namespaces", "gauge", "Namespaces that exist now: 1 for a declared one; for a pattern such as /org-*, the namespaces clients created from it (each goes away with its last socket).",
		func(a *appender, r *reading) {
			for _, n := range r.nss {
				a.int(nsLabel(n), int64(n.Namespaces))
			}
		}},
	{"sioloop_namespace_refused_total", "counter", "CONNECTs refused by the namespace limits: namespace_limit (MAX_NAMESPACES namespaces existed), name_too_long (a name longer than MAX_NAME_BYTES, answered \"Invalid namespace\").",
		func(a *appender, r *reading) {
			if r.hasIO {
				a.uint(`reason="namespace_limit"`, r.table.RefusedLimit)
				a.uint(`reason="name_too_long"`, r.table.RefusedName)
			}
		}},

	{"sioloop_recovery_recovered_total", "counter", "Sockets restored by connection state recovery with their id, rooms and missed events.",
		func(a *appender, r *reading) {
			if r.hasRec {
				a.uint("", r.rec.Recovered)
			}
		}},
	{"sioloop_recovery_not_recovered_total", "counter", "CONNECTs that asked to recover and got a new session: unknown_pid (no such kept session), expired (disconnected longer than CONNECTION_STATE_RECOVERY), offset_too_old (packets after the offset were dropped from RECOVERY_BUFFER_BYTES).",
		func(a *appender, r *reading) {
			if r.hasRec {
				for i, n := range r.rec.NotRecovered {
					a.uint(`reason="`+loop.RecoveryRefusalNames[i]+`"`, n)
				}
			}
		}},
	{"sioloop_recovery_replayed_packets_total", "counter", "Missed events sent again to recovered sockets.",
		func(a *appender, r *reading) {
			if r.hasRec {
				a.uint("", r.rec.Replayed)
			}
		}},
	{"sioloop_recovery_buffer_bytes", "gauge", "Bytes of events kept for replay by connection state recovery (bounded by RECOVERY_BUFFER_BYTES).",
		func(a *appender, r *reading) {
			if r.hasRec {
				a.int("", r.rec.KeptBytes)
			}
		}},
	{"sioloop_recovery_sessions", "gauge", "Disconnected sessions kept for connection state recovery.",
		func(a *appender, r *reading) {
			if r.hasRec {
				a.int("", r.rec.KeptSessions)
			}
		}},

	{"sioloop_connections", "gauge", "Open client TCP connections, Engine.IO or not.",
		func(a *appender, r *reading) { a.int("", r.snap.Connections) }},
	{"sioloop_clients", "gauge", "Engine.IO sessions by current transport.",
		func(a *appender, r *reading) {
			a.int(`transport="polling"`, r.snap.PollingSessions)
			a.int(`transport="websocket"`, r.snap.WebSocketSessions)
		}},
	{"sioloop_handshake_errors_total", "counter", "Refused Engine.IO requests by error code: 0 unknown transport, " +
		"1 unknown session id, 2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported protocol version.",
		func(a *appender, r *reading) {
			for code, n := range r.snap.HandshakeErrors {
				a.uint(`code="`+strconv.Itoa(code)+`"`, n)
			}
		}},
	{"sioloop_engineio_messages_received_total", "counter", "Engine.IO messages received from clients.",
		func(a *appender, r *reading) { a.uint("", r.snap.PacketsIn) }},
	{"sioloop_engineio_messages_sent_total", "counter", "Engine.IO messages sent to one client (broadcasts are counted in sioloop_broadcast_deliveries_total).",
		func(a *appender, r *reading) { a.uint("", r.snap.PacketsOut) }},
	{"sioloop_engineio_received_bytes_total", "counter", "Payload bytes of the Engine.IO messages received from clients.",
		func(a *appender, r *reading) { a.uint("", r.snap.BytesIn) }},
	{"sioloop_engineio_sent_bytes_total", "counter", "Payload bytes of the Engine.IO messages sent to one client.",
		func(a *appender, r *reading) { a.uint("", r.snap.BytesOut) }},
	{"sioloop_broadcasts_total", "counter", "Broadcasts run (one per event, whatever the number of recipients).",
		func(a *appender, r *reading) { a.uint("", r.snap.Broadcasts) }},
	{"sioloop_broadcast_deliveries_total", "counter", "Broadcast packets handed to a client.",
		func(a *appender, r *reading) { a.uint("", r.snap.Deliveries) }},
	{"sioloop_volatile_dropped_total", "counter", "Volatile packets dropped for clients that could not take them at once.",
		func(a *appender, r *reading) { a.uint("", r.snap.VolatileDropped) }},
	{"sioloop_slow_consumer_disconnects_total", "counter", "Clients disconnected for exceeding the outbound cap (MAX_OUTBOUND_BYTES).",
		func(a *appender, r *reading) { a.uint("", r.snap.SlowConsumers) }},
	{"sioloop_connection_refusals_total", "counter", "Client connections the server cut on its own, by reason: body_too_large (413 for a declared " +
		"Content-Length over MAX_PAYLOAD), head_timeout (HANDSHAKE_TIMEOUT), body_timeout (BODY_READ_TIMEOUT), idle_timeout (KEEP_ALIVE_TIMEOUT), " +
		"outbound_full (HTTP answers left unread past MAX_OUTBOUND_BYTES), max_connections (503 to a handshake past MAX_CONNECTIONS), " +
		"max_connections_per_ip (429 past MAX_CONNECTIONS_PER_IP), connect_rate (503 past CONNECT_RATE and CONNECT_BURST), " +
		"max_user_connections (CONNECT_ERROR to a CONNECT past MAX_USER_CONNECTIONS sockets of its user), " +
		"event_flood (a socket that kept sending events past MAX_EVENTS_PER_SECOND, EVENT_BURST of them beyond it, disconnected).",
		func(a *appender, r *reading) {
			for i, n := range r.snap.Refusals {
				a.uint(`reason="`+loop.Refusal(i).String()+`"`, n)
			}
		}},
	{"sioloop_events_refused_total", "counter", "Client events refused, by reason: rate (past MAX_EVENTS_PER_SECOND and EVENT_BURST; acked with {\"error\":…} when the client asked for an ack, dropped otherwise).",
		func(a *appender, r *reading) { a.uint(`reason="rate"`, r.snap.EventsRefused) }},
	{"sioloop_accept_errors_total", "counter", "Failed accepts of new client connections (out of file descriptors, out of memory); the server keeps running and retries.",
		func(a *appender, r *reading) { a.uint("", r.snap.AcceptErrors) }},
	{"sioloop_panics_total", "counter", "Panics recovered while serving one connection or job; the connection was closed and the server kept running.",
		func(a *appender, r *reading) { a.uint("", r.snap.Panics) }},
	{"sioloop_io_uring_sends_total", "counter", "Broadcast sends submitted through io_uring, many sockets per system call (IO_URING); the others use write(2).",
		func(a *appender, r *reading) { a.uint("", r.snap.IOURingSends) }},
	{"sioloop_outbound_queued_bytes", "gauge", "Bytes queued in user space for all clients (WebSocket outbound buffers and polling queues).",
		func(a *appender, r *reading) {
			if r.queuedErr == nil {
				a.int("", r.queued)
			}
		}},
	{"sioloop_loop_connections", "gauge", "Open client connections per event loop (reactor).",
		func(a *appender, r *reading) {
			for i, n := range r.snap.LoopConnections {
				a.int(loopLabel(i), n)
			}
		}},
	{"sioloop_broadcast_duration_seconds", "histogram", "Per broadcast sent to every event loop: from its encoding to the last loop's last write (the server's share of the time to the last client; sioloop_broadcast_wait_seconds and sioloop_broadcast_write_seconds split it by loop).",
		func(a *appender, r *reading) { a.hist("", &r.snap.BroadcastDone) }},
	{"sioloop_broadcast_wait_seconds", "histogram", "Per broadcast and event loop: from the broadcast's encoding to the start of the loop's write pass (its wake-up, and the work it was busy with).",
		perLoopHist(func(t *loop.LoopTiming) *loop.Histogram { return &t.Wait })},
	{"sioloop_broadcast_write_seconds", "histogram", "Per write pass of an event loop (broadcasts queued together share one): from its start to its last write.",
		perLoopHist(func(t *loop.LoopTiming) *loop.Histogram { return &t.Write })},
	{"sioloop_broadcast_io_uring_seconds", "histogram", "Per write pass that sent through io_uring: the time inside io_uring_enter, the kernel performing the sends (the rest of sioloop_broadcast_write_seconds is the walk over the sockets and the completions).",
		perLoopHist(func(t *loop.LoopTiming) *loop.Histogram { return &t.URing })},
	{"sioloop_broadcast_last_loop_total", "counter", "Broadcasts this event loop finished after every other loop: a loop whose count is far above the others' is the one slow broadcasts wait for.",
		func(a *appender, r *reading) {
			for i := range r.snap.LoopTiming {
				a.uint(loopLabel(i), r.snap.LoopTiming[i].Last)
			}
		}},
	{"sioloop_draining", "gauge", "1 once graceful shutdown has begun, else 0.",
		func(a *appender, r *reading) {
			v := int64(0)
			if r.draining {
				v = 1
			}
			a.int("", v)
		}},
}

// append writes the family's HELP and TYPE lines and its samples to b. A
// family with no sample (no namespace yet, a reading that timed out) is
// left out entirely, metadata included.
func (f *family) append(b []byte, r *reading) []byte {
	start := len(b)
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	b = append(b, '\n')
	a := appender{b: b, name: f.name}
	f.samples(&a, r)
	if a.n == 0 {
		return b[:start]
	}
	return a.b
}

// appender appends the sample lines of one family.
type appender struct {
	b    []byte
	name string
	n    int // samples appended
}

// uint appends `name{labels} v`; labels is the text inside the braces,
// already escaped, or "" for none.
func (a *appender) uint(labels string, v uint64) {
	a.head(labels)
	a.b = strconv.AppendUint(a.b, v, 10)
	a.b = append(a.b, '\n')
}

// int is uint for gauges, which may go below zero.
func (a *appender) int(labels string, v int64) {
	a.head(labels)
	a.b = strconv.AppendInt(a.b, v, 10)
	a.b = append(a.b, '\n')
}

// hist appends the samples of one histogram of broadcast timing: a
// cumulative name_bucket line per bound of loop.TimingBounds and +Inf, then
// name_sum (seconds) and name_count.
func (a *appender) hist(labels string, h *loop.Histogram) {
	a.n++
	var cum uint64
	for i, n := range h.Counts {
		cum += n
		le := "+Inf"
		if i < len(loop.TimingBounds) {
			le = strconv.FormatFloat(loop.TimingBounds[i].Seconds(), 'g', -1, 64)
		}
		a.line("_bucket", labels, `le="`+le+`"`)
		a.b = strconv.AppendUint(a.b, cum, 10)
		a.b = append(a.b, '\n')
	}
	a.line("_sum", labels, "")
	a.b = strconv.AppendFloat(a.b, h.Sum.Seconds(), 'g', -1, 64)
	a.b = append(a.b, '\n')
	a.line("_count", labels, "")
	a.b = strconv.AppendUint(a.b, cum, 10)
	a.b = append(a.b, '\n')
}

func (a *appender) head(labels string) {
	a.n++
	a.line("", labels, "")
}

// line appends the start of a sample line: the family's name with suffix,
// then labels and more (each already escaped, either may be empty) in
// braces, and a space.
func (a *appender) line(suffix, labels, more string) {
	a.b = append(a.b, a.name...)
	a.b = append(a.b, suffix...)
	if labels != "" || more != "" {
		a.b = append(a.b, '{')
		a.b = append(a.b, labels...)
		if labels != "" && more != "" {
			a.b = append(a.b, ',')
		}
		a.b = append(a.b, more...)
		a.b = append(a.b, '}')
	}
	a.b = append(a.b, ' ')
}

// loopLabel is the label of event loop (reactor) i.
func loopLabel(i int) string { return `loop="` + strconv.Itoa(i) + `"` }

// perLoopHist appends, for every event loop, the histogram pick returns
// from its broadcast timing.
func perLoopHist(pick func(*loop.LoopTiming) *loop.Histogram) func(*appender, *reading) {
	return func(a *appender, r *reading) {
		for i := range r.snap.LoopTiming {
			a.hist(loopLabel(i), pick(&r.snap.LoopTiming[i]))
		}
	}
}

// nsLabel returns the namespace label of n.
func nsLabel(n loop.NamespaceStats) string {
	return `namespace="` + escapeLabel(n.Name) + `"`
}

// escapeLabel escapes a label value. Namespace names come from the
// configuration, not from clients (see families), but may still hold any
// character. The text format (Prometheus exposition formats,
// "Text format details"): "label_value can be any sequence of UTF-8
// characters, but the backslash (\), double-quote ("), and line feed (\n)
// characters have to be escaped as \\, \", and \n, respectively."
// Invalid UTF-8 becomes U+FFFD.
func escapeLabel(v string) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return labelEscaper.Replace(v)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// sortNamespaces orders nss by name, so that scrapes list them stably.
func sortNamespaces(nss []loop.NamespaceStats) {
	slices.SortFunc(nss, func(a, b loop.NamespaceStats) int { return strings.Compare(a.Name, b.Name) })
}
