//go:build !race

package main

import "testing"

// The per-message work of a worker allocates nothing: decode a frame, parse
// the packet, account for it, build and mask the next message.
func TestAllocs(t *testing.T) {
	frame := AppendFrame(nil, opText, AppendEcho(nil, "/", 7, 1764250000123456789, "xxxxxxxx"), false, 0)
	buf := make([]byte, 0, 256)
	pkt := make([]byte, 0, 256)
	var h Histogram
	var tr SeqTracker
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %g allocs, want 0", name, n)
		}
	}
	f("ParseFrame", func() { ParseFrame(frame) })
	f("receive path", func() {
		fr, _, _ := ParseFrame(frame)
		p, _ := ParseSIOPacket(fr.Payload[1:])
		_, args, _ := ParseEventData(p.Data)
		seq, _ := FindUint(args, `"seq":`)
		ts, _ := FindUint(args, `"ts":`)
		tr.Observe(seq)
		h.Record(int64(ts) / 1e9)
	})
	f("send path", func() {
		pkt = AppendEcho(pkt[:0], "/", 12345, 1764250000123456789, "xxxxxxxx")
		buf = AppendFrame(buf[:0], opText, pkt, true, 0x12345678)
	})
	f("AppendBroadcastBody", func() { pkt = AppendBroadcastBody(pkt[:0], "bench", "/", 1, 2, "xx", -1) })
}
