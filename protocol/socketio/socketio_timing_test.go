package socketio

import (
	"encoding/json"
	"testing"
)

// benchEventData is the payload of benchEvent (see alloc_test.go, which
// does not build with -race; the benchmarks do).
var benchEventData = []byte(`["message",{"user":"alice","room":"general","text":"hello world, how is everyone?","ts":1700000000}]`)

func BenchmarkParseEvent(b *testing.B) {
	in := append([]byte("2"), benchEventData...)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSplitEvent(b *testing.B) {
	in := append([]byte("2/chat,17"), benchEventData...)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		h, _ := Parse(in)
		if _, _, err := SplitEvent(h.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBinaryCheckPlaceholders(b *testing.B) {
	in := []byte(`51-/upload,["file",{"name":"a.png","data":{"_placeholder":true,"num":0}}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		h, _ := Parse(in)
		if err := CheckPlaceholders(h.Data, h.Attachments); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckJSON and BenchmarkEncodingJSONValid back the choice of a
// hand-written validator over encoding/json.Valid (json.go).
func BenchmarkCheckJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEventData)))
	for b.Loop() {
		_ = checkJSON(benchEventData)
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEventData)))
	for b.Loop() {
		_ = json.Valid(benchEventData)
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	args := benchEventData[len(`["message",`) : len(benchEventData)-1]
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], nil, 0, false, 0, []byte("message"), args)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendAck(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendAck(buf[:0], []byte("/admin"), 0, 123456, []byte(`"ok",{"n":1}`))
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := []byte(`hello world, "how" is everyone? <b>ça va</b>` + "\n")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendJSONString(buf[:0], s)
	}
}
