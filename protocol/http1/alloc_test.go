//go:build !race

package http1

import "testing"

func TestAllocs(t *testing.T) {
	polling, upgrade := []byte(pollingGET), []byte(wsUpgrade)
	bad := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n")
	partial := []byte(wsUpgrade[:200])
	dst := make([]byte, 0, 256)
	var r Request
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
	f("Parse polling", func() { _, _ = Parse(&r, polling, 0) })
	f("Parse upgrade", func() { _, _ = Parse(&r, upgrade, 0) })
	f("Parse partial", func() { _, _ = Parse(&r, partial, 0) })
	f("Parse malformed", func() { _, _ = Parse(&r, bad, 0) })
	f("Parse on the stack", func() {
		var r Request
		_, _ = Parse(&r, upgrade, 0)
	})
	_, _ = Parse(&r, upgrade, 0)
	f("Header", func() { _, _ = r.Header("Sec-WebSocket-Key") })
	f("Headers", func() { r.Headers(func(name, value []byte) {}) })
	f("QueryValue", func() { _, _ = QueryValue(r.RawQuery, "sid") })
	f("AppendStatusLine", func() { dst = AppendStatusLine(dst[:0], 200) })
	f("AppendResponse", func() { dst = ErrBadRequestLine.AppendResponse(dst[:0]) })
	f("Error", func() { _ = ErrBadMethod.Error() })
}
