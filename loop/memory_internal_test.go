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
	f("connState", unsafe.Sizeof(connState{}), 128)
	f("Session", unsafe.Sizeof(Session{}), 320)
	f("client", unsafe.Sizeof(client{}), 96)
	f("Socket", unsafe.Sizeof(Socket{}), 176)
}
