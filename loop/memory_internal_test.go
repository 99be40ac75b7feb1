package loop

import (
	"testing"
	"unsafe"
)

// TestConnSizes keeps the structures every connected client holds in the
// size classes of the accounting in doc.go ("Memory per connection"): a
// field that moves one of them up a class costs every idle client 16 to
// 32 bytes more.
func TestConnSizes(t *testing.T) {
	f := func(name string, got, class uintptr) {
		t.Helper()
		if got > class {
			t.Errorf("%s is %d bytes, more than its %d-byte size class", name, got, class)
		}
	}
	f("connState", unsafe.Sizeof(connState{}), 48)
	f("Session", unsafe.Sizeof(Session{}), 176) // with its Socket.IO client
	f("pollState", unsafe.Sizeof(pollState{}), 128)
	f("Socket", unsafe.Sizeof(Socket{}), 160)
}

// TestHandshakeQueryShared checks that the queries the official clients
// send share one string and that any other query is copied as sent.
func TestHandshakeQueryShared(t *testing.T) {
	for _, q := range commonQueries {
		got := handshakeQuery([]byte(q))
		if got != q || unsafe.StringData(got) != unsafe.StringData(q) {
			t.Errorf("handshakeQuery(%q) = %q, not the shared constant", q, got)
		}
		if n := testing.AllocsPerRun(100, func() { _ = handshakeQuery([]byte(q)) }); n != 0 {
			t.Errorf("handshakeQuery(%q) allocates %v times", q, n)
		}
	}
	if got := handshakeQuery([]byte("EIO=4&transport=websocket&token=x")); got != "EIO=4&transport=websocket&token=x" {
		t.Errorf("handshakeQuery of an application query = %q", got)
	}
}

// TestClientSession: a client finds its session at a fixed offset
// (client.sess), for every session.
func TestClientSession(t *testing.T) {
	for _, s := range []*Session{{}, {id: "x"}} {
		if got := s.client().sess(); got != s {
			t.Fatalf("client().sess() = %p, want %p", got, s)
		}
	}
}
