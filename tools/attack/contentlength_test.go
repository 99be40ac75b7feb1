package attack

import (
	"testing"
	"time"
)

// TestContentLengthOverflow sends Content-Length values that do not fit
// or are not 1*DIGIT (RFC 9110 §8.6) to a path that is no route, on the
// client port with the admin routes off it. The largest int64 must get
// 413 and a closed connection (a body that size can never be read); the
// others 400 or 413 and a close (RFC 9112 §6.3: an invalid Content-Length
// "is unrecoverable", the server "MUST close the connection"); none may
// crash the server. Each value gets a fresh
// server, so that one crash does not hide the answer to the next.
// Bounds: RSS +64 MB, canary p99 500 ms.
func TestContentLengthOverflow(t *testing.T) {
	cases := []struct {
		name   string
		fields string // the Content-Length line(s)
		want   []int  // acceptable statuses
	}{
		{"MaxInt64", "Content-Length: 9223372036854775807\r\n", []int{413}},
		{"TwoTo64", "Content-Length: 18446744073709551616\r\n", []int{400, 413}},
		{"Negative", "Content-Length: -1\r\n", []int{400, 413}},
		{"Plus", "Content-Length: +5\r\n", []int{400, 413}},
		{"Exponent", "Content-Length: 1e3\r\n", []int{400, 413}},
		{"Conflicting", "Content-Length: 5\r\nContent-Length: 6\r\n", []int{400, 413}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "ADMIN_ON_MAIN_PORT=false")
			defer a.finish()
			req := "POST /other HTTP/1.1\r\nHost: x\r\n" + tc.fields + "\r\n"
			got, closed, err := exchange(a.Srv.Addr, req, 2*time.Second)
			if err != nil {
				a.Outcome("request failed: %v", err)
				t.Fatalf("request: %v", err)
			}
			time.Sleep(200 * time.Millisecond) // a crash takes a moment to show
			a.Outcome("answer %q, closed by server: %v, server alive: %v", statusLine(got), closed, !a.Gone())
			code := statusCode(got)
			ok := false
			for _, w := range tc.want {
				ok = ok || code == w
			}
			if !ok {
				t.Errorf("Content-Length %q: got %q, want status %v", tc.fields, statusLine(got), tc.want)
			}
			if !closed {
				t.Errorf("Content-Length %q: connection still open 2s after the answer", tc.fields)
			}
		})
	}
}
