package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	zparser "github.com/zishang520/socket.io-go-parser/v2/parser"

	"sioloop/protocol/jsonscan"
)

// zishang decodes in with the Go port of Node's parser. accepted is
// whether the text packet was accepted; for a binary packet, recErr is
// the reconstruction error once Attachments empty buffers were fed.
func zishang(t *testing.T, in []byte) (p *zparser.Packet, accepted bool, recErr error) {
	defer func() {
		if r := recover(); r != nil {
			t.Logf("zishang panicked on %q: %v", in, r) // its bug, not ours: skip
			p, accepted = nil, false
			recErr = errors.New("panic")
		}
	}()
	d := zparser.NewDecoder()
	d.On("decoded", func(a ...any) { p, _ = a[0].(*zparser.Packet) })
	if err := d.Add(string(in)); err != nil {
		return nil, false, nil
	}
	if p != nil {
		return p, true, nil
	}
	// A binary packet waits for its attachments: feed as many as it
	// announced (zishang has no limit; stop at 64) to get the packet.
	n, _ := strconv.Atoi(string(in[1:max(1, bytes.IndexByte(in, '-'))]))
	if n > 64 {
		return nil, true, nil
	}
	for i := 0; i < n; i++ {
		if err := d.Add([]byte{byte(i)}); err != nil {
			return nil, true, err
		}
	}
	return p, true, nil
}

// FuzzParseDifferential compares Parse with github.com/zishang520's Go
// port of socket.io-parser, semantically: accept or refuse, then type,
// namespace and ack id, and the validity of binary placeholders.
//
// Known differences of that port from Node, skipped here (Parse follows
// Node, or is stricter than both, as the package documentation says):
//   - it has no attachment limit and accepts "0-" (Node: "too many
//     attachments", "Illegal attachments");
//   - it reads ack ids as uint64 (Parse: at most MaxAckID);
//   - it decodes only the first JSON value, ignoring what follows and
//     skipping leading whitespace (Node: JSON.parse of the whole rest);
//   - it accepts DISCONNECT with payload null (Node: payload === undefined);
//   - its reserved names lack newListener and removeListener, and it
//     refuses a number as event name (Node accepts [42]);
//   - it refuses numbers beyond float64 range, such as 1e400 (Node: Infinity);
//   - reconstruction treats a placeholder without a numeric "num" as a
//     plain object and truncates a fractional num (Node throws for the
//     first; CheckPlaceholders refuses both);
//
// and Parse's own stricter rules: EVENT/ACK without a payload, ACK
// without an id, nesting deeper than MaxDepth.
func FuzzParseDifferential(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := Parse(in)
		zp, zok, zrec := zishang(t, in)
		if zrec != nil && zrec.Error() == "panic" {
			return
		}
		switch {
		case err != nil && !zok:
			return
		case err != nil:
			if knownStricter(err, in, zp) {
				return
			}
			t.Fatalf("Parse(%q) = %v, zishang accepts it as %+v", in, err, zp)
		case !zok:
			if knownLaxer(h) {
				return
			}
			t.Fatalf("Parse(%q) accepts, zishang refuses it", in)
		}
		// Both accept.
		binary := h.Type == BinaryEvent || h.Type == BinaryAck
		if binary {
			ours := CheckPlaceholders(h.Data, h.Attachments)
			if zrec != nil && ours == nil {
				t.Fatalf("zishang cannot reconstruct %q (%v), CheckPlaceholders accepts it", in, zrec)
			}
			if zrec != nil || ours != nil {
				return // the other direction is the documented laxness of zishang
			}
		}
		if zp == nil {
			t.Fatalf("zishang decoded nothing for %q", in)
		}
		nsp := append(append([]byte(nil), h.Namespace...), h.Query...)
		if byte(zp.Type) != byte(h.Type) || zp.Nsp != string(nsp) {
			t.Fatalf("Parse(%q): %s %q, zishang %s %q", in, h.Type, nsp, zp.Type, zp.Nsp)
		}
		if (zp.Id != nil) != h.HasAck || (zp.Id != nil && *zp.Id != h.AckID) {
			t.Fatalf("Parse(%q): ack %v %d, zishang %v", in, h.HasAck, h.AckID, zp.Id)
		}
	})
}

// knownStricter reports whether Parse refusing in, which zishang accepts
// as zp, is one of the documented differences.
func knownStricter(err error, in []byte, zp *zparser.Packet) bool {
	switch {
	case errors.Is(err, ErrTooManyAttachments), errors.Is(err, ErrTooDeep):
		return true
	case errors.Is(err, ErrBadAttachments):
		return zp != nil && zp.Attachments != nil && *zp.Attachments == 0
	case errors.Is(err, ErrBadAckID):
		return zp == nil || zp.Id == nil || *zp.Id > MaxAckID // nil zp: still waiting for attachments
	case errors.Is(err, ErrInvalidJSON):
		// zishang's json.Decoder skips leading whitespace and stops after
		// the first value; anything else is a disagreement on JSON itself.
		span := in[headerLen(in):]
		return len(span) > 0 && (jsonscan.IsSpace(span[0]) || !json.Valid(span))
	case errors.Is(err, ErrReservedEvent):
		return bytes.Contains(in, b("Listener"))
	case errors.Is(err, ErrInvalidPayload):
		if zp == nil {
			return false
		}
		return zp.Data == nil // EVENT/ACK without payload, DISCONNECT with null
	}
	return false
}

// knownLaxer reports whether Parse accepting h, which zishang refuses, is
// one of the documented differences.
func knownLaxer(h Header) bool {
	if h.Type == Event || h.Type == BinaryEvent {
		if c := h.Data[jsonscan.SkipSpace(h.Data, 1)]; c == '-' || jsonscan.IsDigit(c) {
			return true // a number as event name
		}
	}
	var v any
	return json.Unmarshal(h.Data, &v) != nil // a number beyond float64
}

// headerLen returns the length of the packet header of in, scanned the
// way both parsers do, for a packet whose header is well-formed.
func headerLen(in []byte) int {
	i := 1
	if in[0] == byte(BinaryEvent) || in[0] == byte(BinaryAck) {
		i += bytes.IndexByte(in, '-')
	}
	if i < len(in) && in[i] == '/' {
		if k := bytes.IndexByte(in[i:], ','); k >= 0 {
			i += k + 1
		} else {
			i = len(in)
		}
	}
	for i < len(in) && jsonscan.IsDigit(in[i]) {
		i++
	}
	return i
}
