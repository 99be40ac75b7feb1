// Package metrics is the Prometheus exposition of a sioloop server: the
// socket_io_* family that existing Socket.IO dashboards read, sioloop's own
// engine metrics, the admin request durations and the Go/process metrics,
// written with VictoriaMetrics/metrics.
//
// Nothing here runs on the hot path. The reactors keep their counters per
// loop inside package loop; a scrape reads them once, through
// loop.Server.Snapshot, loop.SocketIO.NamespaceStats and
// loop.Server.OutboundQueued (all safe from any goroutine), and writes every
// family from that one reading, so the values of one scrape agree with each
// other. The only metrics this package updates itself are the admin request
// histograms, on the cold net/http side.
//
// Every family read from the loop is declared once, with its full
// Prometheus name, type and help text, in the table in families.go. Rare
// events of the layers above the loop are package-level counters of
// VictoriaMetrics' default set, declared where they happen (the refused
// subscriptions of package app, sioloop_subscribe_refused_total); a
// scrape writes that set too.
package metrics

import (
	"context"
	"io"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"sioloop/loop"
)

// AdminRequestDuration is the histogram family of admin request durations
// in seconds, labelled by route.
const AdminRequestDuration = "sioloop_admin_request_duration_seconds"

// AdminRefused is the counter family of admin requests refused before
// their route ran, labelled by route and reason: "token" (a protected
// route without the right ADMIN_TOKEN, 401) and "client_port" (a socket
// management route on the client port while ADMIN_TOKEN is unset, 403).
const AdminRefused = "sioloop_admin_refused_total"

// AdminBuckets are the upper bounds, in seconds, of the admin request
// duration histogram: from a /health answer (tens of microseconds) to a
// broadcast to 100k clients (hundreds of milliseconds).
var AdminBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// OutboundQueuedTimeout bounds how long a scrape waits for the reactors to
// report their queued outbound bytes. A busy or stopping server may not
// answer in time; the scrape then leaves sioloop_outbound_queued_bytes out
// rather than report a wrong value.
const OutboundQueuedTimeout = 250 * time.Millisecond

// Set is the metrics of one sioloop server. Create it with New; any
// goroutine may call its methods.
type Set struct {
	set *vm.Set
	srv *loop.Server
	io  *loop.SocketIO
}

// New returns the metrics of srv and io (io may be nil for a server
// without Socket.IO). It turns on HELP/TYPE metadata globally in
// VictoriaMetrics/metrics (vm.ExposeMetadata), which this exposition needs.
func New(srv *loop.Server, io *loop.SocketIO) *Set {
	vm.ExposeMetadata(true)
	s := &Set{set: vm.NewSet(), srv: srv, io: io}
	s.set.RegisterMetricsWriter(s.writeLoop)
	return s
}

// AdminRoute returns the request duration histogram of one admin route,
// sioloop_admin_request_duration_seconds{route="<route>"}, creating it on
// first use. Call it when building the handler, not per request: creation
// takes the set's lock.
func (s *Set) AdminRoute(route string) *vm.PrometheusHistogram {
	name := AdminRequestDuration + `{route="` + escapeLabel(route) + `"}`
	return s.set.GetOrCreatePrometheusHistogramExt(name, AdminBuckets)
}

// AdminRefusal returns the counter of admin requests to route refused for
// reason, sioloop_admin_refused_total{route="<route>",reason="<reason>"},
// creating it on first use. Like AdminRoute, call it when building the
// handler, not per request.
func (s *Set) AdminRefusal(route, reason string) *vm.Counter {
	name := AdminRefused + `{route="` + escapeLabel(route) + `",reason="` + escapeLabel(reason) + `"}`
	return s.set.GetOrCreateCounter(name)
}

// WritePrometheus writes every sioloop metric, then the Go and process
// metrics, to w in the Prometheus text exposition format (version 0.0.4)
// with HELP and TYPE lines. The process metrics include the open and
// maximum file descriptors (process_open_fds, process_max_fds): every
// client is one.
func (s *Set) WritePrometheus(w io.Writer) {
	s.set.WritePrometheus(w)
	vm.WritePrometheus(w, false) // the default set: package-level counters
	vm.WriteProcessMetrics(w)
	vm.WriteFDMetrics(w)
}

// writeLoop reads the server once and writes every family of the table.
func (s *Set) writeLoop(w io.Writer) {
	r := reading{snap: s.srv.Snapshot(), draining: s.srv.Draining()}
	if s.io != nil {
		r.nss = s.io.NamespaceStats()
		sortNamespaces(r.nss)
		r.hasIO, r.table = true, s.io.NamespaceTableStats()
		r.rec, r.hasRec = s.io.RecoveryStats()
	}
	ctx, cancel := context.WithTimeout(context.Background(), OutboundQueuedTimeout)
	r.queued, r.queuedErr = s.srv.OutboundQueued(ctx)
	cancel()
	var b []byte
	for i := range families {
		b = families[i].append(b, &r)
	}
	_, _ = w.Write(b)
}
