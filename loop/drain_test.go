package loop_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

// TestShutdownDrainsOverDrainDuration: with DrainDuration set, Shutdown
// sends the clients away spread over it, each with close 1001, instead of
// all in the same instant; without it, all at once.
func TestShutdownDrainsOverDrainDuration(t *testing.T) {
	for _, drain := range []time.Duration{0, time.Second} {
		ts := startServer(t, loop.Config{DrainDuration: drain})
		const n = 40
		ws := make([]*wsConn, n)
		for i := range ws {
			ws[i], _ = ts.openWS(t)
		}
		start := time.Now()
		at := make([]time.Duration, n)
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.c.SetReadDeadline(time.Now().Add(drain + 3*time.Second))
				for {
					f, err := w.read()
					if err != nil {
						t.Errorf("client %d: %v before its close frame", i, err)
						return
					}
					if f.op == opClose {
						at[i] = time.Since(start)
						if code := closeCode(f); code != 1001 {
							t.Errorf("client %d: close %d, want 1001", i, code)
						}
						return
					}
				}
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), drain+3*time.Second)
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		wg.Wait()
		first, last := at[0], at[0]
		for _, d := range at {
			first, last = min(first, d), max(last, d)
		}
		t.Logf("drain %v: first close after %v, last after %v", drain, first, last)
		if drain == 0 && last > 500*time.Millisecond {
			t.Errorf("without a drain the last close came after %v", last)
		}
		if drain > 0 && (last-first < drain/2 || last > drain+time.Second) {
			t.Errorf("closes from %v to %v: want them spread over about %v", first, last, drain)
		}
	}
}
