package attack

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// rssCap is the growth over baseline at which the sampler calls its
// onCap: a leaking server is stopped before it takes the shared machine
// down, and the figure reads "≥ cap".
const rssCap = 1536 << 20

// readRSS returns the VmRSS of pid in bytes, from /proc/<pid>/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	i := bytes.Index(b, []byte("VmRSS:"))
	if i < 0 {
		return 0, fmt.Errorf("no VmRSS in /proc/%d/status (zombie?)", pid)
	}
	line := b[i+len("VmRSS:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line) // "12345 kB"
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("unexpected VmRSS line %q", line)
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	return kb << 10, err
}

// rssSampler reads VmRSS every 100 ms and keeps the peak.
type rssSampler struct {
	pid      int
	baseline int64
	onCap    func()

	mu     sync.Mutex
	peak   int64
	last   int64
	capped bool

	stop chan struct{}
	done chan struct{}
}

// sampleRSS starts sampling pid; onCap, if not nil, is called once when
// the RSS grows past baseline+rssCap.
func sampleRSS(pid int, baseline int64, onCap func()) *rssSampler {
	r := &rssSampler{pid: pid, baseline: baseline, onCap: onCap, peak: baseline, last: baseline,
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *rssSampler) run() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		v, err := readRSS(r.pid)
		if err != nil {
			continue // gone: the test reports the exit
		}
		r.mu.Lock()
		r.last = v
		r.peak = max(r.peak, v)
		hit := !r.capped && v-r.baseline > rssCap
		if hit {
			r.capped = true
		}
		r.mu.Unlock()
		if hit && r.onCap != nil {
			r.onCap()
		}
	}
}

// Peak returns the highest RSS seen so far.
func (r *rssSampler) Peak() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// Capped reports whether the RSS went past baseline+rssCap.
func (r *rssSampler) Capped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.capped
}

// Stop ends the sampling; it may be called more than once.
func (r *rssSampler) Stop() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// mb formats a byte count in MiB.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
