package http1

import (
	"fmt"
	"strings"
	"testing"
)

// summary renders what Parse found, for table comparisons.
func summary(r *Request) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s path=%s", r.Method, r.URI, r.Path)
	if r.RawQuery != nil {
		fmt.Fprintf(&sb, " query=%q", r.RawQuery)
	}
	fmt.Fprintf(&sb, " 1.%d cl=%d", r.Minor, r.ContentLength)
	for _, b := range []struct {
		name string
		on   bool
	}{{"keep-alive", r.KeepAlive}, {"upgrade", r.Upgrade}, {"chunked", r.Chunked}} {
		if b.on {
			sb.WriteString(" " + b.name)
		}
	}
	for _, f := range []struct {
		name string
		v    []byte
	}{
		{"host", r.Host}, {"origin", r.Origin}, {"key", r.WSKey}, {"version", r.WSVersion},
		{"protocol", r.WSProtocol}, {"extensions", r.WSExtensions}, {"type", r.ContentType},
		{"cookie", r.Cookie}, {"ua", r.UserAgent}, {"xff", r.XForwardedFor},
		{"acrh", r.AccessControlRequestHeaders}, {"auth", r.Authorization}, {"accept", r.Accept},
	} {
		if f.v != nil {
			fmt.Fprintf(&sb, " %s=%q", f.name, f.v)
		}
	}
	fmt.Fprintf(&sb, " headers=%d len=%d", r.NumHeaders(), r.HeaderLen)
	return sb.String()
}

// pollingGET is a realistic Engine.IO long-polling request from a browser.
const pollingGET = "GET /socket.io/?EIO=4&transport=polling&t=Nx1a2b3&sid=0naoYXG4FpKzPYCGAAAA HTTP/1.1\r\n" +
	"Host: chat.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n" +
	"Referer: https://chat.example.com/\r\n" +
	"\r\n"

// wsUpgrade is a realistic WebSocket upgrade request from a browser.
const wsUpgrade = "GET /socket.io/?EIO=4&transport=websocket&sid=0naoYXG4FpKzPYCGAAAA HTTP/1.1\r\n" +
	"Host: chat.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Origin: https://chat.example.com\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Cookie: io=abc; theme=dark\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Upgrade: websocket\r\n" +
	"\r\n"

// manyHeaders returns a request head with n X-N header lines.
func manyHeaders(n int) string {
	var sb strings.Builder
	sb.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := range n - 1 {
		fmt.Fprintf(&sb, "X-%d: %d\r\n", i, i)
	}
	sb.WriteString("\r\n")
	return sb.String()
}

