package engineio

import "bytes"

// Separator joins the packets of a v4 polling body: "The packets are
// separated by the record separator character: \x1e" (engine.io-protocol v4,
// Packet encoding, HTTP long-polling).
const Separator byte = 0x1e

// NextPayloadPacket splits the next packet off an EIO v4 polling body
// (packets joined by 0x1e). It returns the packet, the rest of the body after
// the separator (nil when there was no separator, i.e. p was the last
// packet), and an error. It follows bufio.SplitFunc in spirit: call it again
// on rest while rest != nil.
//
//	for rest := body; rest != nil; {
//		var p engineio.Packet
//		p, rest, err = engineio.NextPayloadPacket(rest)
//		if err != nil { /* close the session: "parse error" */ }
//		handle(p)
//	}
//
// A "b<base64>" packet is base64-decoded in place (the output overwrites the
// input bytes of that packet; it is always shorter) and returned with Binary
// set and Type Message. Data aliases body. It never allocates.
//
// Errors follow Node's decodePayload, which splits on 0x1e and stops at the
// first packet that does not decode: ErrEmptyPayload when body is empty
// (also after a trailing separator), ErrEmptyPacket for an empty packet
// between separators, ErrUnknownPacketType, ErrBadBase64. On error rest is
// nil; packets returned before the error are valid, as in Node, which
// delivers them before closing.
func NextPayloadPacket(body []byte) (p Packet, rest []byte, err error) {
	if len(body) == 0 {
		return Packet{}, nil, ErrEmptyPayload
	}
	raw := body
	if i := bytes.IndexByte(body, Separator); i >= 0 {
		raw, rest = body[:i:i], body[i+1:]
	}
	p, err = ParsePacketInPlace(raw)
	if err != nil {
		return Packet{}, nil, err
	}
	return p, rest, nil
}

// AppendPayloadPacket appends one packet of a polling body: the separator
// first unless first is set, then the text form of p: a polling body is
// built packet by packet, without a []Packet.
func AppendPayloadPacket(dst []byte, first bool, p Packet) []byte {
	if !first {
		dst = append(dst, Separator)
	}
	return AppendPacket(dst, p)
}
