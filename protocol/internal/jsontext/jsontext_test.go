package jsontext

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		if got := string(AppendString(nil, []byte(in))); got != want {
			t.Errorf("AppendString([]byte(%q)) = %s, want %s", in, got, want)
		}
	}
	f("", `""`)
	f("plain", `"plain"`)
	f("<a>&b", `"<a>&b"`) // not escaped, unlike encoding/json
	f("q\"b\\\n\t\x01", `"q\"b\\\n\t\u0001"`)
	f("€😀", `"€😀"`)
	f("\u2028", "\"\u2028\"")
	f("a\xffb", `"a`+"\uFFFD"+`b"`)
	f("\xe2\x82", `"`+"\uFFFD"+`"`) // a truncated sequence is one U+FFFD, as in Node
	// Whatever it writes is valid JSON that decodes to the input (for valid UTF-8).
	for _, s := range []string{"x", "\x00\x1f\"\\", "ünïcode", "</script>"} {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || back != s {
			t.Errorf("%q: round trip gave %q, %v", s, back, err)
		}
	}
}
