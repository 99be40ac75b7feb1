package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestScalar(t *testing.T) {
	f := func(in string, want int) {
		t.Helper()
		if got := Scalar([]byte(in), 0); got != want {
			t.Errorf("Scalar(%q) = %d, want %d", in, got, want)
		}
	}
	f(`"abc"`, 5)
	f(`"a\"b",`, 6)
	f(`"\u00e9"`, 8)
	f(`"\u00g9"`, -1)
	f(`"\x"`, -1)
	f("\"a\nb\"", -1) // control characters must be escaped
	f(`"abc`, -1)
	f(`0`, 1)
	f(`-0.5e+10]`, 8)
	f(`01`, 1) // the scanner stops after "0"; the caller sees the stray digit
	f(`-`, -1)
	f(`1.`, -1)
	f(`1e`, -1)
	f(`true,`, 4)
	f(`fals`, -1)
	f(`null`, 4)
}

func TestAppendUnescaped(t *testing.T) {
	f := func(lit string) {
		t.Helper()
		b := []byte(lit)
		end, _ := String(b, 0)
		if end != len(b) {
			t.Fatalf("String(%s) = %d", lit, end)
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if got := AppendUnescaped(nil, b[1:end-1]); string(got) != want {
			t.Errorf("AppendUnescaped(%s) = %q, want %q (encoding/json)", lit, got, want)
		}
		if !StringIs(b[1:end-1], true, want) && want == string([]rune(want)) && isASCII(want) {
			t.Errorf("StringIs(%s, %q) = false", lit, want)
		}
	}
	f(`"plain"`)
	f(`"a\"b\\c\/d\b\f\n\r\t"`)
	f(`"conn\u0065ct"`)
	f(`"\ud83d\ude00"`)       // a surrogate pair
	f(`"\ud83d"`)             // a lone high surrogate: U+FFFD
	f(`"\ude00x"`)            // a lone low surrogate
	f(`"\ud83d\u0041"`)       // a high surrogate before no low one
	f(`"\ud83d\ud83d\ude00"`) // a lone one, then a pair
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzString checks String and AppendUnescaped against encoding/json on
// any valid UTF-8 input that starts with a quote (encoding/json replaces
// invalid UTF-8, which the callers of this package check on their own).
func FuzzString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\ud83d\ude00"`, `"\n"`, `"a\q"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' || !utf8.Valid(b) {
			return
		}
		end, _ := String(b, 0)
		if end < 0 {
			if json.Valid(b) {
				t.Fatalf("String refuses %q, which encoding/json accepts", b)
			}
			return
		}
		var want string
		if err := json.Unmarshal(b[:end], &want); err != nil {
			t.Fatalf("String accepts %q, which encoding/json refuses: %v", b[:end], err)
		}
		if got := AppendUnescaped(nil, b[1:end-1]); string(got) != want {
			t.Fatalf("AppendUnescaped(%q) = %q, want %q", b[1:end-1], got, want)
		}
	})
}
