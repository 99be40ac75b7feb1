package engineio

import (
	"errors"
	"testing"
)

func TestParsePacket(t *testing.T) {
	for _, v := range packetVectors {
		in := []byte(v.wire)
		p, err := parsePacket(in)
		if err != nil || !samePacket(p, v.p) {
			t.Errorf("parsePacket(%q) = %s, %v; want %s", v.wire, show(p), err, show(v.p))
			continue
		}
		if len(p.Data) > 0 && &p.Data[0] != &in[1] {
			t.Errorf("parsePacket(%q): Data does not alias the input", v.wire)
		}
		if cap(p.Data) != len(p.Data) {
			t.Errorf("parsePacket(%q): cap(Data) = %d > len %d: appending to Data would overwrite what follows", v.wire, cap(p.Data), len(p.Data))
		}
	}
	// ParsePacket never decodes base64: a "b" text frame is an unknown type.
	for _, v := range binaryVectors {
		in := []byte(v.wire)
		if _, err := parsePacket(in); !errors.Is(err, ErrUnknownPacketType) {
			t.Errorf("parsePacket(%q) err = %v; want ErrUnknownPacketType", v.wire, err)
		}
		if string(in) != v.wire {
			t.Errorf("parsePacket(%q) modified its input to %q", v.wire, in)
		}
	}
	for _, v := range badPacketVectors {
		want := v.err
		if want == ErrBadBase64 {
			want = ErrUnknownPacketType
		}
		if p, err := parsePacket([]byte(v.wire)); !errors.Is(err, want) {
			t.Errorf("parsePacket(%q) = %s, %v; want %v", v.wire, show(p), err, want)
		}
	}
}

func TestParsePacketInPlace(t *testing.T) {
	f := func(wire string, want Packet) {
		t.Helper()
		p, err := ParsePacketInPlace([]byte(wire))
		if err != nil || !samePacket(p, want) {
			t.Errorf("ParsePacketInPlace(%q) = %s, %v; want %s", wire, show(p), err, show(want))
		}
	}
	for _, v := range packetVectors {
		f(v.wire, v.p)
	}
	for _, v := range binaryVectors {
		f(v.wire, v.p)
	}
	for _, v := range lenientBinaryVectors {
		f(v.wire, v.p)
	}
	for _, v := range badPacketVectors {
		if p, err := ParsePacketInPlace([]byte(v.wire)); !errors.Is(err, v.err) {
			t.Errorf("ParsePacketInPlace(%q) = %s, %v; want %v", v.wire, show(p), err, v.err)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	f := func(v packetVector) {
		t.Helper()
		prefix := []byte("xy")
		got := AppendPacket(prefix, v.p)
		if string(got) != "xy"+v.wire {
			t.Errorf("AppendPacket(%s) = %q; want %q", show(v.p), got[2:], v.wire)
		}
		if n := encodedLen(v.p); n != len(v.wire) {
			t.Errorf("encodedLen(%s) = %d; want %d", show(v.p), n, len(v.wire))
		}
		if got := AppendPacket(nil, v.p); string(got) != v.wire {
			t.Errorf("AppendPacket(nil, %s) = %q; want %q", show(v.p), got, v.wire)
		}
	}
	for _, v := range packetVectors {
		f(v)
	}
	for _, v := range binaryVectors {
		f(v)
	}
	// The Type of a Binary packet is not written: it is always a message.
	if got := AppendPacket(nil, Packet{Type: Ping, Data: []byte{1}, Binary: true}); string(got) != "bAQ==" {
		t.Errorf("AppendPacket(binary ping) = %q; want %q", got, "bAQ==")
	}
}

func TestPacketRoundTrip(t *testing.T) {
	for _, v := range append(append([]packetVector{}, packetVectors...), binaryVectors...) {
		wire := AppendPacket(nil, v.p)
		p, err := ParsePacketInPlace(wire)
		if err != nil || !samePacket(p, v.p) {
			t.Errorf("round trip of %s = %s, %v", show(v.p), show(p), err)
		}
	}
}

func TestPacketTypeString(t *testing.T) {
	f := func(pt PacketType, want string, valid bool) {
		t.Helper()
		if got := pt.String(); got != want {
			t.Errorf("PacketType(%q).String() = %q; want %q", byte(pt), got, want)
		}
		if pt.Valid() != valid {
			t.Errorf("PacketType(%q).Valid() = %v; want %v", byte(pt), !valid, valid)
		}
	}
	f(Open, "open", true)
	f(Close, "close", true)
	f(Ping, "ping", true)
	f(Pong, "pong", true)
	f(Message, "message", true)
	f(Upgrade, "upgrade", true)
	f(Noop, "noop", true)
	f('7', "unknown", false)
	f('/', "unknown", false)
	f('b', "unknown", false)
	f(0, "unknown", false)
}
