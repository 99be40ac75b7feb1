package cluster

import (
	"bytes"
	"encoding/json"
	"testing"

	"sioloop/loop"
)

// FuzzParseBroadcast feeds arbitrary bytes to ParseBroadcast: no panic,
// and what it accepts has valid JSON arguments that encode again and
// decode to the same broadcast.
func FuzzParseBroadcast(f *testing.F) {
	for _, v := range loadVectors(f).Broadcasts {
		f.Add([]byte(v.Msg))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var c Codec
		var m Message
		if err := c.ParseBroadcast(msg, &m); err != nil {
			return
		}
		b := m.Broadcast
		if !json.Valid(append(append([]byte{'['}, b.Args...), ']')) {
			t.Fatalf("ParseBroadcast(%x) gave invalid JSON args %q", msg, b.Args)
		}
		enc, err := c.AppendBroadcast(nil, m.UID, &b)
		if err != nil {
			t.Fatalf("ParseBroadcast(%x) gave %+v that does not encode: %v", msg, b, err)
		}
		var m2 Message
		if err := c.ParseBroadcast(enc, &m2); err != nil {
			t.Fatalf("re-encoded %x does not parse: %v", enc, err)
		}
		if string(m2.Broadcast.Args) != string(m.Broadcast.Args) || m2.Broadcast.Event != m.Broadcast.Event ||
			len(m2.Broadcast.Attachments) != len(m.Broadcast.Attachments) {
			t.Fatalf("round trip changed %q %s into %q %s", m.Broadcast.Event, m.Broadcast.Args, m2.Broadcast.Event, m2.Broadcast.Args)
		}
	})
}

// FuzzJSONToMsgpack checks the JSON side against encoding/json: the codec
// accepts exactly the valid JSON values, and the round trip through
// msgpack keeps the value (numbers compared as JavaScript sees them).
func FuzzJSONToMsgpack(f *testing.F) {
	for _, s := range []string{`1`, `-0.5e3`, `"a\u00e9\n"`, `{"a":[1,{"b":null}],"c":true}`, `[]`, `{}`, `"\ud83d\ude00"`,
		`{"_placeholder":true,"num":0}`, `1e400`, `[1,2`, `tru`, `"\x"`, ` 2 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Codec
		mp, err := c.AppendMsgpack(nil, in, [][]byte{[]byte("att")})
		valid := json.Valid(in)
		if err != nil {
			if valid && err != ErrTooDeep && err != ErrPlaceholder {
				t.Fatalf("AppendMsgpack refused valid JSON %q: %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("AppendMsgpack accepted invalid JSON %q", in)
		}
		out, _, n, err := c.AppendJSON(nil, mp, nil)
		if err != nil || n != len(mp) {
			t.Fatalf("msgpack %x of %q does not convert back: %v (%d of %d bytes)", mp, in, err, n, len(mp))
		}
		if !json.Valid(out) {
			t.Fatalf("%q gave invalid JSON %q", in, out)
		}
		// Converting the output again is stable.
		mp2, err := c.AppendMsgpack(nil, out, [][]byte{[]byte("att")})
		if err != nil {
			t.Fatalf("output %q refused: %v", out, err)
		}
		out2, _, _, _ := c.AppendJSON(nil, mp2, nil)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %q → %q → %q", in, out, out2)
		}
	})
}

// FuzzMsgpackToJSON feeds arbitrary bytes to AppendJSON: no panic, valid
// JSON out, and no allocation beyond the input's size for lengths it
// announces.
func FuzzMsgpackToJSON(f *testing.F) {
	for _, v := range loadVectors(f).Broadcasts {
		f.Add([]byte(v.Msg))
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Codec
		out, atts, n, err := c.AppendJSON(nil, in, nil)
		if err != nil {
			return
		}
		if n > len(in) || !json.Valid(out) {
			t.Fatalf("AppendJSON(%x) = %q, %d consumed", in, out, n)
		}
		var b loop.Broadcast
		b.Event, b.Args, b.Attachments = "e", out, atts
		if _, err := c.AppendBroadcast(nil, "u", &b); err != nil {
			t.Fatalf("output %q of %x does not encode: %v", out, in, err)
		}
	})
}

// TestTruncated checks that every proper prefix of every vector is refused
// without a panic: a message cut short is never read as a shorter one.
func TestTruncated(t *testing.T) {
	var c Codec
	var m Message
	for _, v := range loadVectors(t).Broadcasts {
		for i := 0; i < len(v.Msg); i++ {
			if err := c.ParseBroadcast(v.Msg[:i], &m); err == nil {
				t.Errorf("%s: the first %d of %d bytes parse", v.Name, i, len(v.Msg))
			}
		}
	}
}

// FuzzStreamsEntry feeds arbitrary stream entries to ParseEntry and then
// to the adapter that applies them: no panic, and an entry ParseEntry
// accepts has JSON data that encodes again to an entry that parses the
// same.
func FuzzStreamsEntry(f *testing.F) {
	f.Add("node1", "/", "3", `{"packet":{"type":2,"data":["news",{"a":1}],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`)
	f.Add("node1", "/", "3", "gqZwYWNrZXSDpHR5cGUCpGRhdGGSoWLEAgECo25zcKEvpG9wdHODpXJvb21zkaFypmV4Y2VwdJClZmxhZ3OA")
	f.Add("node1", "/", "4", `{"opts":{"rooms":[],"except":["x"]},"rooms":["r",1]}`)
	f.Add("node1", "/", "6", `{"opts":{"rooms":null},"close":true}`)
	f.Add("node1", "/", "7", `{"opts":{},"requestId":"abc"}`)
	f.Add("node1", "/", "12", `{"requestId":"abc","packet":[1]}`)
	f.Add("node1", "/", "99", `{}`)
	f.Add("node1", "/", "-1", "kQE=")
	a, err := New(Config{URL: "redis://127.0.0.1:1", Streams: true, QueueSize: 16}, newFakeLocal("s1"), nil)
	if err != nil {
		f.Fatal(err)
	}
	a.AddNamespace("/")
	f.Fuzz(func(t *testing.T, uid, nsp, typ, data string) {
		var c Codec
		var m clusterMessage
		atts, err := c.ParseEntry(uid, nsp, typ, data, &m)
		if err != nil {
			return
		}
		if len(m.Data) > 0 {
			if !json.Valid(m.Data) {
				t.Fatalf("ParseEntry(%q) gave invalid JSON %q", data, m.Data)
			}
			js := bytes.Clone(m.Data)
			again, err := c.entryData(js, atts)
			if err != nil {
				t.Fatalf("ParseEntry(%q) gave %s that does not encode: %v", data, js, err)
			}
			var m2 clusterMessage
			atts2, err := c.ParseEntry(uid, nsp, typ, again, &m2)
			if err != nil {
				t.Fatalf("round trip of %q: %q does not parse: %v", data, again, err)
			}
			// With binary values the placeholders may be renumbered (a bin
			// map key, which no Node adapter writes, takes an attachment);
			// without them the JSON comes back the same.
			if len(atts) == 0 && (string(m2.Data) != string(js) || len(atts2) != 0) {
				t.Fatalf("round trip of %q: %q %s, want %s", data, again, m2.Data, js)
			}
		}
		a.st.apply(&m, atts, "fuzz", "")
	})
}
