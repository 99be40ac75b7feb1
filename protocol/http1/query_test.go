package http1

import (
	"net/http"
	"strconv"
	"testing"
)

func TestQueryValue(t *testing.T) {
	q := []byte("EIO=4&transport=polling&t=Nx1&sid=ab%2Bc&empty=&bare&EIO=3&a=b=c")
	f := func(key, want string, wantOK bool) {
		t.Helper()
		v, ok := QueryValue(q, key)
		if string(v) != want || ok != wantOK || (ok && v == nil) {
			t.Errorf("QueryValue(%q) = %q, %v; want %q, %v", key, v, ok, want, wantOK)
		}
	}
	f("EIO", "4", true)
	f("transport", "polling", true)
	f("t", "Nx1", true)
	f("sid", "ab%2Bc", true)
	f("empty", "", true)
	f("bare", "", true)
	f("a", "b=c", true)
	f("missing", "", false)
	f("ei", "", false)
	f("", "", false)
	if v, ok := QueryValue(nil, "EIO"); ok || v != nil {
		t.Errorf("QueryValue(nil) = %q, %v", v, ok)
	}
	if v, ok := QueryValue([]byte("&&x=1&"), "x"); !ok || string(v) != "1" {
		t.Errorf("QueryValue(&&x=1&) = %q, %v", v, ok)
	}
}

func TestStatus(t *testing.T) {
	for _, code := range []int{101, 200, 204, 400, 403, 404, 405, 408, 411, 413, 415, 426, 429, 431, 500, 501, 503, 505} {
		text := StatusText(code)
		// Node's names equal Go's, except that Go follows RFC 9110's renames.
		want := http.StatusText(code)
		if code == 413 {
			want = "Payload Too Large"
		}
		if text != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, text, want)
		}
		if got := string(AppendStatusLine([]byte("x"), code)); got != "xHTTP/1.1 "+strconv.Itoa(code)+" "+text+"\r\n" {
			t.Errorf("AppendStatusLine(%d) = %q", code, got)
		}
	}
	if StatusText(599) != "" || string(AppendStatusLine(nil, 599)) != "HTTP/1.1 599 \r\n" {
		t.Error("unknown status")
	}
}
