package main

import (
	"strings"
	"testing"
)

func BenchmarkParseFrame(b *testing.B) {
	frame := AppendFrame(nil, opText, AppendEcho(nil, "/", 7, 1764250000123456789, ""), false, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		ParseFrame(frame)
	}
}

// BenchmarkReceive is the whole per-message receive path of an echo reply.
func BenchmarkReceive(b *testing.B) {
	frame := AppendFrame(nil, opText, AppendEcho(nil, "/", 7, 1764250000123456789, ""), false, 0)
	var h Histogram
	var tr SeqTracker
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		fr, _, _ := ParseFrame(frame)
		p, _ := ParseSIOPacket(fr.Payload[1:])
		_, args, _ := ParseEventData(p.Data)
		FindUint(args, `"seq":`)
		ts, _ := FindUint(args, `"ts":`)
		seq++
		tr.Observe(seq)
		h.Record(int64(ts % 1e6))
	}
}

// BenchmarkSend builds and masks one echo message.
func BenchmarkSend(b *testing.B) {
	buf := make([]byte, 0, 256)
	pkt := make([]byte, 0, 256)
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		pkt = AppendEcho(pkt[:0], "/", seq, 1764250000123456789, "")
		buf = AppendFrame(buf[:0], opText, pkt, true, uint32(seq))
	}
}

func BenchmarkMaskBytes1K(b *testing.B) {
	p := []byte(strings.Repeat("x", 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		MaskBytes(0xA1B2C3D4, p, 0)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	v := int64(0)
	for b.Loop() {
		v += 7919
		h.Record(v % 50_000_000)
	}
}

func BenchmarkHistogramRecordParallel(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := int64(0)
		for pb.Next() {
			v += 7919
			h.Record(v % 50_000_000)
		}
	})
}

func BenchmarkQuantile(b *testing.B) {
	var h Histogram
	for v := int64(0); v < 1e6; v++ {
		h.Record(v * 997 % 50_000_000)
	}
	d := h.Snapshot(nil)
	b.ReportAllocs()
	for b.Loop() {
		d.Quantile(0.99)
	}
}

func BenchmarkSeqTrackerObserve(b *testing.B) {
	var tr SeqTracker
	b.ReportAllocs()
	s := uint64(0)
	for b.Loop() {
		s++
		tr.Observe(s)
	}
}
