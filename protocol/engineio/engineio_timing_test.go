package engineio

import (
	"bytes"
	"encoding/base64"
	"testing"
)

var sinkPacket Packet

func BenchmarkParsePacket(b *testing.B) {
	frame := []byte(`42["chat","hello world"]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		sinkPacket, _ = parsePacket(frame)
	}
}

// benchWalk walks body (restored from orig before each round, since base64
// decoding overwrites it).
func benchWalk(b *testing.B, orig []byte) {
	body := make([]byte, len(orig))
	b.ReportAllocs()
	b.SetBytes(int64(len(orig)))
	for b.Loop() {
		copy(body, orig)
		for rest := body; rest != nil; {
			var err error
			if sinkPacket, rest, err = NextPayloadPacket(rest); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkNextPayloadPacket(b *testing.B) {
	b.Run("text-10", func(b *testing.B) {
		body := appendPayload(nil, repeat(Packet{Type: Message, Data: []byte(`2["chat","hello world"]`)}, 10)...)
		benchWalk(b, body)
	})
	b.Run("node-example", func(b *testing.B) {
		benchWalk(b, []byte("4hello\x1e2\x1e4€\x1ebAQIDBA=="))
	})
	b.Run("b64-1KiB", func(b *testing.B) {
		benchWalk(b, AppendPacket(nil, Packet{Type: Message, Data: bytes.Repeat([]byte{1, 2, 3}, 342), Binary: true}))
	})
}

// BenchmarkBase64Decode compares the in-place decoder with encoding/base64
// (which needs a separate output buffer) on 1 KiB of data.
func BenchmarkBase64Decode(b *testing.B) {
	orig := base64.StdEncoding.AppendEncode(nil, bytes.Repeat([]byte{1, 2, 3, 4}, 256))
	buf := make([]byte, len(orig))
	b.Run("in-place", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(orig)))
		for b.Loop() {
			copy(buf, orig)
			decodeBase64InPlace(buf)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		out := make([]byte, len(orig))
		b.ReportAllocs()
		b.SetBytes(int64(len(orig)))
		for b.Loop() {
			copy(buf, orig)
			base64.StdEncoding.Decode(out, buf)
		}
	})
}

func BenchmarkAppendPacket(b *testing.B) {
	dst := make([]byte, 0, 4096)
	b.Run("text", func(b *testing.B) {
		p := Packet{Type: Message, Data: []byte(`2["chat","hello world"]`)}
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendPacket(dst[:0], p)
		}
	})
	b.Run("b64-1KiB", func(b *testing.B) {
		p := Packet{Type: Message, Data: bytes.Repeat([]byte{1, 2, 3, 4}, 256), Binary: true}
		b.ReportAllocs()
		b.SetBytes(1024)
		for b.Loop() {
			dst = AppendPacket(dst[:0], p)
		}
	})
}

func BenchmarkAppendPayload(b *testing.B) {
	ps := repeat(Packet{Type: Message, Data: []byte(`2["chat","hello world"]`)}, 10)
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		dst = appendPayload(dst[:0], ps...)
	}
}

func BenchmarkAppendOpen(b *testing.B) {
	o := OpenInfo{SID: "0naoYXG4FpKzPYCGAAAA", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendOpen(dst[:0], o)
	}
}

func repeat(p Packet, n int) []Packet {
	ps := make([]Packet, n)
	for i := range ps {
		ps[i] = p
	}
	return ps
}
