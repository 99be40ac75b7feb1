package loop

import (
	"testing"
	"time"
)

// TestFirstPingSpread checks that first pings are spread over the last
// quarter of pingInterval, never later than it.
func TestFirstPingSpread(t *testing.T) {
	const interval = 25 * time.Second
	lo, hi := int64(interval), int64(0)
	for range 10000 {
		d := firstPing(interval)
		if d > int64(interval) || d < int64(interval)*3/4 {
			t.Fatalf("first ping after %v, want within [%v, %v]", time.Duration(d), interval*3/4, interval)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if time.Duration(hi-lo) < interval/5 {
		t.Errorf("10,000 first pings spread over %v only, want most of %v", time.Duration(hi-lo), interval/4)
	}
}
