package http1

import "testing"

func benchmarkParse(b *testing.B, in string) {
	buf := []byte(in)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(&r, buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the request heads the server sees most: an Engine.IO
// long-polling GET from a browser (~340 bytes) and a WebSocket upgrade.
func BenchmarkParse(b *testing.B) {
	b.Run("polling", func(b *testing.B) { benchmarkParse(b, pollingGET) })
	b.Run("upgrade", func(b *testing.B) { benchmarkParse(b, wsUpgrade) })
}

// BenchmarkParsePartial measures a call on an incomplete head (a slow
// client): Parse scans again from the start each time.
func BenchmarkParsePartial(b *testing.B) {
	buf := []byte(wsUpgrade[:len(wsUpgrade)-3])
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(&r, buf, 0); err != ErrNeedMore {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueryValue(b *testing.B) {
	q := []byte("EIO=4&transport=polling&t=Nx1a2b3&sid=0naoYXG4FpKzPYCGAAAA")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := QueryValue(q, "sid"); !ok {
			b.Fatal("no sid")
		}
	}
}