// vectors drive the table test, the chop test and the fuzz seeds. want is the
// summary of an accepted head (len=... is the HeaderLen), err the refusal.
var vectors = []struct {
	in   string
	want string
	err  error
}{
	{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=1 len=27`, nil},
	{pollingGET, `GET /socket.io/?EIO=4&transport=polling&t=Nx1a2b3&sid=0naoYXG4FpKzPYCGAAAA path=/socket.io/ query="EIO=4&transport=polling&t=Nx1a2b3&sid=0naoYXG4FpKzPYCGAAAA" 1.1 cl=-1 keep-alive host="chat.example.com" ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" accept="*/*" headers=7 len=337`, nil},
	{wsUpgrade, `GET /socket.io/?EIO=4&transport=websocket&sid=0naoYXG4FpKzPYCGAAAA path=/socket.io/ query="EIO=4&transport=websocket&sid=0naoYXG4FpKzPYCGAAAA" 1.1 cl=-1 keep-alive upgrade host="chat.example.com" origin="https://chat.example.com" key="dGhlIHNhbXBsZSBub25jZQ==" version="13" extensions="permessage-deflate" cookie="io=abc; theme=dark" ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" accept="*/*" headers=12 len=476`, nil},
	{"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 5\r\n\r\n4hellGET", `POST /socket.io/?EIO=4&transport=polling&sid=x path=/socket.io/ query="EIO=4&transport=polling&sid=x" 1.1 cl=5 keep-alive host="a" type="text/plain;charset=UTF-8" headers=3 len=127`, nil},
	{"GET / HTTP/1.0\r\n\r\n", `GET / path=/ 1.0 cl=-1 headers=0 len=18`, nil},
	{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", `GET / path=/ 1.0 cl=-1 keep-alive headers=1 len=42`, nil},
	{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", `GET / path=/ 1.0 cl=-1 headers=1 len=49`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", `GET / path=/ 1.1 cl=-1 host="a" headers=2 len=46`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: ,UPGRADE ,\r\nUpgrade: WebSocket\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive upgrade host="a" headers=4 len=86`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=4 len=88`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=3 len=62`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=2 len=47`, nil},
	{"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=1 len=31`, nil},
	{"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", `PUT /x path=/x 1.1 cl=3 keep-alive host="a" headers=3 len=66`, nil},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", `POST / path=/ 1.1 cl=-1 keep-alive chunked host="a" headers=2 len=56`, nil},
	{"GET HTTP://Example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", `GET HTTP://Example.com:8080/p?q=1 path=/p query="q=1" 1.1 cl=-1 keep-alive host="Example.com:8080" headers=1 len=59`, nil},
	{"GET https://h?q HTTP/1.1\r\nHost: h\r\n\r\n", `GET https://h?q path= query="q" 1.1 cl=-1 keep-alive host="h" headers=1 len=37`, nil},
	{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", `OPTIONS * path=* 1.1 cl=-1 keep-alive host="a" headers=1 len=31`, nil},
	{"GET /a?x=1#f HTTP/1.1\r\nHost: a\r\n\r\n", `GET /a?x=1#f path=/a query="x=1" 1.1 cl=-1 keep-alive host="a" headers=1 len=34`, nil},
	{"GET /a#f?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", `GET /a#f?x=1 path=/a 1.1 cl=-1 keep-alive host="a" headers=1 len=34`, nil},
	{"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", `GET /a? path=/a query="" 1.1 cl=-1 keep-alive host="a" headers=1 len=29`, nil},
	{"GET /%C3%A9?%zz HTTP/1.1\r\nHost: a\r\n\r\n", `GET /%C3%A9?%zz path=/%C3%A9 query="%zz" 1.1 cl=-1 keep-alive host="a" headers=1 len=37`, nil},
	{"GET /é HTTP/1.1\r\nHost: a\r\n\r\n", `GET /é path=/é 1.1 cl=-1 keep-alive host="a" headers=1 len=29`, nil},
	{"GET / HTTP/1.1\r\nhOsT:   a:80 \t\r\nORIGIN:\r\nX-Empty:\r\nX-Obs: caf\xe9\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a:80" origin="" headers=4 len=66`, nil},
	{"GET / HTTP/1.1\r\nHost:\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="" headers=1 len=25`, nil},
	{"GET / HTTP/1.1\r\nHost: [::1]:8080\r\nOrigin: a\r\nOrigin: b\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="[::1]:8080" origin="a" headers=3 len=58`, nil},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", `POST / path=/ 1.1 cl=9223372036854775807 keep-alive host="a" headers=2 len=65`, nil},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  007 \r\n\r\n", `POST / path=/ 1.1 cl=7 keep-alive host="a" headers=2 len=51`, nil},
	{"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol: chat\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nAccess-Control-Request-Headers: content-type\r\nAuthorization: Bearer t\r\n\r\n", `GET / path=/ 1.1 cl=-1 keep-alive host="a" protocol="chat" xff="10.0.0.1, 10.0.0.2" acrh="content-type" auth="Bearer t" headers=5 len=165`, nil},
	{"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", `GET /a path=/a 1.1 cl=-1 keep-alive host="a" headers=1 len=28`, nil},
	{manyHeaders(MaxHeaders), `GET / path=/ 1.1 cl=-1 keep-alive host="a" headers=64 len=637`, nil},

	{"GET / HTTP/1.1\nHost: a\n\n", "", ErrBareLF},
	{"GET / HTTP/1.1\r\nHost: a\n\r\n", "", ErrBareLF},
	{"GET / HTTP/1.1\r\nHost: a\r\n\n", "", ErrBareLF},
	{"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"\r\r\nGET / HTTP/1.1\r\n\r\n", "", ErrBadMethod},
	{" GET / HTTP/1.1\r\n\r\n", "", ErrBadMethod},
	{"G(T / HTTP/1.1\r\n\r\n", "", ErrBadMethod},
	{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "", ErrBadMethod},
	{"GET\r\n\r\n", "", ErrBadRequestLine},
	{"GET /\r\n\r\n", "", ErrBadRequestLine},
	{"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"GET / http/1.1\r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"GET / HTTP/1.10\r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"GET / HTTP/1\r\nHost: a\r\n\r\n", "", ErrBadRequestLine},
	{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "", ErrVersion},
	{"GET / HTTP/1.2\r\nHost: a\r\n\r\n", "", ErrVersion},
	{"GET / HTTP/0.9\r\n\r\n", "", ErrVersion},
	{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "", ErrVersion},
	{"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /\t HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /a%?x HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET /a#%x HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"GET foo HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget},
	{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "", ErrBadTarget},
	{"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http://[::1]/ HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http://h%41/ HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET http://h#x?y HTTP/1.1\r\nHost: h\r\n\r\n", "", ErrBadTarget},
	{"GET / HTTP/1.1\r\n\r\n", "", ErrMissingHost},
	{"GET http://h/ HTTP/1.1\r\n\r\n", "", ErrMissingHost},
	{"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "", ErrDuplicateHost},
	{"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "", ErrDuplicateHost},
	{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "", ErrBadHost},
	{"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n", "", ErrBadHost},
	{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "", ErrBadHost},
	{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n", "", ErrObsFold},
	{"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "", ErrObsFold},
	{"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", "", ErrObsFold},
	{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "", ErrBadHeaderName},
	{"GET / HTTP/1.1\r\n: a\r\n\r\n", "", ErrBadHeaderName},
	{"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", "", ErrBadHeaderName},
	{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "", ErrBadHeaderName},
	{"GET / HTTP/1.1\r\nX\xe9: a\r\n\r\n", "", ErrBadHeaderName},
	{"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", "", ErrBadHeaderValue},
	{"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", "", ErrBadHeaderValue},
	{"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "", ErrBadHeaderValue},
	{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "", ErrBadHeaderValue},
	{"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", "", ErrBadHeaderValue},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", "", ErrBadContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "", ErrDuplicateContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", "", ErrDuplicateContentLength},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "", ErrLengthAndChunked},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "", ErrLengthAndChunked},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "", ErrBadTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "", ErrUnsupportedTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", "", ErrUnsupportedTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", "", ErrUnsupportedTransferEncoding},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n", "", ErrUnsupportedTransferEncoding},
	{manyHeaders(MaxHeaders + 1), "", ErrTooManyHeaders},
}

func TestParse(t *testing.T) {
	for _, v := range vectors {
		var r Request
		n, err := Parse(&r, []byte(v.in), 0)
		if err != v.err {
			t.Errorf("Parse(%q): err %v, want %v", v.in, err, v.err)
			continue
		}
		if err != nil {
			if n != 0 {
				t.Errorf("Parse(%q): consumed %d with an error", v.in, n)
			}
			continue
		}
		if got := summary(&r); got != v.want || n != r.HeaderLen {
			t.Errorf("Parse(%q):\n got %s (n=%d)\nwant %s", v.in, got, n, v.want)
		}
	}
}

// TestParseChop feeds every prefix of every vector: ErrNeedMore with nothing
// consumed until the head is complete (or the error of the whole input, for a
// refused one), then the one-shot result.
func TestParseChop(t *testing.T) {
	for _, v := range vectors {
		in := []byte(v.in)
		var r Request
		hl, fullErr := Parse(&r, in, 0)
		full := summary(&r)
		for i := range len(in) + 1 {
			n, err := Parse(&r, in[:i], 0)
			switch {
			case fullErr != nil:
				if n != 0 || (err != ErrNeedMore && err != fullErr) {
					t.Errorf("%q prefix %d: %d, %v; whole input: %v", v.in, i, n, err, fullErr)
				}
			case i < hl:
				if err != ErrNeedMore || n != 0 {
					t.Errorf("%q prefix %d: %d, %v; want ErrNeedMore", v.in, i, n, err)
				}
			default:
				if got := summary(&r); err != nil || n != hl || got != full {
					t.Errorf("%q prefix %d: %v\n got %s\nwant %s", v.in, i, err, got, full)
				}
			}
		}
	}
}

func TestParseLimit(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n") // 27 bytes
	f := func(b []byte, limit, wantN int, wantErr error) {
		t.Helper()
		var r Request
		if n, err := Parse(&r, b, limit); n != wantN || err != wantErr {
			t.Errorf("Parse(%q, %d) = %d, %v; want %d, %v", b, limit, n, err, wantN, wantErr)
		}
	}
	f(in, 27, 27, nil)
	f(in, 26, 0, ErrHeaderTooLarge)
	f(in[:20], 27, 0, ErrNeedMore)
	f(in[:20], 20, 0, ErrHeaderTooLarge)
	f(append(in, "GET"...), 27, 27, nil)
	f(in, -1, 27, nil)
	big := []byte("GET /" + strings.Repeat("a", DefaultMaxHeader))
	f(big, 0, 0, ErrHeaderTooLarge)
	f(big[:DefaultMaxHeader-1], 0, 0, ErrNeedMore)
	f(big, DefaultMaxHeader*2, 0, ErrNeedMore)
	f([]byte(strings.Repeat("\r\n", 100)), 200, 0, ErrHeaderTooLarge)
	f([]byte(strings.Repeat("\r\n", 100)), 0, 0, ErrNeedMore)
	f([]byte("\r"), 0, 0, ErrNeedMore)
	f(nil, 0, 0, ErrNeedMore)
	// A malformed line inside the limit is reported as such, even when the
	// buffer is already over the limit.
	f([]byte("GET / HTTP/1.1\r\nHost a\r\n"+strings.Repeat("x", 100)), 50, 0, ErrBadHeaderName)
}

func TestHeaders(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nx-multi:  2 \r\nEmpty:\r\n\r\n")
	var r Request
	if _, err := Parse(&r, in, 0); err != nil {
		t.Fatal(err)
	}
	var got []string
	r.Headers(func(name, value []byte) { got = append(got, string(name)+"="+string(value)) })
	if want := "Host=a X-Multi=1 x-multi=2 Empty="; strings.Join(got, " ") != want {
		t.Errorf("Headers: %q, want %q", got, want)
	}
	if v, ok := r.Header("X-MULTI"); !ok || string(v) != "1" {
		t.Errorf("Header(X-MULTI) = %q, %v", v, ok)
	}
	if v, ok := r.Header("empty"); !ok || v == nil || len(v) != 0 {
		t.Errorf("Header(empty) = %q, %v", v, ok)
	}
	if v, ok := r.Header("Missing"); ok || v != nil {
		t.Errorf("Header(Missing) = %q, %v", v, ok)
	}
	if n, v := r.HeaderAt(4); n != nil || v != nil {
		t.Errorf("HeaderAt(4) = %q, %q", n, v)
	}
	if n, v := r.HeaderAt(-1); n != nil || v != nil {
		t.Errorf("HeaderAt(-1) = %q, %q", n, v)
	}
	// Appending to a returned slice must not overwrite the input.
	n, _ := r.HeaderAt(0)
	_ = append(n, 'X')
	if string(in[16:20]) != "Host" || r.Host[0] != 'a' {
		t.Errorf("input modified: %q", in)
	}
}

func TestError(t *testing.T) {
	if got := ErrBadMethod.Error(); got != "http1: invalid method" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Status: 400, Reason: "custom"}).Error(); got != "http1: custom" {
		t.Errorf("Error() = %q", got)
	}
	if got := string(ErrHeaderTooLarge.AppendResponse(nil)); got != "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n" {
		t.Errorf("AppendResponse = %q", got)
	}
	for _, v := range vectors {
		if v.err == nil {
			continue
		}
		e, ok := v.err.(*Error)
		if !ok || e.Status < 400 || e.Status > 505 || StatusText(e.Status) == "" || !strings.HasPrefix(e.Error(), "http1: ") {
			t.Errorf("%v: not a proper *Error", v.err)
		}
	}
}
