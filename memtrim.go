package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// The memory trimmer gives the memory of a connection storm back to the
// system once the storm is over.
//
// A storm of handshakes leaves garbage behind: Go's accept, gnet's
// registration of each connection and the HTTP upgrade allocate more than
// the connection keeps. The runtime collects it only when the heap reaches
// its goal (twice the live heap with GOGC=100), and then keeps the freed
// pages until its background scavenger gets to them: an idle server that
// has just taken 10,000 connections holds about a quarter more than it
// needs, for as long as it stays idle, since an idle server allocates
// nothing that would start a collection. Once the process has been quiet
// for a second (little allocated) and holds a good share more than its
// live heap, the trimmer runs a collection and returns every free page
// (debug.FreeOSMemory). It never runs while clients keep connecting, and at
// most once every trimMinInterval: a collection costs about a second of
// CPU per GiB of live heap.
const (
	trimCheckEvery  = time.Second
	trimMinInterval = 10 * time.Second
	// trimQuietBytes: at most this much allocated in the last second is
	// quiet (besides live/trimQuietShare).
	trimQuietBytes = 1 << 20
	trimQuietShare = 64
	// trimSlackBytes and trimSlackShare: what the process holds beyond
	// its live heap must pass both before a trim is worth a collection.
	trimSlackBytes = 2 << 20
	trimSlackShare = 4
)

var memoryTrims = vm.NewCounter(`sioloop_memory_trims_total`)

// heapSample is what the trimmer reads from runtime/metrics.
type heapSample struct {
	allocs uint64 // bytes allocated since the process started
	live   uint64 // live heap at the end of the last collection
	held   uint64 // heap memory the process holds: objects, fragmentation, free pages not returned
}

// shouldTrim reports whether, going from prev to cur one check later, the
// process is quiet and holds enough beyond its live heap to trim.
func shouldTrim(prev, cur heapSample) bool {
	allocated := cur.allocs - prev.allocs
	if allocated > trimQuietBytes+cur.live/trimQuietShare {
		return false // busy: the runtime collects on its own
	}
	if cur.live == 0 || cur.held < cur.live {
		return false // no collection yet, or readings taken apart
	}
	slack := cur.held - cur.live
	return slack > trimSlackBytes && slack > cur.live/trimSlackShare
}

var trimMetrics = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// readHeap samples the heap into s (reusing its sample slice).
func readHeap(samples []metrics.Sample) heapSample {
	metrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0 // not in this Go release: the trimmer stays idle
		}
		return samples[i].Value.Uint64()
	}
	return heapSample{allocs: v(0), live: v(1), held: v(2) + v(3) + v(4)}
}

// trimMemory checks the heap every trimCheckEvery until ctx ends.
func trimMemory(ctx context.Context) {
	samples := make([]metrics.Sample, len(trimMetrics))
	for i, name := range trimMetrics {
		samples[i].Name = name
	}
	t := time.NewTicker(trimCheckEvery)
	defer t.Stop()
	prev := readHeap(samples)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := readHeap(samples)
			if now.Sub(last) >= trimMinInterval && shouldTrim(prev, cur) {
				debug.FreeOSMemory()
				memoryTrims.Inc()
				last = now
				cur = readHeap(samples)
			}
			prev = cur
		}
	}
}
