package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its results hold together,
// and that every prefix of the input gives ErrNeedMore or the same verdict.
func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		var r Request
		n, err := Parse(&r, b, 0)
		if err != nil {
			var e *Error
			if n != 0 || (err != ErrNeedMore && !errors.As(err, &e)) {
				t.Fatalf("%d, %v", n, err)
			}
		} else {
			if n != r.HeaderLen || n > len(b) || !bytes.HasSuffix(b[:n], []byte("\r\n\r\n")) {
				t.Fatalf("n=%d HeaderLen=%d of %d bytes", n, r.HeaderLen, len(b))
			}
			full := summary(&r)
			var r2 Request
			if n2, err := Parse(&r2, b[:n], n); n2 != n || err != nil || summary(&r2) != full {
				t.Fatalf("head alone, limit %d: %d, %v", n, n2, err)
			}
			if _, err := Parse(&r2, b[:n], n-1); err != ErrHeaderTooLarge {
				t.Fatalf("head alone, limit %d: %v", n-1, err)
			}
		}
		for i := range len(b) {
			var p Request
			pn, perr := Parse(&p, b[:i], 0)
			switch {
			case err == nil && i >= n:
				if pn != n || perr != nil {
					t.Fatalf("prefix %d: %d, %v; whole: %d", i, pn, perr, n)
				}
			case perr != ErrNeedMore && perr != err:
				t.Fatalf("prefix %d: %d, %v; whole: %d, %v", i, pn, perr, n, err)
			}
		}
	})
}

// FuzzParseDifferential compares Parse with net/http.ReadRequest plus the
// checks net/http's server adds (Host rules, HTTP/1.x only, token field
// names). When we accept a head, net/http must accept it, consume as many
// bytes, and agree on method, target, path, query, version, Host,
// Content-Length, keep-alive, upgrade and every header value. When net/http
// refuses a complete head, we must refuse it too.
//
// Deliberate differences, all stricter on our side (see the package doc):
// bare LF, obs-fold, whitespace before a colon, HTTP/1.2-1.9, CONNECT
// authority-form, IP literals and non-http(s) schemes in absolute-form,
// Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, more
// than MaxHeaders lines. Empty lines before the request line, which we skip
// and net/http refuses, are stripped before net/http sees the input.
func FuzzParseDifferential(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.in))
	}
	for _, s := range []string{
		"GET http://h:/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://h/a#b?c HTTP/1.1\r\nHost: %zz\r\n\r\n",
		"GET //a/%2Fb;c?d=%zz HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length:  5\t\r\nConnection: keep-alive\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		n, err := Parse(&r, b, 1<<20)
		lead := 0
		for len(b)-lead >= 2 && b[lead] == '\r' && b[lead+1] == '\n' {
			lead += 2
		}
		req, on, oerr := oracle(b[lead:])
		switch {
		case err == ErrNeedMore:
			// net/http takes a partial last line at EOF for a whole line,
			// so show it only the complete lines: it must want more too.
			lines := b[lead:]
			lines = lines[:bytes.LastIndexByte(lines, '\n')+1]
			if _, _, oerr := oracle(lines); oerr != io.EOF && oerr != io.ErrUnexpectedEOF {
				t.Fatalf("we need more, net/http: %v", oerr)
			}
		case err != nil:
			// Refusing what net/http accepts is allowed (deliberate
			// differences above); nothing to compare.
		case oerr != nil:
			t.Fatalf("we accept %s, net/http refuses: %v", summary(&r), oerr)
		default:
			compare(t, &r, n-lead, req, on)
		}
	})
}

