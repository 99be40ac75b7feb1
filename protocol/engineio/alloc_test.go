//go:build !race

package engineio

import "testing"

// The hot-path calls must not allocate: decoding aliases the input, encoding
// appends into a buffer that already has room.

func checkAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, fn); n != 0 {
		t.Errorf("%s: %v allocs/op; want 0", name, n)
	}
}

func TestAllocsDecode(t *testing.T) {
	frame := []byte(`42["chat","hello"]`)
	checkAllocs(t, "ParsePacket", func() {
		if _, err := parsePacket(frame); err != nil {
			t.Fatal(err)
		}
	})

	const body = "4hello\x1e2\x1e4€\x1ebAQIDBA==\x1e" + `42["chat","hello"]`
	buf := make([]byte, len(body))
	checkAllocs(t, "NextPayloadPacket walk with base64", func() {
		copy(buf, body) // base64 decoding overwrote the previous round
		n := 0
		for rest := buf; rest != nil; n++ {
			var err error
			if _, rest, err = NextPayloadPacket(rest); err != nil {
				t.Fatal(err)
			}
		}
		if n != 5 {
			t.Fatalf("walked %d packets", n)
		}
	})

	const frameB64 = "bAQIDBAUGBwgJCgsMDQ4PEA=="
	fbuf := make([]byte, len(frameB64))
	checkAllocs(t, "ParsePacketInPlace base64", func() {
		copy(fbuf, frameB64)
		if _, err := ParsePacketInPlace(fbuf); err != nil {
			t.Fatal(err)
		}
	})
	checkAllocs(t, "NextPayloadPacket error", func() {
		if _, _, err := NextPayloadPacket(nil); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestAllocsEncode(t *testing.T) {
	dst := make([]byte, 0, 512)
	text := Packet{Type: Message, Data: []byte(`2["chat","hello"]`)}
	binary := Packet{Type: Message, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, Binary: true}
	checkAllocs(t, "AppendPacket text", func() { dst = AppendPacket(dst[:0], text) })
	checkAllocs(t, "AppendPacket binary", func() { dst = AppendPacket(dst[:0], binary) })
	ps := []Packet{text, {Type: Ping}, binary}
	checkAllocs(t, "AppendPayload", func() { dst = appendPayload(dst[:0], ps...) })
	checkAllocs(t, "AppendPayloadPacket", func() {
		dst = dst[:0]
		for i, p := range ps {
			dst = AppendPayloadPacket(dst, i == 0, p)
		}
	})
	o := OpenInfo{SID: "0naoYXG4FpKzPYCGAAAA", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}
	checkAllocs(t, "AppendOpen", func() { dst = AppendOpen(dst[:0], o) })
}
