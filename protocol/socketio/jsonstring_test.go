package socketio

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// jsonStringCases pairs input bytes with the output of Node 20's
// JSON.stringify(Buffer.from(in).toString("utf8")).
var jsonStringCases = []struct{ in, node string }{
	{"", `""`},
	{"abc", `"abc"`},
	{`"`, `"\""`},
	{`\`, `"\\"`},
	{"\n\t\b\f\r", `"\n\t\b\f\r"`},
	{"\x00", `"\u0000"`},
	{"\x1f", `"\u001f"`},
	{"\x0b\x1b\x01", `"\u000b\u001b\u0001"`},
	{"\x7f", "\"\x7f\""},
	{"<>&", `"<>&"`},                     // encoding/json: \u003c\u003e\u0026
	{"/", `"/"`},                         // not escaped
	{"\u2028\u2029", "\"\u2028\u2029\""}, // encoding/json: \u2028\u2029
	{"é€😀", `"é€😀"`},
	{"\xff", "\"\uFFFD\""},
	{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""}, // an encoded surrogate
	{"a\xe2\x82", "\"a\uFFFD\""},               // one U+FFFD for a truncated sequence (encoding/json: two)
	{"a\xe2\x82b", "\"a\uFFFDb\""},
	{"\xc0\x80", "\"\uFFFD\uFFFD\""},                     // overlong
	{"\xf4\x90\x80\x80", "\"\uFFFD\uFFFD\uFFFD\uFFFD\""}, // above U+10FFFF
	{"\xf0\x9f\x98", "\"\uFFFD\""},
	{"x\"y\\z\u00e9\n", `"x\"y\\zé\n"`},
}

func TestAppendJSONStringNode(t *testing.T) {
	for _, c := range jsonStringCases {
		if got := AppendJSONString(nil, b(c.in)); string(got) != c.node {
			t.Errorf("AppendJSONString(%q) = %q, want %q", c.in, got, c.node)
		}
		if got := appendQuoted([]byte("x"), c.in); string(got) != "x"+c.node {
			t.Errorf("appendQuoted(string %q) = %q", c.in, got)
		}
	}
}

// TestAppendJSONStringEncodingJSON checks, for every byte value in a few
// positions, that the output decodes to what encoding/json's output
// decodes to, whenever the input is valid UTF-8 (for invalid input the
// two replace differently, see jsonStringCases).
func TestAppendJSONStringEncodingJSON(t *testing.T) {
	check := func(in string) {
		t.Helper()
		ours := AppendJSONString(nil, b(in))
		var got string
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Errorf("AppendJSONString(%q) = %q: not JSON: %v", in, ours, err)
			return
		}
		if !utf8.ValidString(in) {
			if !utf8.ValidString(got) {
				t.Errorf("AppendJSONString(%q) kept invalid UTF-8", in)
			}
			return
		}
		theirs, _ := json.Marshal(in)
		var want string
		_ = json.Unmarshal(theirs, &want)
		if got != want || got != in {
			t.Errorf("AppendJSONString(%q) decodes to %q, encoding/json to %q", in, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		check(string(rune(c)))
		check("a" + string([]byte{byte(c)}) + "b")
		check(string([]byte{0xe2, byte(c), 0x80}))
		check(string([]byte{0xf0, 0x9f, byte(c), 0x80}))
	}
	for _, c := range jsonStringCases {
		check(c.in)
	}
}
