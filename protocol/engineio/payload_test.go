package engineio

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zishang520/engine.io-go-parser/packet"
	"github.com/zishang520/engine.io-go-parser/parser"
	"github.com/zishang520/engine.io-go-parser/types"
)

func allPayloadVectors() []payloadVector {
	vs := append([]payloadVector{}, payloadVectors...)
	for _, n := range []int{1, 2, 3, 4, 5, 57, 58, 59, 300, 4096} {
		vs = append(vs, bigPayloadVector(n))
	}
	return vs
}

// TestNextPayloadPacketWalk walks every vector with NextPayloadPacket: the
// packets met must be exactly the expected list, then the expected error.
func TestNextPayloadPacketWalk(t *testing.T) {
	for _, v := range allPayloadVectors() {
		got, err := walk(v.wire)
		if !errors.Is(err, v.err) || !samePackets(got, v.packets) {
			t.Errorf("walk(%q) = %s, %v; want %s, %v", v.wire, show(got...), err, show(v.packets...), v.err)
		}
	}
}

// TestNextPayloadPacketRest checks the rest contract step by step on the
// Node example: rest is the body after the separator, nil after the last
// packet, and nil on error.
func TestNextPayloadPacketRest(t *testing.T) {
	body := []byte("4hello\x1e2\x1e4€\x1ebAQIDBA==")
	wantRest := []string{"2\x1e4€\x1ebAQIDBA==", "4€\x1ebAQIDBA==", "bAQIDBA==", ""}
	rest := body
	for i, want := range wantRest {
		var err error
		_, rest, err = NextPayloadPacket(rest)
		if err != nil || string(rest) != want {
			t.Fatalf("step %d: rest = %q, %v; want %q", i, rest, err, want)
		}
	}
	if rest != nil {
		t.Errorf("rest after the last packet = %q (non-nil); want nil", rest)
	}
	// A trailing separator leaves an empty, non-nil rest, whose walk fails.
	_, rest, err := NextPayloadPacket([]byte("4a\x1e"))
	if err != nil || rest == nil || len(rest) != 0 {
		t.Errorf("NextPayloadPacket(4a RS) rest = %q (nil %v), %v; want empty non-nil", rest, rest == nil, err)
	}
	if _, rest, err := NextPayloadPacket([]byte("7\x1e4a")); err == nil || rest != nil {
		t.Errorf("NextPayloadPacket(7 RS 4a) = rest %q, %v; want nil, error", rest, err)
	}
}

// TestNextPayloadPacketInPlace checks that decoding base64 only writes inside
// its own packet.
func TestNextPayloadPacketInPlace(t *testing.T) {
	body := []byte("4a\x1ebAQIDBA==\x1e4b")
	_, rest, _ := NextPayloadPacket(body)
	p, rest, err := NextPayloadPacket(rest)
	if err != nil || !samePacket(p, bin(1, 2, 3, 4)) {
		t.Fatalf("got %s, %v", show(p), err)
	}
	if &p.Data[0] != &body[4] {
		t.Errorf("binary Data does not alias the body")
	}
	if string(body[:4]) != "4a\x1eb" || string(body[12:]) != "\x1e4b" || string(rest) != "4b" {
		t.Errorf("decoding wrote outside its packet: %q", body)
	}
}

func TestAppendPayload(t *testing.T) {
	for _, v := range allPayloadVectors() {
		if !v.canonical {
			continue
		}
		if got := appendPayload([]byte("x"), v.packets...); string(got) != "x"+v.wire {
			t.Errorf("appendPayload(%s) = %q; want %q", show(v.packets...), got[1:], v.wire)
		}
		var inc []byte
		for i, p := range v.packets {
			inc = AppendPayloadPacket(inc, i == 0, p)
		}
		if string(inc) != v.wire {
			t.Errorf("AppendPayloadPacket loop = %q; want %q", inc, v.wire)
		}
	}
	if got := appendPayload(nil); len(got) != 0 {
		t.Errorf("appendPayload(nil) = %q; want empty", got)
	}
}

