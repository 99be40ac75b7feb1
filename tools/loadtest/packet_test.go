package main

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestAppendAcceptKey(t *testing.T) {
	// RFC 6455 §1.3 sample handshake.
	got := string(AppendAcceptKey(nil, []byte("dGhlIHNhbXBsZSBub25jZQ==")))
	if got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AppendAcceptKey = %q, want s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", got)
	}
}

func TestAppendUpgradeRequest(t *testing.T) {
	got := string(AppendUpgradeRequest(nil, "127.0.0.1:3000", "/socket.io/", []byte("dGhlIHNhbXBsZSBub25jZQ==")))
	want := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if got != want {
		t.Fatalf("AppendUpgradeRequest =\n%q\nwant\n%q", got, want)
	}
}

const switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n"

func TestParseUpgradeResponse(t *testing.T) {
	f := func(in string, status int, accept string, n int, want error) {
		t.Helper()
		r, gotN, err := ParseUpgradeResponse([]byte(in))
		if !errors.Is(err, want) || gotN != n || r.Status != status || string(r.Accept) != accept {
			t.Errorf("%.40q: status %d accept %q n %d err %v; want %d %q %d %v", in, r.Status, r.Accept, gotN, err, status, accept, n, want)
		}
	}
	f(switching+"\x81\x012", 101, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", len(switching), nil)
	f("HTTP/1.1 400 Bad Request\r\nContent-Length: 18\r\n\r\nSession ID unknown", 400, "", 48, nil)
	f("HTTP/1.0 101\r\n\r\n", 101, "", 16, nil)
	f("HTTP/1.1 101 Switching", 0, "", 0, ErrNeedMore)
	f("HTTP/2 101 x\r\n\r\n", 0, "", 0, ErrBadStatusLine)
	f("HTTP/1.1 1o1 x\r\n\r\n", 0, "", 0, ErrBadStatusLine)
	f("HTTP/1.1 1011 x\r\n\r\n", 0, "", 0, ErrBadStatusLine)
	f(strings.Repeat("x", MaxResponseHead+1), 0, "", 0, ErrHeadTooLarge)
}

func TestParseUpgradeResponseChop(t *testing.T) {
	want, wantN, _ := ParseUpgradeResponse([]byte(switching))
	for i := range len(switching) {
		if _, n, err := ParseUpgradeResponse([]byte(switching[:i])); err != ErrNeedMore || n != 0 {
			t.Fatalf("prefix %d: n %d err %v, want ErrNeedMore", i, n, err)
		}
	}
	got, n, err := ParseUpgradeResponse([]byte(switching))
	if err != nil || n != wantN || got.Status != want.Status || string(got.Accept) != string(want.Accept) {
		t.Fatalf("whole: %+v %d %v", got, n, err)
	}
}

func TestCheckUpgrade(t *testing.T) {
	acc := []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
	if err := CheckUpgrade(UpgradeResponse{101, acc}, acc); err != nil {
		t.Errorf("good upgrade: %v", err)
	}
	if err := CheckUpgrade(UpgradeResponse{400, nil}, acc); !errors.Is(err, ErrUpgradeRefused) || !strings.Contains(err.Error(), "400") {
		t.Errorf("400: %v, want ErrUpgradeRefused with the status", err)
	}
	if err := CheckUpgrade(UpgradeResponse{101, []byte("nope")}, acc); err != ErrBadAccept {
		t.Errorf("bad accept: %v, want ErrBadAccept", err)
	}
	if err := CheckUpgrade(UpgradeResponse{101, nil}, acc); err != ErrBadAccept {
		t.Errorf("missing accept: %v, want ErrBadAccept", err)
	}
}

// sioVectors are Socket.IO packets from socket.io-protocol v5 and Node's output.
var sioVectors = []struct {
	in    string
	typ   byte
	att   int
	nsp   string
	id    int64
	data  string
	valid bool
}{
	{`0`, '0', 0, "/", -1, ``, true},
	{`0{"sid":"lv_VI97HAXpY6yYWAAAC"}`, '0', 0, "/", -1, `{"sid":"lv_VI97HAXpY6yYWAAAC"}`, true},
	{`0/admin,{"sid":"x"}`, '0', 0, "/admin", -1, `{"sid":"x"}`, true},
	{`41/admin`, '1', 0, "/admin", -1, ``, false}, // type '4' then "1/admin": see below
	{`1/admin,`, '1', 0, "/admin", -1, ``, true},
	{`1/admin`, '1', 0, "/admin", -1, ``, true},
	{`2["foo"]`, '2', 0, "/", -1, `["foo"]`, true},
	{`2/admin,13["bar"]`, '2', 0, "/admin", 13, `["bar"]`, true},
	{`312["bar"]`, '3', 0, "/", 12, `["bar"]`, true},
	{`4{"message":"Not authorized"}`, '4', 0, "/", -1, `{"message":"Not authorized"}`, true},
	{`51-["baz",{"_placeholder":true,"num":0}]`, '5', 1, "/", -1, `["baz",{"_placeholder":true,"num":0}]`, true},
	{`61-/admin,12[{"_placeholder":true,"num":0}]`, '6', 1, "/admin", 12, `[{"_placeholder":true,"num":0}]`, true},
	{``, 0, 0, "", 0, ``, false},
	{`7`, 0, 0, "", 0, ``, false},
	{`5["x"]`, 0, 0, "", 0, ``, false},
	{`599999999-[]`, 0, 0, "", 0, ``, false},
	{`299999999999999999999["x"]`, 0, 0, "", 0, ``, false},
}

func TestParseSIOPacket(t *testing.T) {
	for _, v := range sioVectors {
		if v.in == `41/admin` {
			continue // an Engine.IO message, not a Socket.IO packet: covered by "1/admin"
		}
		p, err := ParseSIOPacket([]byte(v.in))
		if !v.valid {
			if err == nil {
				t.Errorf("%q: no error, want one", v.in)
			}
			continue
		}
		if err != nil || p.Type != v.typ || p.Attachments != v.att || string(p.Nsp) != v.nsp || p.ID != v.id || string(p.Data) != v.data {
			t.Errorf("%q: %c %d %q %d %q %v; want %c %d %q %d %q", v.in, p.Type, p.Attachments, p.Nsp, p.ID, p.Data, err, v.typ, v.att, v.nsp, v.id, v.data)
		}
	}
}

func TestParseEventData(t *testing.T) {
	f := func(in, name, args string, ok bool) {
		t.Helper()
		n, a, err := ParseEventData([]byte(in))
		if (err == nil) != ok || string(n) != name || string(a) != args {
			t.Errorf("%q: %q %q %v; want %q %q ok=%v", in, n, a, err, name, args, ok)
		}
	}
	f(`["message",{"seq":1}]`, "message", `,{"seq":1}`, true)
	f(`["bench"]`, "bench", ``, true)
	f(`["a\"b",1]`, `a\"b`, `,1`, true)
	f(`["x"`, "", "", false)
	f(`[1,2]`, "", "", false)
	f(`{"a":1}`, "", "", false)
	f(`["unterminated]`, "", "", false)
}

func TestFindUint(t *testing.T) {
	f := func(in, key string, want uint64, ok bool) {
		t.Helper()
		v, gotOK := FindUint([]byte(in), key)
		if v != want || gotOK != ok {
			t.Errorf("FindUint(%q, %q) = %d %v, want %d %v", in, key, v, gotOK, want, ok)
		}
	}
	f(`,{"seq":42,"ts":1764250000123456789,"pad":""}`, `"seq":`, 42, true)
	f(`,{"seq":42,"ts":1764250000123456789,"pad":""}`, `"ts":`, 1764250000123456789, true)
	f(`,{"payload":{"pad":"xx","seq":7,"ts":9}}`, `"seq":`, 7, true) // sorted keys (zishang)
	f(`,{"seq": 3}`, `"seq":`, 3, true)
	f(`,{"seq":"3"}`, `"seq":`, 0, false)
	f(`,{"sequence":3}`, `"seq":`, 0, false)
	f(`,{"ts":99999999999999999999}`, `"ts":`, 0, false)
}

func TestParseDigits(t *testing.T) {
	for _, s := range []string{"0", "7", "42", "9007199254740993", "9223372036854775807", "9223372036854775808", "99999999999999999999", "", "x1"} {
		v, n, ok := parseDigits([]byte(s + ","))
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil
		if ok != wantOK || (ok && (v != uint64(want) || n != len(s))) {
			t.Errorf("parseDigits(%q) = %d %d %v; strconv says %d %v", s, v, n, ok, want, err)
		}
	}
}

func TestAppendConnect(t *testing.T) {
	f := func(nsp, auth, want string) {
		t.Helper()
		if got := string(AppendConnect(nil, nsp, []byte(auth))); got != want {
			t.Errorf("AppendConnect(%q, %q) = %q, want %q", nsp, auth, got, want)
		}
	}
	f("/", "", "40")
	f("/", `{"token":"abc"}`, `40{"token":"abc"}`)
	f("/chat", "", "40/chat,")
	f("/chat", `{"token":"abc"}`, `40/chat,{"token":"abc"}`)
}

func TestAppendEchoRoundTrip(t *testing.T) {
	for _, nsp := range []string{"/", "/chat"} {
		b := AppendEcho(nil, nsp, 12345, math.MaxInt64, "xxxx")
		if b[0] != eioMessage {
			t.Fatalf("%s: %q does not start with an Engine.IO message", nsp, b)
		}
		p, err := ParseSIOPacket(b[1:])
		if err != nil || p.Type != sioEvent || string(p.Nsp) != nsp || !json.Valid(p.Data) {
			t.Fatalf("%s: %q: %+v %v", nsp, b, p, err)
		}
		name, args, err := ParseEventData(p.Data)
		seq, _ := FindUint(args, `"seq":`)
		ts, _ := FindUint(args, `"ts":`)
		if err != nil || string(name) != "message" || seq != 12345 || ts != math.MaxInt64 {
			t.Fatalf("%s: %q: name %q seq %d ts %d %v", nsp, b, name, seq, ts, err)
		}
	}
}

func TestAppendBroadcastBody(t *testing.T) {
	b := AppendBroadcastBody(nil, "bench", "/", 3, 17, "xx", -1)
	if string(b) != `{"channel":"bench","payload":{"seq":3,"ts":17,"pad":"xx"}}` {
		t.Fatalf("body = %s", b)
	}
	b = AppendBroadcastBody(nil, "bench", "/chat", 3, 17, "", -1)
	var v struct {
		Channel, Namespace string
		Payload            struct{ Seq, Ts int64 }
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Channel != "bench" || v.Namespace != "/chat" || v.Payload.Seq != 3 || v.Payload.Ts != 17 {
		t.Fatalf("body %s decodes to %+v %v", b, v, err)
	}
}
