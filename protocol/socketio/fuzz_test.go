package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"sioloop/protocol/jsonscan"
)

func addSeeds(f *testing.F) {
	for _, v := range vectors {
		f.Add(b(v.wire))
	}
	for _, r := range refusals {
		if len(r.wire) < 200 {
			f.Add(b(r.wire))
		}
	}
}

// FuzzParse checks that Parse never panics, returns only sentinels, and
// that what it accepts is valid for encoding/json and survives
// re-encoding, both raw (AppendHeader + Data) and through
// SplitEvent/AppendEvent and SplitAck/AppendAck.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := Parse(in)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse(%q): non-sentinel error %v", in, err)
			}
			return
		}
		if len(h.Namespace) == 0 || h.Namespace[0] != '/' || bytes.IndexByte(h.Namespace, ',') >= 0 {
			t.Fatalf("Parse(%q): bad namespace %q", in, h.Namespace)
		}
		binary := h.Type == BinaryEvent || h.Type == BinaryAck
		if binary != (h.Attachments > 0) || h.Attachments > MaxAttachments || h.AckID > MaxAckID {
			t.Fatalf("Parse(%q): bad counts %+v", in, h)
		}
		if h.Data != nil && !json.Valid(h.Data) {
			t.Fatalf("Parse(%q): Data %q is not valid for encoding/json", in, h.Data)
		}
		h2, err := Parse(reencode(h))
		if err != nil {
			t.Fatalf("re-encoded %q as %q: %v", in, reencode(h), err)
		}
		if d := sameHeader(h2, h); d != "" {
			t.Fatalf("re-encoded %q as %q: %s", in, reencode(h), d)
		}
		// Compare decoded JSON only where encoding/json decodes like
		// JSON.parse: valid UTF-8 and numbers within float64 range.
		var tree any
		comparable := utf8.Valid(h.Data) && json.Unmarshal(h.Data, &tree) == nil
		nsp := append(append([]byte(nil), h.Namespace...), h.Query...)
		switch h.Type {
		case Event, BinaryEvent:
			name, args, err := SplitEvent(h.Data)
			if err != nil {
				t.Fatalf("SplitEvent(%q): %v", h.Data, err)
			}
			out := AppendEvent(nil, nsp, 0, h.HasAck, h.AckID, name, args)
			h3, err := Parse(out)
			if err != nil {
				t.Fatalf("AppendEvent of %q gave %q: %v", in, out, err)
			}
			if h3.HasAck != h.HasAck || h3.AckID != h.AckID || !bytes.Equal(h3.Namespace, h.Namespace) {
				t.Fatalf("AppendEvent of %q gave %q", in, out)
			}
			if comparable && h.Data[jsonscan.SkipSpace(h.Data, 1)] == '"' && !sameJSON(h3.Data, h.Data) {
				t.Fatalf("AppendEvent of %q gave %q", in, out)
			}
		case Ack, BinaryAck:
			args, err := SplitAck(h.Data)
			if err != nil {
				t.Fatalf("SplitAck(%q): %v", h.Data, err)
			}
			out := AppendAck(nil, nsp, 0, h.AckID, args)
			h3, err := Parse(out)
			if err != nil || h3.AckID != h.AckID || (comparable && !sameJSON(h3.Data, h.Data)) {
				t.Fatalf("AppendAck of %q gave %q: %v", in, out, err)
			}
		}
		if binary {
			_ = CheckPlaceholders(h.Data, h.Attachments) // must not panic
		}
	})
}

// FuzzCheckJSON compares the validator with encoding/json.Valid on the
// inputs where both apply: no surrounding whitespace (refused by
// checkJSON, which Parse calls after trimming and refusing it) and
// nesting within MaxDepth.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`["a",{"b":[1,-2.5e+3,true,false,null]}]`, `{}`, `[]`, `"\u00e9\n"`,
		`0`, `-0.0e0`, `{"a":}`, `[1,]`, `"\x01"`, "\"\xff\"", `[{]}`, `tru`, `1 2`} {
		f.Add(b(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		err := checkJSON(in)
		if err == ErrTooDeep {
			return
		}
		want := json.Valid(in) && len(in) > 0 && !jsonscan.IsSpace(in[0]) && !jsonscan.IsSpace(in[len(in)-1])
		if (err == nil) != want {
			t.Fatalf("checkJSON(%q) = %v, encoding/json.Valid = %v", in, err, json.Valid(in))
		}
	})
}

// FuzzCheckPlaceholders compares CheckPlaceholders with the reference
// transcript of Node's reconstructPacket.
func FuzzCheckPlaceholders(f *testing.F) {
	f.Add(b(`["baz",{"_placeholder":true,"num":0}]`), 1)
	f.Add(b(`["baz",{"num":1,"_placeholder":true,"x":{"_placeholder":true}}]`), 2)
	f.Add(b(`[{"\u005fplaceholder":true,"num":3},[{"a":{"_placeholder":true,"num":0}}]]`), 3)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		got := CheckPlaceholders(in, n)
		if got == ErrTooDeep || got == ErrInvalidJSON {
			if checkJSON(jsonscan.TrimRightSpace(in[jsonscan.SkipSpace(in, 0):])) == nil {
				t.Fatalf("CheckPlaceholders(%q) = %v for valid JSON", in, got)
			}
			return
		}
		if !utf8.Valid(in) {
			return // encoding/json rewrites invalid UTF-8 in keys
		}
		if want := refPlaceholders(in, n); got != want {
			t.Fatalf("CheckPlaceholders(%q, %d) = %v, reference %v", in, n, got, want)
		}
	})
}

// FuzzAppendJSONString checks that the output always decodes back to the
// input (for valid UTF-8) and is always valid JSON.
func FuzzAppendJSONString(f *testing.F) {
	for _, c := range jsonStringCases {
		f.Add(b(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := AppendJSONString(nil, in)
		if checkJSON(out) != nil {
			t.Fatalf("AppendJSONString(%q) = %q: invalid JSON", in, out)
		}
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatal(err)
		}
		if utf8.Valid(in) && s != string(in) {
			t.Fatalf("AppendJSONString(%q) decodes to %q", in, s)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("AppendJSONString(%q) = %q: invalid UTF-8", in, out)
		}
	})
}