// TestPayloadChop splits the packet list of every valid vector at every
// index: encoding the halves and joining them with AppendPayloadSeparator
// must give the one-shot encoding, and walking each half must give its half.
func TestPayloadChop(t *testing.T) {
	for _, v := range allPayloadVectors() {
		if v.err != nil {
			continue
		}
		whole := appendPayload(nil, v.packets...)
		for k := 1; k < len(v.packets); k++ {
			a := appendPayload(nil, v.packets[:k]...)
			b := appendPayload(nil, v.packets[k:]...)
			joined := append(append(a, Separator), b...)
			if !bytes.Equal(joined, whole) {
				t.Errorf("%q split at %d: joined %q", whole, k, joined)
			}
			pa, erra := walk(string(a))
			pb, errb := walk(string(b))
			if erra != nil || errb != nil || !samePackets(append(pa, pb...), v.packets) {
				t.Errorf("%q split at %d: walked %s %s, %v %v", whole, k, show(pa...), show(pb...), erra, errb)
			}
		}
	}
}

// TestPayloadConcat joins every pair of valid vectors with a separator: the
// walk must yield the two packet lists one after the other.
func TestPayloadConcat(t *testing.T) {
	for _, a := range payloadVectors {
		for _, b := range payloadVectors {
			if a.err != nil || b.err != nil {
				continue
			}
			got, err := walk(a.wire + "\x1e" + b.wire)
			want := append(append([]Packet{}, a.packets...), b.packets...)
			if err != nil || !samePackets(got, want) {
				t.Errorf("walk(%q + RS + %q) = %s, %v", a.wire, b.wire, show(got...), err)
			}
		}
	}
}

// TestPayloadZishang compares with zishang520/engine.io-go-parser, a Go port
// of Node's parser: its encoder must write the same bytes, its decoder must
// find the same packets.
func TestPayloadZishang(t *testing.T) {
	for _, v := range allPayloadVectors() {
		if v.err != nil || !v.canonical {
			continue // zishang requires base64 padding
		}
		zb, err := zEncodePayload(v.packets)
		if err != nil || string(zb) != v.wire {
			t.Errorf("zishang EncodePayload(%s) = %q, %v; want %q", show(v.packets...), zb, err, v.wire)
		}
		zps, err := zDecodePayload([]byte(v.wire))
		if err != nil || !samePackets(zps, v.packets) {
			t.Errorf("zishang DecodePayload(%q) = %s, %v; want %s", v.wire, show(zps...), err, show(v.packets...))
		}
	}
}

// zDecodePayload runs zishang's v4 DecodePayload and converts its packets.
func zDecodePayload(body []byte) ([]Packet, error) {
	zps, err := parser.Parserv4().DecodePayload(types.NewStringBuffer(append([]byte(nil), body...)))
	ps := make([]Packet, 0, len(zps))
	for _, zp := range zps {
		data, rerr := io.ReadAll(zp.Data)
		if rerr != nil {
			return ps, rerr
		}
		_, isBin := zp.Data.(*types.BytesBuffer)
		ps = append(ps, Packet{Type: zType(zp.Type), Data: data, Binary: isBin})
	}
	return ps, err
}

// zEncodePayload runs zishang's v4 EncodePayload on our packets.
func zEncodePayload(ps []Packet) ([]byte, error) {
	zps := make([]*packet.Packet, len(ps))
	for i, p := range ps {
		zp := &packet.Packet{Type: packet.MESSAGE}
		if p.Binary {
			zp.Data = types.NewBytesBuffer(append([]byte(nil), p.Data...))
		} else {
			zp.Type = packet.Type(p.Type.String())
			zp.Data = types.NewStringBuffer(append([]byte(nil), p.Data...))
		}
		zps[i] = zp
	}
	b, err := parser.Parserv4().EncodePayload(zps)
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func zType(t packet.Type) PacketType {
	for pt := Open; pt <= Noop; pt++ {
		if pt.String() == string(t) {
			return pt
		}
	}
	return 0
}
