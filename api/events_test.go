package api

import (
	"strconv"
	"strings"
	"testing"
)

func TestChannelArgs(t *testing.T) {
	f := func(args string, max int, want []string, wantCount int) {
		t.Helper()
		got, n := channelArgs([]byte(args), max)
		if n != wantCount || strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("channelArgs(%s, %d) = %q, %d; want %q, %d", args, max, got, n, want, wantCount)
		}
	}
	f(`"news"`, 100, []string{"news"}, 1)
	f(` "a\"b\\" ,1`, 100, []string{`a"b\`}, 1)
	f(`["a","b"]`, 100, []string{"a", "b"}, 2)
	f(`[ "a" , "b" ],{"x":1}`, 100, []string{"a", "b"}, 2)
	f(`[]`, 100, []string{}, 0)
	f(`[ ]`, 100, []string{}, 0)
	f(`["a,b","[c]","{d}"]`, 100, []string{"a,b", "[c]", "{d}"}, 3)
	f(`["a","b","c"]`, 2, nil, 3)               // over: counted, not decoded
	f(`[["x","y"],{"a":[1,2]},"z"]`, 2, nil, 3) // nesting counts as one element
	f(`["a",1]`, 100, nil, 0)                   // not all strings: ignored, as before
	f(`1`, 100, nil, 0)
	f(`{"a":1}`, 100, nil, 0)
	f(``, 100, nil, 0)
	f(`["a"`, 100, nil, 0)
	f(`"abc`, 100, nil, 0)
}

// TestChannelArgsHugeListAllocs: a list far over the limit is refused by
// a scan that allocates nothing, whatever its length.
func TestChannelArgsHugeListAllocs(t *testing.T) {
	var b strings.Builder
	b.WriteByte('[')
	for i := range 100_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"c` + strconv.Itoa(i) + `"`)
	}
	b.WriteByte(']')
	args := []byte(b.String())
	allocs := testing.AllocsPerRun(5, func() {
		if names, n := channelArgs(args, 100); names != nil || n != 100_000 {
			t.Fatalf("channelArgs = %d names, count %d", len(names), n)
		}
	})
	if allocs != 0 {
		t.Fatalf("refusing 100k names: %.0f allocs, want 0", allocs)
	}
}
