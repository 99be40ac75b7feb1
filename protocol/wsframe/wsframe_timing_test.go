package wsframe

import "testing"

// maskedText returns a masked client text frame with an n-byte payload.
func maskedText(n int) []byte {
	b := AppendHeader(nil, true, OpText, n)
	b[1] |= 0x80
	b = append(b, mask[:]...)
	for i := range n {
		b = append(b, byte('a'+i%26)^mask[i%4])
	}
	return b
}

// BenchmarkParseUnmask100 parses and unmasks a 100-byte masked text frame, the
// per-message work of the loop for a typical Socket.IO event. The payload
// toggles between masked and unmasked across iterations; the header is never
// touched and XOR costs the same either way.
func BenchmarkParseUnmask100(b *testing.B) {
	frame := maskedText(100)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		h, p := parsePayload(b, frame)
		Unmask(p, h.Mask)
	}
}

// parsePayload parses frame's header, as the loop does, and returns the
// header and the payload, still masked.
func parsePayload(b *testing.B, frame []byte) (Header, []byte) {
	h, hn, err := ParseHeader(frame)
	if err != nil {
		b.Fatal(err)
	}
	return h, frame[hn : hn+int(h.Length)]
}

// BenchmarkParseUnmaskValidate100 adds the UTF-8 check RFC 6455 §8.1 requires
// for text frames.
func BenchmarkParseUnmaskValidate100(b *testing.B) {
	frame := maskedText(100)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		h, p := parsePayload(b, frame)
		Unmask(p, h.Mask)
		if !ValidUTF8(p) {
			b.Fatal("utf8")
		}
		Unmask(p, h.Mask) // back to masked for the next iteration
	}
}

func BenchmarkParseHeader(b *testing.B) {
	frame := maskedText(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseHeader(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmask4K(b *testing.B) {
	p := make([]byte, 4096)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		Unmask(p, mask)
	}
}

func BenchmarkAppendFrame100(b *testing.B) {
	payload := make([]byte, 100)
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], OpText, payload)
	}
}

func BenchmarkAppendAcceptKey(b *testing.B) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	dst := make([]byte, 0, AcceptKeySize)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendAcceptKey(dst[:0], key)
	}
}
