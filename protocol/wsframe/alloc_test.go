//go:build !race

package wsframe

import "testing"

func TestAllocs(t *testing.T) {
	frame := append([]byte{0x81, 0x80 | 100}, mask[:]...)
	frame = append(frame, make([]byte, 100)...)
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	dst := make([]byte, 0, 512)
	buf := make([]byte, MaxServerHeaderSize+300)
	closePayload := []byte("\x03\xe8bye")
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
	f("ParseHeader", func() { _, _, _ = ParseHeader(frame) })
	f("ParseHeader+Unmask", func() {
		h, hn, err := ParseHeader(frame)
		if err == nil {
			Unmask(frame[hn:hn+int(h.Length)], h.Mask)
		}
	})
	f("AppendHeader", func() { dst = AppendHeader(dst[:0], true, OpText, 70000) })
	f("AppendFrame", func() { dst = AppendFrame(dst[:0], OpText, frame) })
	f("PutHeaderBefore", func() { _ = PutHeaderBefore(buf, MaxServerHeaderSize, true, OpText) })
	f("AppendClose", func() { dst = AppendClose(dst[:0], CloseGoingAway, "server shutting down") })
	f("ParseClose", func() { _, _, _ = ParseClose(closePayload) })
	f("AppendAcceptKey", func() { dst = AppendAcceptKey(dst[:0], key) })
	f("AppendUpgradeHead", func() { dst = AppendUpgradeHead(dst[:0], key) })
	f("ValidKey", func() { _ = ValidKey(key) })
	f("CloseCode", func() { _ = CloseCode(ErrUnmasked) })
}
