package metrics

import (
	"io"
	"strconv"
	"testing"

	"sioloop/loop"
)

// BenchmarkFamilies writes the loop families of a reading with 10
// namespaces and 8 loops, the part of a scrape this package writes itself.
func BenchmarkFamilies(b *testing.B) {
	r := reading{snap: loop.Snapshot{LoopConnections: make([]int64, 8)}}
	for i := range 10 {
		r.nss = append(r.nss, loop.NamespaceStats{Name: "/ns" + strconv.Itoa(i), Connected: 100, EventsOut: 1e9})
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range families {
			buf = families[i].append(buf, &r)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkWritePrometheus is a whole scrape of an idle server, Go and
// process metrics included.
func BenchmarkWritePrometheus(b *testing.B) {
	srv := loop.New(loop.Config{}, nil)
	s := New(srv, loop.NewSocketIO(srv))
	s.AdminRoute("/")
	b.ReportAllocs()
	for b.Loop() {
		s.WritePrometheus(io.Discard)
	}
}
