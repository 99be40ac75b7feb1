package api

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws/wsutil"
)

func BenchmarkParseSend(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"channel", `{"channel":"news","payload":{"id":12345,"title":"Breaking","tags":["a","b","c"],"body":"` + strings.Repeat("lorem ipsum ", 20) + `"}}`},
		{"channels", `{"channels":["a","b","c","d"],"payload":[1,2,3,4],"rooms":["r1","r2"],"volatile":true}`},
		{"event", `{"event":"broadcast","data":{"msg":"hello"},"namespace":"/chat","except":"x"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parseSend(body, DefaultMaxNameBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSend is one POST /SendWebsocketEvent on the admin port,
// delivered to 100 WebSocket clients of the running service, each drained
// by its own goroutine: the HTTP exchange, parsing and the broadcast.
func BenchmarkSend(b *testing.B) {
	ts := startService(b)
	const clients = 100
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		c := dialSIO(b, ts, "/")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := wsutil.ReadServerText(c.rw); err != nil {
					return
				}
			}
		}()
	}
	body := `{"channel":"news","payload":{"id":1,"text":"` + strings.Repeat("x", 100) + `"}}`
	b.ReportAllocs()
	for b.Loop() {
		r := post(b, ts.admin, body)
		if !strings.Contains(string(r.body), `"recipients":`+strconv.Itoa(clients)) {
			b.Fatalf("answer %d %s", r.status, r.body)
		}
	}
	b.StopTimer()
	ts.stop()
	wg.Wait()
}
