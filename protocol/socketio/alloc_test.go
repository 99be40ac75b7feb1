//go:build !race

package socketio

import "testing"

// benchEvent is a typical chat event, about 100 bytes.
var benchEvent = []byte(`2["message",{"user":"alice","room":"general","text":"hello world, how is everyone?","ts":1700000000}]`)

var benchBinary = []byte(`51-/upload,["file",{"name":"a.png","data":{"_placeholder":true,"num":0}}]`)

func TestZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 512)
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
	f("Parse", func() {
		if _, err := Parse(benchEvent); err != nil {
			t.Fatal(err)
		}
	})
	f("Parse reserved-escape check", func() { _, _ = Parse(b(`2["conn\u0065ct"]`)) })
	f("Parse+SplitEvent", func() {
		h, _ := Parse(benchEvent)
		if _, _, err := SplitEvent(h.Data); err != nil {
			t.Fatal(err)
		}
	})
	f("Parse binary+CheckPlaceholders", func() {
		h, _ := Parse(benchBinary)
		if err := CheckPlaceholders(h.Data, h.Attachments); err != nil {
			t.Fatal(err)
		}
	})
	f("SplitAck", func() { _, _ = SplitAck(b(`["bar",1]`)) })
	f("AppendEvent", func() {
		buf = AppendEvent(buf[:0], b("/admin"), 0, true, 42, b("message"), b(`{"a":1},2`))
	})
	f("AppendAck", func() { buf = AppendAck(buf[:0], nil, 0, 42, b(`"ok"`)) })
	f("AppendConnect", func() { buf = AppendConnect(buf[:0], b("/admin"), "oSO0OpakMV_3jnilAAAA") })
	f("AppendConnectError", func() { buf = AppendConnectError(buf[:0], nil, "Not authorized", b(`{"why":"deny"}`)) })
	f("AppendJSONString", func() { buf = AppendJSONString(buf[:0], b("a\"b\n\xff€")) })
}
