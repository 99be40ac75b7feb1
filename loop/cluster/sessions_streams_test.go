package cluster

import (
	"slices"
	"testing"

	"sioloop/loop"
)

// TestSessionEncoding: a session key's value is what
// @socket.io/redis-streams-adapter 0.3.1's persistSession writes
// (base64 of @msgpack/msgpack's {sid, pid, rooms, data}, vectors from
// Node), and it decodes back; garbage does not decode.
func TestSessionEncoding(t *testing.T) {
	var c Codec
	f := func(s loop.StoredSession, node string) {
		t.Helper()
		got, err := c.encodeSession(&s)
		if err != nil || got != node {
			t.Errorf("encode %+v: %q %v\nwant %q", s, got, err, node)
		}
		back, err := c.decodeSession(node)
		if err != nil || back.ID != s.ID || back.PID != s.PID || back.UserID != s.UserID || !slices.Equal(back.Rooms, s.Rooms) {
			t.Errorf("decode %q: %+v %v", node, back, err)
		}
	}
	f(loop.StoredSession{ID: "Ab_1234567890123456-", PID: "p1", Rooms: []string{"Ab_1234567890123456-", "news"}, UserID: "u1"},
		"hKNzaWS0QWJfMTIzNDU2Nzg5MDEyMzQ1Ni2jcGlkonAxpXJvb21zkrRBYl8xMjM0NTY3ODkwMTIzNDU2LaRuZXdzpGRhdGGBpnVzZXJJZKJ1MQ==")
	f(loop.StoredSession{ID: "s", PID: "p", Rooms: []string{"s"}}, "hKNzaWShc6NwaWShcKVyb29tc5Ghc6RkYXRhgA==")
	for _, bad := range []string{"", "!!", "hKNzaWShc6NwaWShcKVyb29tc5Ghc6RkYXRh", "kQ==", "gA=="} {
		if s, err := c.decodeSession(bad); err == nil {
			t.Errorf("decode %q: %+v, want an error", bad, s)
		}
	}
}

// TestValidOffset: offsets are checked as restoreSession does, /^[0-9]+-[0-9]+$/.
func TestValidOffset(t *testing.T) {
	for _, s := range []string{"0-0", "1700000000000-0", "1700000000000-12"} {
		if !validOffset(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "1", "-1", "1-", "a-1", "1-1-1", "1 -1", "17000000000000000000000-0", "$", "+"} {
		if validOffset(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
