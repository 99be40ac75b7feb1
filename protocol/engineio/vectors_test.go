package engineio

import (
	"bytes"
	"fmt"
)

// Shared vectors: every test below, encoders and decoders alike, is driven
// by these tables.

// packetVector is one packet and its text wire form (a WebSocket text frame,
// or one packet of a polling body).
type packetVector struct {
	wire string
	p    Packet
}

func text(t PacketType, data string) Packet { return Packet{Type: t, Data: []byte(data)} }
func bin(data ...byte) Packet               { return Packet{Type: Message, Data: data, Binary: true} }

var packetVectors = []packetVector{
	{"0", text(Open, "")},
	{`0{"sid":"x"}`, text(Open, `{"sid":"x"}`)},
	{"1", text(Close, "")},
	{"2", text(Ping, "")},
	{"2probe", text(Ping, "probe")},
	{"3", text(Pong, "")},
	{"3probe", text(Pong, "probe")},
	{"4", text(Message, "")},
	{"4hello", text(Message, "hello")},
	{"4€", text(Message, "€")},
	{`42["chat","hi"]`, text(Message, `2["chat","hi"]`)},
	{"5", text(Upgrade, "")},
	{"6", text(Noop, "")},
}

// binaryVectors are "b<base64>" packets in their canonical (padded) form.
var binaryVectors = []packetVector{
	{"b", bin()},
	{"bAA==", bin(0)},
	{"bAQ==", bin(1)},
	{"bAQI=", bin(1, 2)},
	{"bAQID", bin(1, 2, 3)},
	{"bAQIDBA==", bin(1, 2, 3, 4)},
	{"b/w==", bin(0xff)},
	{"b+/+/", bin(0xfb, 0xff, 0xbf)},
	{"bNGhlbGxv", bin('4', 'h', 'e', 'l', 'l', 'o')},
	{"bHg==", bin(0x1e)},
}

// lenientBinaryVectors decode but are not what the encoder writes.
var lenientBinaryVectors = []packetVector{
	{"bAQ", bin(1)},     // no padding
	{"bAQI", bin(1, 2)}, // no padding
	{"bAR==", bin(1)},   // non-zero trailing bits, ignored like Node and StdEncoding
	{"bAQIDBA", bin(1, 2, 3, 4)},
}

// badPacketVectors fail in ParsePacketInPlace (and so in a payload).
var badPacketVectors = []struct {
	wire string
	err  error
}{
	{"", ErrEmptyPacket},
	{"7", ErrUnknownPacketType},
	{"/", ErrUnknownPacketType},
	{"x4", ErrUnknownPacketType},
	{"B", ErrUnknownPacketType},
	{"\x1e", ErrUnknownPacketType},
	{"\x00", ErrUnknownPacketType},
	{"bA", ErrBadBase64},
	{"bAQ=", ErrBadBase64},
	{"bAQI==", ErrBadBase64},
	{"bA===", ErrBadBase64},
	{"b====", ErrBadBase64},
	{"b=", ErrBadBase64},
	{"bAQ==AQ==", ErrBadBase64},
	{"bAQ ==", ErrBadBase64},
	{"bAQ==\n", ErrBadBase64},
	{"b AQ==", ErrBadBase64},
	{"bAQ-_", ErrBadBase64}, // URL-safe alphabet: Node takes it, we do not
	{"bAQIDB", ErrBadBase64},
	{"b\xff\xff\xff\xff", ErrBadBase64},
}

// payloadVector is a v4 polling body and the packets walking it yields.
// canonical means appendPayload(packets) writes wire back byte for byte; err
// is the error met after the packets (nil for a valid body).
type payloadVector struct {
	wire      string
	packets   []Packet
	canonical bool
	err       error
}

var payloadVectors = []payloadVector{
	// Node v4 (identical in zishang).
	{"4hello\x1e2\x1e4€\x1ebAQIDBA==", []Packet{text(Message, "hello"), text(Ping, ""), text(Message, "€"), bin(1, 2, 3, 4)}, true, nil},
	// engine.io-protocol v4, Packet encoding, HTTP long-polling.
	{"4hello\x1e2\x1e4world", []Packet{text(Message, "hello"), text(Ping, ""), text(Message, "world")}, true, nil},
	{"4hello\x1ebAQIDBA==", []Packet{text(Message, "hello"), bin(1, 2, 3, 4)}, true, nil},
	{"0", []Packet{text(Open, "")}, true, nil},
	{"1", []Packet{text(Close, "")}, true, nil},
	{"6", []Packet{text(Noop, "")}, true, nil},
	{"4", []Packet{text(Message, "")}, true, nil},
	{"b", []Packet{bin()}, true, nil},
	{"b\x1eb", []Packet{bin(), bin()}, true, nil},
	{"4\x1e4\x1e4", []Packet{text(Message, ""), text(Message, ""), text(Message, "")}, true, nil},
	{`42["a",1]` + "\x1e" + `43["b"]`, []Packet{text(Message, `2["a",1]`), text(Message, `3["b"]`)}, true, nil},
	{"bHg==\x1e3probe", []Packet{bin(0x1e), text(Pong, "probe")}, true, nil},
	{"bAQ\x1ebAQI", []Packet{bin(1), bin(1, 2)}, false, nil},

	{"", nil, false, ErrEmptyPayload},
	{"\x1e", nil, false, ErrEmptyPacket},
	{"\x1e4a", nil, false, ErrEmptyPacket},
	{"4a\x1e", []Packet{text(Message, "a")}, false, ErrEmptyPayload},
	{"4a\x1e\x1e2", []Packet{text(Message, "a")}, false, ErrEmptyPacket},
	{"4a\x1e7", []Packet{text(Message, "a")}, false, ErrUnknownPacketType},
	{"4a\x1e2\x1ex\x1e4b", []Packet{text(Message, "a"), text(Ping, "")}, false, ErrUnknownPacketType},
	{"4a\x1eb!!!!\x1e4b", []Packet{text(Message, "a")}, false, ErrBadBase64},
	{"bAQ==\x1e", []Packet{bin(1)}, false, ErrEmptyPayload},
	{"bA\x1e4", nil, false, ErrBadBase64},
}

// bigPayloadVector is a payload vector with a long binary packet, built from data
// that crosses every base64 boundary.
func bigPayloadVector(n int) payloadVector {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	var wire []byte
	wire = appendPayload(wire, text(Message, "x"), Packet{Type: Message, Data: data, Binary: true}, text(Ping, ""))
	return payloadVector{string(wire), []Packet{text(Message, "x"), {Type: Message, Data: data, Binary: true}, text(Ping, "")}, true, nil}
}

// walk decodes a copy of body with NextPayloadPacket; the returned packets
// alias that copy.
func walk(body string) ([]Packet, error) {
	buf := []byte(body)
	var ps []Packet
	for rest := buf; rest != nil; {
		var p Packet
		var err error
		p, rest, err = NextPayloadPacket(rest)
		if err != nil {
			return ps, err
		}
		if rest != nil && len(rest) > len(buf) {
			return ps, fmt.Errorf("rest grew")
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

func samePackets(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !samePacket(a[i], b[i]) {
			return false
		}
	}
	return true
}

// show formats packets for failure messages.
func show(ps ...Packet) string {
	var b bytes.Buffer
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.Binary {
			fmt.Fprintf(&b, "bin(% x)", p.Data)
		} else {
			fmt.Fprintf(&b, "%s(%q)", p.Type, p.Data)
		}
	}
	return "[" + b.String() + "]"
}
