package engineio

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendOpen(t *testing.T) {
	f := func(o OpenInfo, want string) {
		t.Helper()
		if got := AppendOpen(nil, o); string(got) != want {
			t.Errorf("AppendOpen(%+v) =\n%s\nwant\n%s", o, got, want)
		}
	}
	// Observed from Node's engine.io.
	f(OpenInfo{SID: "0naoYXG4FpKzPYCGAAAA", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000},
		`0{"sid":"0naoYXG4FpKzPYCGAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	// engine.io-protocol v4, Handshake example.
	f(OpenInfo{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000},
		`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	// A WebSocket handshake: no upgrades, nil or empty.
	f(OpenInfo{SID: "a-b_c", PingInterval: 300, PingTimeout: 200, MaxPayload: 1e8},
		`0{"sid":"a-b_c","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":100000000}`)
	f(OpenInfo{SID: "s", Upgrades: []string{}},
		`0{"sid":"s","upgrades":[],"pingInterval":0,"pingTimeout":0,"maxPayload":0}`)
	f(OpenInfo{SID: "s", Upgrades: []string{"websocket", "webtransport"}, PingInterval: 1, PingTimeout: 2, MaxPayload: 3},
		`0{"sid":"s","upgrades":["websocket","webtransport"],"pingInterval":1,"pingTimeout":2,"maxPayload":3}`)
	// Escaping like JSON.stringify.
	f(OpenInfo{SID: "a\"b\\c\n\x01\x1f<&>é"},
		`0{"sid":"a\"b\\c\n\u0001\u001f<&>é","upgrades":[],"pingInterval":0,"pingTimeout":0,"maxPayload":0}`)
}

// openJSON has the fields of OpenInfo in Node's key order; encoding/json
// (HTML escaping off) is the oracle for AppendOpen.
type openJSON struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func TestAppendOpenJSON(t *testing.T) {
	sids := []string{"", "0naoYXG4FpKzPYCGAAAA", `"`, `\`, "\b\f\n\r\t", "\x00\x07\x1e\x1f\x7f", "<script>&", "x\"y\\z", "€😀"}
	for _, sid := range sids {
		o := OpenInfo{SID: sid, Upgrades: []string{"websocket", sid}, PingInterval: 25000, PingTimeout: -1, MaxPayload: 1 << 40}
		got := AppendOpen(nil, o)
		if got[0] != '0' || !json.Valid(got[1:]) {
			t.Errorf("AppendOpen(%q) = %s: not an open packet with valid JSON", sid, got)
			continue
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(openJSON(o)); err != nil {
			t.Fatal(err)
		}
		want := "0" + string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if string(got) != want {
			t.Errorf("AppendOpen(%q) =\n%s\nencoding/json:\n%s", sid, got, want)
		}
	}
}
