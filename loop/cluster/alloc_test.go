//go:build !race

package cluster

import (
	"testing"

	"sioloop/loop"
)

// TestAllocs guards the per-message costs of the codec: decoding a
// broadcast into a reused Message allocates only the strings it hands out
// (uid, namespace, event, rooms), and encoding into a buffer with room
// allocates nothing.
func TestAllocs(t *testing.T) {
	var c Codec
	b := loop.Broadcast{Namespace: "/chat", Rooms: []string{"r"}, Event: "news",
		Args: []byte(`{"title":"hello","n":42,"tags":["a","b"],"ok":true,"x":1.5}`)}
	buf, err := c.AppendBroadcast(nil, "abcdef", &b)
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := c.ParseBroadcast(buf, &m); err != nil {
		t.Fatal(err)
	}
	f := func(name string, max float64, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n > max {
			t.Errorf("%s: %v allocs, want at most %v", name, n, max)
		}
	}
	dst := make([]byte, 0, 1024)
	f("AppendBroadcast", 0, func() { _, _ = c.AppendBroadcast(dst[:0], "abcdef", &b) })
	// uid, namespace, event, the rooms slice and its one room.
	f("ParseBroadcast", 5, func() { _ = c.ParseBroadcast(buf, &m) })
	mp, _ := c.AppendMsgpack(nil, b.Args, nil)
	f("AppendMsgpack", 0, func() { _, _ = c.AppendMsgpack(dst[:0], b.Args, nil) })
	f("AppendJSON", 0, func() { _, _, _, _ = c.AppendJSON(dst[:0], mp, nil) })
}
