package attack

import (
	"strings"
	"testing"
	"time"
)

// TestGlobPathological runs NAMESPACES=/*a*b*c*, a pattern a backtracking
// matcher takes polynomial time (or worse) on, and CONNECTs to "/" and
// 255 'a's (256 bytes, at MAX_NAME_BYTES), then to "/" and 200 KB of
// 'a's (over it). Neither matches; each must be answered within 1 s and
// the canary must not notice. Bounds: RSS +64 MB, canary p99 500 ms.
func TestGlobPathological(t *testing.T) {
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "NAMESPACES=/*a*b*c*")
	defer a.finish()
	for _, n := range []int{255, 200_000} {
		ws, err := dialWS(a.Srv.Addr, 5*time.Second, 0)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		nsp := "/" + strings.Repeat("a", n)
		start := time.Now()
		ans, err := ws.Connect(nsp, 5*time.Second)
		took := time.Since(start)
		ws.Close()
		a.Outcome("%d-byte name: answered %q after %v (%v)", len(nsp), clip(ans), took.Round(time.Millisecond), err)
		if err != nil {
			t.Errorf("%d-byte name: no answer within 5s: %v", len(nsp), err)
		} else if took > time.Second {
			t.Errorf("%d-byte name: answered after %v, want ≤ 1s", len(nsp), took)
		}
		if err == nil && !strings.HasPrefix(ans, "44") {
			t.Errorf("%d-byte name: answered %q, want CONNECT_ERROR (it matches no namespace)", len(nsp), clip(ans))
		}
	}
}