// oracle parses b with net/http and applies the checks of net/http's server
// (server.go readRequest). consumed is the number of bytes of the head.
func oracle(b []byte) (req *http.Request, consumed int, err error) {
	rd := bytes.NewReader(b)
	br := bufio.NewReader(rd)
	req, err = http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	consumed = len(b) - rd.Len() - br.Buffered()
	if req.ProtoMajor != 1 {
		return nil, 0, errors.New("unsupported protocol version")
	}
	// http.ReadRequest deletes Host from req.Header; read the head again the
	// way it does to get the Host lines the server checks.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, 0, err
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, 0, err
	}
	hosts, haveHost := mh["Host"]
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && req.Method != "CONNECT" {
		return nil, 0, errors.New("missing required Host header")
	}
	// httpguts.ValidHostHeader: every byte from this set.
	const hostBytes = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&'()*+,-.:;=[]_~"
	if len(hosts) == 1 {
		for _, c := range []byte(hosts[0]) {
			if strings.IndexByte(hostBytes, c) < 0 {
				return nil, 0, errors.New("malformed Host header")
			}
		}
	}
	for k := range req.Header {
		if strings.ContainsAny(k, " \t") {
			return nil, 0, errors.New("invalid header name")
		}
	}
	return req, consumed, nil
}

func compare(t *testing.T, r *Request, n int, req *http.Request, consumed int) {
	t.Helper()
	fail := func(what string, ours, theirs any) {
		t.Helper()
		t.Fatalf("%s: we %q, net/http %q\n%s", what, ours, theirs, summary(r))
	}
	if n != consumed {
		fail("head length", n, consumed)
	}
	if string(r.Method) != req.Method {
		fail("method", r.Method, req.Method)
	}
	if string(r.URI) != req.RequestURI {
		fail("request-target", r.URI, req.RequestURI)
	}
	if r.Minor != req.ProtoMinor {
		fail("minor version", r.Minor, req.ProtoMinor)
	}
	if string(r.Host) != req.Host {
		fail("host", r.Host, req.Host)
	}
	if r.KeepAlive == req.Close {
		fail("keep-alive", r.KeepAlive, !req.Close)
	}
	switch {
	case r.Chunked:
		if req.ContentLength != -1 || len(req.TransferEncoding) != 1 || req.TransferEncoding[0] != "chunked" {
			fail("chunked", r.Chunked, req.TransferEncoding)
		}
	case r.ContentLength == -1:
		if req.ContentLength != 0 {
			fail("content-length", r.ContentLength, req.ContentLength)
		}
	case r.ContentLength != req.ContentLength:
		fail("content-length", r.ContentLength, req.ContentLength)
	}
	if r.URI[0] == '/' && !bytes.ContainsRune(r.URI, '#') {
		if p, err := url.PathUnescape(string(r.Path)); err != nil || p != req.URL.Path {
			fail("path", r.Path, req.URL.Path)
		}
		if string(r.RawQuery) != req.URL.RawQuery || (r.RawQuery != nil) != (req.URL.RawQuery != "" || req.URL.ForceQuery) {
			fail("query", r.RawQuery, req.URL.RawQuery)
		}
	}
	upgrade := false
	for _, v := range req.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			upgrade = upgrade || strings.EqualFold(strings.Trim(tok, " \t"), "upgrade")
		}
	}
	up := req.Header["Upgrade"]
	upgrade = upgrade && len(up) == 1 && strings.EqualFold(up[0], "websocket")
	if r.Upgrade != upgrade {
		fail("upgrade", r.Upgrade, upgrade)
	}
	for _, h := range []struct {
		name string
		v    []byte
	}{
		{"Origin", r.Origin}, {"Sec-Websocket-Key", r.WSKey}, {"Sec-Websocket-Version", r.WSVersion},
		{"Sec-Websocket-Protocol", r.WSProtocol}, {"Sec-Websocket-Extensions", r.WSExtensions},
		{"Content-Type", r.ContentType}, {"Cookie", r.Cookie}, {"User-Agent", r.UserAgent},
		{"X-Forwarded-For", r.XForwardedFor}, {"Access-Control-Request-Headers", r.AccessControlRequestHeaders},
		{"Authorization", r.Authorization}, {"Accept", r.Accept},
	} {
		vals, ok := req.Header[h.name]
		if (h.v != nil) != ok || ok && string(h.v) != vals[0] {
			fail(h.name, h.v, vals)
		}
	}
	for i := range r.NumHeaders() {
		name, value := r.HeaderAt(i)
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		if key == "Host" || key == "Transfer-Encoding" {
			continue // net/http moves these out of Header
		}
		found := false
		for _, v := range req.Header[key] {
			found = found || v == string(value)
		}
		if !found {
			fail("header "+key, value, req.Header[key])
		}
	}
}
