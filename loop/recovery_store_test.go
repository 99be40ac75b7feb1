package loop

import "testing"

// TestStreamOffset: stream entry IDs pack into ordered offsets and are
// written back as they were.
func TestStreamOffset(t *testing.T) {
	ids := []string{"0-0", "0-1", "1-0", "1700000000000-0", "1700000000000-1048575", "1700000000001-0"}
	var prev uint64
	for _, id := range ids {
		off, ok := StreamOffset(id)
		if !ok || off <= prev {
			t.Fatalf("%q: %x %v after %x", id, off, ok, prev)
		}
		prev = off
		if got := string(appendOffset([]byte(`["e"]`), off)); got != `["e","`+id+`"]` {
			t.Errorf("%q written %s", id, got)
		}
	}
	for _, id := range []string{"", "-", "1-", "-1", "x-1", "1-1048576", "9000000000000000-0", "1-2-3"} {
		if _, ok := StreamOffset(id); ok {
			t.Errorf("%q accepted", id)
		}
	}
	if got := string(appendOffset([]byte(`["e"]`), 42)); got != `["e","42"]` {
		t.Errorf("local offset written %s", got)
	}
}
