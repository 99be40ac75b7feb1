package hooks

import (
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// Metric families of the hooks, each labelled by hook (connect,
// subscribe, event, disconnect). They are package-level metrics of
// VictoriaMetrics' default set, which /metrics writes with the rest.
const (
	// CallsFamily counts the calls made, or refused before they were
	// made (KindBusy), and for the disconnect hook the batches posted,
	// retries included.
	CallsFamily = "sioloop_hook_calls_total"
	// ErrorsFamily counts the failed calls by kind (the Kind constants);
	// for the disconnect hook, KindDropped counts dropped disconnects,
	// not batches.
	ErrorsFamily = "sioloop_hook_errors_total"
	// DurationFamily is the histogram of call durations in seconds, the
	// wait for a slot included.
	DurationFamily = "sioloop_hook_duration_seconds"
	// InFlightFamily is the calls waiting for the backend's answer now.
	InFlightFamily = "sioloop_hook_in_flight"
	// WaitingFamily is the calls waiting for a HOOK_CONCURRENCY slot now.
	WaitingFamily = "sioloop_hook_waiting"
)

// DurationBuckets are the upper bounds, in seconds, of the call duration
// histogram: from a local backend (a fraction of a millisecond) to
// HOOK_TIMEOUT.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

type metricSet struct {
	calls    *vm.Counter
	errors   []*vm.Counter // by kindIndex
	duration *vm.PrometheusHistogram
	inFlight atomic.Int64
	waiting  atomic.Int64
}

var hookMetrics [numHooks]metricSet

func init() {
	for h := range numHooks {
		m := &hookMetrics[h]
		label := `{hook="` + h.String() + `"}`
		m.calls = vm.NewCounter(CallsFamily + label)
		for _, k := range errorKinds {
			m.errors = append(m.errors, vm.NewCounter(ErrorsFamily+`{hook="`+h.String()+`",kind="`+k+`"}`))
		}
		m.duration = vm.NewPrometheusHistogramExt(DurationFamily+label, DurationBuckets)
		vm.NewGauge(InFlightFamily+label, func() float64 { return float64(m.inFlight.Load()) })
		vm.NewGauge(WaitingFamily+label, func() float64 { return float64(m.waiting.Load()) })
	}
}

func kindIndex(kind string) int {
	for i, k := range errorKinds {
		if k == kind {
			return i
		}
	}
	panic("BUG: hooks: unknown error kind " + kind)
}

// Errors returns the number of errors of hook h and kind counted so far in
// the process, for tests and the load tool.
func Errors(h Hook, kind string) uint64 { return hookMetrics[h].errors[kindIndex(kind)].Get() }

// Calls returns the number of calls of hook h counted so far in the
// process.
func Calls(h Hook) uint64 { return hookMetrics[h].calls.Get() }
