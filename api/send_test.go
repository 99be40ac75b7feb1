package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"sioloop/loop"
)

// sendVectors are bodies and the plan parseSend must make of them; the
// events are written "name args" (args as loop.Broadcast wants them).
var sendVectors = []struct {
	body   string
	target loop.Broadcast
	events []string
}{
	{`{"channel":"news","payload":{"b":1,"a":2}}`, loop.Broadcast{Namespace: "/"},
		[]string{`news {"payload":{"b":1,"a":2}}`}},
	{"{\n  \"channel\": \"news\",\n  \"payload\": { \"b\" : [ 1 , 2 ], \"s\": \"a b\" }\n}\n", loop.Broadcast{Namespace: "/"},
		[]string{`news {"payload":{"b":[1,2],"s":"a b"}}`}},
	{`{"channel":"n","payload":1e400}`, loop.Broadcast{Namespace: "/"}, // kept as sent, not as float64
		[]string{`n {"payload":1e400}`}},
	{`{"channel":"n","payload":"\u00e9\ud83d\ude00"}`, loop.Broadcast{Namespace: "/"},
		[]string{`n {"payload":"\u00e9\ud83d\ude00"}`}},
	{`{"channels":["a","b"],"payload":null}`, loop.Broadcast{Namespace: "/"},
		[]string{`a {"payload":null}`, `b {"payload":null}`}},
	{`{"channels":["a","b"],"payload":[[1],{"x":[]}]}`, loop.Broadcast{Namespace: "/"},
		[]string{`a {"payload":[1]}`, `b {"payload":{"x":[]}}`}},
	{`{"channels":["a","b","c"],"payload":["x"]}`, loop.Broadcast{Namespace: "/"},
		[]string{`a {"payload":"x"}`}},
	{`{"event":"broadcast","data":{"k":"v"}}`, loop.Broadcast{Namespace: "/"},
		[]string{`broadcast {"k":"v"}`}},
	{`{"event":"broadcast","data":null}`, loop.Broadcast{Namespace: "/"},
		[]string{`broadcast null`}},
	{`{"event":"broadcast"}`, loop.Broadcast{Namespace: "/"},
		[]string{`broadcast `}},
	{`{"event":"e","rooms":["r1","r2"],"except":"x","to":"sid1","namespace":"/chat","volatile":true}`,
		loop.Broadcast{Namespace: "/chat", Rooms: []string{"r1", "r2", "sid1"}, Except: []string{"x"}, Volatile: true},
		[]string{`e `}},
	{`{"event":"e","namespace":"chat","rooms":"r"}`, loop.Broadcast{Namespace: "/chat", Rooms: []string{"r"}},
		[]string{`e `}},
	{`{"event":"e","namespace":""}`, loop.Broadcast{Namespace: "/"}, []string{`e `}},
}

func TestParseSend(t *testing.T) {
	for _, v := range sendVectors {
		p, err := parseSend([]byte(v.body), DefaultMaxNameBytes)
		if err != nil {
			t.Errorf("parseSend(%s): %v", v.body, err)
			continue
		}
		if !reflect.DeepEqual(p.target, v.target) {
			t.Errorf("parseSend(%s): target %+v, want %+v", v.body, p.target, v.target)
		}
		var got []string
		for _, ev := range p.events {
			got = append(got, ev.name+" "+string(ev.args))
		}
		if !reflect.DeepEqual(got, v.events) {
			t.Errorf("parseSend(%s): events %q, want %q", v.body, got, v.events)
		}
	}
}

// TestParseSendOwnsBytes checks that the plan does not alias the body,
// which net/http may reuse.
func TestParseSendOwnsBytes(t *testing.T) {
	body := []byte(`{"channels":["a","b"],"payload":[{"k":1},{"k":2}],"rooms":["r"]}`)
	p, err := parseSend(body, DefaultMaxNameBytes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X'
	}
	if got := string(p.events[1].args) + p.target.Rooms[0]; got != `{"payload":{"k":2}}r` {
		t.Errorf("plan changed with the body: %s", got)
	}
}

