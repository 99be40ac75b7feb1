package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"sioloop/loop"
	"sioloop/loop/cluster/redistest"
)

// recoveryModes are the services the recovery benchmarks compare:
// recovery in the process, the Streams adapter without recovery (local
// delivery at once, XADD beside it), and both (XADD before delivery,
// sessions in Redis).
func recoveryModes(b *testing.B) []struct {
	name  string
	flags []string
} {
	rs := redistest.Start(b)
	return []struct {
		name  string
		flags []string
	}{
		{"local-recovery", []string{"--connection-state-recovery", "1m"}},
		{"streams", []string{"--redis-url", rs.URL, "--redis-adapter", "streams", "--redis-stream-name", "bench"}},
		{"streams+recovery", []string{"--redis-url", rs.URL, "--redis-adapter", "streams", "--redis-stream-name", "bench",
			"--connection-state-recovery", "1m"}},
	}
}

// BenchmarkRecoveryLatency measures what XADD-before-deliver adds to a
// local broadcast: from SocketIO.Broadcast (a whole namespace, from a
// goroutine of the application) to the event read by one WebSocket
// client on loopback, one at a time.
//
//	go test -run '^$' -bench RecoveryLatency -benchtime 2000x .
func BenchmarkRecoveryLatency(b *testing.B) {
	for _, m := range recoveryModes(b) {
		b.Run(m.name, func(b *testing.B) {
			x := startXFlags(b, m.flags...)
			defer x.stop()
			c := dialX(b, x.addr, nil)
			if a := c.read(5 * time.Second); !strings.HasPrefix(a, "40") {
				b.Fatalf("CONNECT answer %q", a)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := x.svc.IO.Broadcast(&loop.Broadcast{Event: "e", Args: []byte(`{"n":1}`)}); err != nil {
					b.Fatal(err)
				}
				if m := c.read(5 * time.Second); !strings.HasPrefix(m, `42["e"`) {
					b.Fatalf("got %q", m)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkRecoveryConnect measures the connect rate: 8 clients in
// parallel each open a WebSocket session, CONNECT, read the answer and
// close (a recoverable disconnect). With streams+recovery every socket's
// session is saved when it connects and again when it leaves.
//
//	go test -run '^$' -bench RecoveryConnect -benchtime 3000x .
func BenchmarkRecoveryConnect(b *testing.B) {
	for _, m := range recoveryModes(b) {
		b.Run(m.name, func(b *testing.B) {
			x := startXFlags(b, m.flags...)
			defer x.stop()
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := dialX(b, x.addr, nil)
					if a := c.read(5 * time.Second); !strings.HasPrefix(a, "40") {
						b.Errorf("CONNECT answer %q", a)
						return
					}
					c.conn.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "connects/s")
			if st := x.svc.Cluster; st != nil {
				b.Logf("cluster stats after: %+v", st.Stats())
			}
		})
	}
}
