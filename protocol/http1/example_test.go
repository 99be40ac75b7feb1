package http1_test

import (
	"fmt"

	"sioloop/protocol/http1"
)

// The loop's read path: parse the head from the peeked bytes, then read the
// body after it.
func ExampleParse() {
	in := []byte("POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\n" +
		"Host: example.com\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 7\r\n\r\n" +
		"4hello\x1e")
	var r http1.Request
	if _, err := http1.Parse(&r, in[:40], 0); err == http1.ErrNeedMore {
		fmt.Println("need more")
	}
	n, err := http1.Parse(&r, in, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	sid, _ := http1.QueryValue(r.RawQuery, "sid")
	body := in[n : n+int(r.ContentLength)]
	fmt.Printf("%s %s sid=%s host=%s keep-alive=%v body=%q\n", r.Method, r.Path, sid, r.Host, r.KeepAlive, body)
	// Output:
	// need more
	// POST /socket.io/ sid=abc host=example.com keep-alive=true body="4hello\x1e"
}

// A malformed request is answered with the status its error carries.
func ExampleError() {
	var r http1.Request
	_, err := http1.Parse(&r, []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n"), 0)
	if e, ok := err.(*http1.Error); ok {
		fmt.Println(e.Status, e.Reason)
		fmt.Printf("%q\n", e.AppendResponse(nil))
	}
	// Output:
	// 400 obsolete line folding
	// "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
}

func ExampleAppendStatusLine() {
	fmt.Printf("%q\n", http1.AppendStatusLine(nil, 200))
	// Output: "HTTP/1.1 200 OK\r\n"
}
