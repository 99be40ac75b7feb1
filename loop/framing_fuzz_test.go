package loop

import (
	"bytes"
	"testing"
)

// FuzzHTTPFraming feeds arbitrary bytes to a client connection, in one
// piece and split at an arbitrary point, and checks that serving them never
// panics (the reactor's recover would hide it: the Panics counter must stay
// 0) and that the answers do not depend on how the bytes were split: where
// a request ends and its body begins is decided by the bytes alone.
func FuzzHTTPFraming(f *testing.F) {
	for _, seed := range []string{
		"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n",
		"POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: 61\r\n\r\nGET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n4hiGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /engine.io/?EIO=4&transport=bogus HTTP/1.1\r\nHost: h\r\n\r\nGET /engine.io/?EIO=4&transport=bogus HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(seed), uint16(len(seed)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole := serveBytes(t, data, len(data))
		parts := serveBytes(t, data, int(split)%(len(data)+1))
		if !bytes.Equal(whole, parts) {
			t.Fatalf("answers depend on the split at %d:\nwhole: %q\nsplit: %q", int(split)%(len(data)+1), whole, parts)
		}
	})
}

// serveBytes serves data on a fresh in-memory connection in two reads,
// split at split, and returns the status codes answered, in order.
func serveBytes(t *testing.T, data []byte, split int) []byte {
	srv, r := testReactor(Config{MaxPayload: 1000})
	srv.Handle("/engine.io/", EchoHandler{})
	c := &memConn{keep: true}
	cs := &connState{r: r}
	c.ctx = cs
	for _, part := range [][]byte{data[:split], data[split:]} {
		if cs.closed {
			break
		}
		c.in = append(c.in, part...)
		if srv.OnTraffic(c) != 0 {
			break // gnet would close the connection
		}
	}
	if n := srv.stats.Panics.Load(); n != 0 {
		t.Fatalf("%d panics serving %q", n, data)
	}
	return statusCodes(c.out)
}

// statusCodes lists the three-digit codes of the HTTP status lines in out.
func statusCodes(out []byte) []byte {
	var codes []byte
	for {
		i := bytes.Index(out, []byte("HTTP/1.1 "))
		if i < 0 || len(out) < i+12 {
			return codes
		}
		codes = append(codes, out[i+9:i+12]...)
		out = out[i+12:]
	}
}