func TestCheckJSONType(t *testing.T) {
	f := func(ct string, ok bool) {
		t.Helper()
		err := checkJSONType(ct)
		if (err == nil) != ok {
			t.Errorf("checkJSONType(%q) = %v, want ok %v", ct, err, ok)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedMediaType) {
			t.Errorf("checkJSONType(%q) = %v, not a 415", ct, err)
		}
	}
	f("application/json", true)
	f("Application/JSON", true)
	f("application/json; charset=utf-8", true)
	f(`application/json; charset="UTF-8"`, true)
	f("application/json;charset=utf8", true)
	f("application/merge-patch+json", true)
	f("", false)
	f("application/x-www-form-urlencoded", false)
	f("text/plain", false)
	f("text/json", false)
	f("application/json; charset=utf-16", false)
	f("application/json; charset", false)
	f("application/+json", true)
	f("json", false)
}

func TestAcceptsJSON(t *testing.T) {
	f := func(accept string, want bool) {
		t.Helper()
		if got := acceptsJSON([]string{accept}); got != want {
			t.Errorf("acceptsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
	f("", false)
	f("*/*", false)
	f("application/json", true)
	f("text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8", true)
	f("application/json;q=0", false)
	f("application/json;q=0.0", false)
	f("application/json; q=0.001", true)
	f("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1", false)
	f("text/plain, application/json", true)
	f("application/jsonx", false)
}

func TestParseVmRSS(t *testing.T) {
	f := func(line string, want uint64, ok bool) {
		t.Helper()
		got, gotOK := parseVmRSS(line)
		if got != want || gotOK != ok {
			t.Errorf("parseVmRSS(%q) = %d, %v, want %d, %v", line, got, gotOK, want, ok)
		}
	}
	f("VmRSS:\t   12345 kB", 12345*1024, true)
	f("VmRSS: 0 kB", 0, true)
	f("VmHWM:\t   12345 kB", 0, false)
	f("VmRSS:\t   12345 MB", 0, false)
	f("VmRSS:\t   x kB", 0, false)
	f("VmRSS:", 0, false)
	if rss, ok := readRSS(); !ok || rss == 0 {
		t.Errorf("readRSS() = %d, %v on Linux", rss, ok)
	}
}

func TestFormatMB(t *testing.T) {
	f := func(b uint64, want string) {
		t.Helper()
		if got := formatMB(b); got != want {
			t.Errorf("formatMB(%d) = %q, want %q", b, got, want)
		}
	}
	f(0, "0MB")
	f(1<<19-1, "0MB")
	f(1<<19, "1MB") // Math.round(0.5) is 1
	f(1<<20, "1MB")
	f(1<<20+1<<19, "2MB")
	f(100<<20, "100MB")
}

// FuzzParseSend feeds parseSend arbitrary bodies: it must not panic, must
// refuse with a 400, and whatever it accepts must become valid Socket.IO
// event packets (["name",args…] is valid JSON) with a non-empty,
// non-reserved name, at most MaxChannels events, and a namespace that
// starts with '/'.
func FuzzParseSend(f *testing.F) {
	for _, v := range sendVectors {
		f.Add([]byte(v.body))
	}
	for _, s := range []string{`{}`, `[]`, `{"channels":[]}`, `{"channel":1}`, `{"rooms":[1]}`, "{\"event\":\"\xff\"}", `{"payload":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseSend(body, DefaultMaxNameBytes)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Msg == "" {
				t.Fatalf("parseSend(%q): error %#v, want a 400 *Error", body, err)
			}
			return
		}
		if len(p.events) == 0 || len(p.events) > MaxChannels {
			t.Fatalf("parseSend(%q): %d events", body, len(p.events))
		}
		if !strings.HasPrefix(p.target.Namespace, "/") {
			t.Fatalf("parseSend(%q): namespace %q", body, p.target.Namespace)
		}
		for _, ev := range p.events {
			name, _ := json.Marshal(ev.name)
			pkt := append([]byte{'['}, name...)
			if len(ev.args) > 0 {
				pkt = append(append(pkt, ','), ev.args...)
			}
			pkt = append(pkt, ']')
			if ev.name == "" || !json.Valid(pkt) || !utf8.Valid(pkt) {
				t.Fatalf("parseSend(%q): event packet %s", body, pkt)
			}
		}
	})
}
