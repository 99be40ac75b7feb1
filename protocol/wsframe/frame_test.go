package wsframe

import (
	"bytes"
	"errors"
	"testing"
)

// mask is the masking key of the RFC 6455 §5.7 examples.
var mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// masked returns a masked client frame header: b0, then the length in the
// encoding chosen by lenBytes (0: 7-bit, 2: 16-bit, 8: 64-bit), then mask.
func masked(b0 byte, lenBytes int, length uint64) []byte {
	b := []byte{b0}
	switch lenBytes {
	case 0:
		b = append(b, 0x80|byte(length))
	case 2:
		b = append(b, 0x80|126, byte(length>>8), byte(length))
	case 8:
		b = append(b, 0x80|127)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(length>>(8*i)))
		}
	}
	return append(b, mask[:]...)
}

// clientVectors drive ParseHeader, its chop test and ParseHeaderAny.
var clientVectors = []struct {
	name string
	in   []byte
	want Header
	n    int
	err  error
}{
	// RFC 6455 §5.7: "A single-frame masked text message" containing "Hello".
	{"rfc masked Hello", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		Header{Fin: true, OpCode: OpText, Masked: true, Mask: mask, Length: 5}, 6, nil},
	// RFC 6455 §5.7: "Unmasked Ping request and masked Ping response" (the Pong).
	{"rfc masked Pong", []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d},
		Header{Fin: true, OpCode: OpPong, Masked: true, Mask: mask, Length: 5}, 6, nil},
	{"empty text", masked(0x81, 0, 0), Header{Fin: true, OpCode: OpText, Masked: true, Mask: mask}, 6, nil},
	{"first fragment", masked(0x01, 0, 3), Header{OpCode: OpText, Masked: true, Mask: mask, Length: 3}, 6, nil},
	{"continuation", masked(0x80, 0, 2), Header{Fin: true, OpCode: OpContinuation, Masked: true, Mask: mask, Length: 2}, 6, nil},
	{"close 125", masked(0x88, 0, 125), Header{Fin: true, OpCode: OpClose, Masked: true, Mask: mask, Length: 125}, 6, nil},
	{"binary 7-bit 125", masked(0x82, 0, 125), Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: mask, Length: 125}, 6, nil},
	{"binary 16-bit 256", masked(0x82, 2, 256), Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: mask, Length: 256}, 8, nil},
	{"binary 16-bit 65535", masked(0x82, 2, 65535), Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: mask, Length: 65535}, 8, nil},
	{"binary 64-bit 65536", masked(0x82, 8, 65536), Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: mask, Length: 65536}, 14, nil},
	{"binary 64-bit max", masked(0x82, 8, 1<<63-1), Header{Fin: true, OpCode: OpBinary, Masked: true, Mask: mask, Length: 1<<63 - 1}, 14, nil},
	// Non-minimal encodings are accepted (see the package doc).
	{"non-minimal 16-bit 5", masked(0x81, 2, 5), Header{Fin: true, OpCode: OpText, Masked: true, Mask: mask, Length: 5}, 8, nil},
	{"non-minimal 64-bit 5", masked(0x81, 8, 5), Header{Fin: true, OpCode: OpText, Masked: true, Mask: mask, Length: 5}, 14, nil},

	{"rsv1", masked(0xc1, 0, 5), Header{}, 0, ErrReservedBits},
	{"rsv2", masked(0xa1, 0, 5), Header{}, 0, ErrReservedBits},
	{"rsv3", masked(0x91, 0, 5), Header{}, 0, ErrReservedBits},
	{"opcode 3", masked(0x83, 0, 5), Header{}, 0, ErrBadOpCode},
	{"opcode 7", masked(0x87, 0, 5), Header{}, 0, ErrBadOpCode},
	{"opcode B", masked(0x8b, 0, 5), Header{}, 0, ErrBadOpCode},
	{"opcode F", masked(0x8f, 0, 5), Header{}, 0, ErrBadOpCode},
	{"ping without FIN", masked(0x09, 0, 5), Header{}, 0, ErrControlFragmented},
	{"close without FIN", masked(0x08, 0, 0), Header{}, 0, ErrControlFragmented},
	{"ping 126 bytes", masked(0x89, 2, 126), Header{}, 0, ErrControlTooLong},
	{"pong 64-bit length", masked(0x8a, 8, 5), Header{}, 0, ErrControlTooLong},
	// RFC 6455 §5.7: "A single-frame unmasked text message".
	{"rfc unmasked Hello", []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, Header{}, 0, ErrUnmasked},
	{"unmasked 64-bit", []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, Header{}, 0, ErrUnmasked},
	{"length MSB", masked(0x82, 8, 1<<63), Header{}, 0, ErrBadLength},
	{"length all ones", masked(0x82, 8, 1<<64-1), Header{}, 0, ErrBadLength},
}

func TestParseHeader(t *testing.T) {
	for _, v := range clientVectors {
		h, n, err := ParseHeader(v.in)
		if h != v.want || n != v.n || err != v.err {
			t.Errorf("%s: ParseHeader(% x) = %+v, %d, %v; want %+v, %d, %v", v.name, v.in, h, n, err, v.want, v.n, v.err)
		}
		// ParseHeaderAny decodes what ParseHeader accepts the same way, and
		// fails only where ParseHeader does, the same way.
		ah, an, aerr := ParseHeaderAny(v.in)
		switch {
		case err == nil && (aerr != nil || ah != h || an != n):
			t.Errorf("%s: ParseHeaderAny = %+v, %d, %v; want %+v, %d", v.name, ah, an, aerr, h, n)
		case aerr != nil && aerr != v.err:
			t.Errorf("%s: ParseHeaderAny err = %v, want %v", v.name, aerr, v.err)
		}
	}
}

// TestParseHeaderChop feeds every prefix of every vector: a prefix yields
// ErrNeedMore with nothing consumed, or already the error of the whole input;
// the whole input (plus trailing payload bytes) yields the one-shot result.
func TestParseHeaderChop(t *testing.T) {
	for _, v := range clientVectors {
		for i := range len(v.in) {
			h, n, err := ParseHeader(v.in[:i])
			if i < v.n || v.err != nil {
				if n != 0 || h != (Header{}) || (err != ErrNeedMore && err != v.err) {
					t.Errorf("%s: prefix %d: %+v, %d, %v", v.name, i, h, n, err)
				}
				continue
			}
			if h != v.want || n != v.n || err != nil {
				t.Errorf("%s: prefix %d: %+v, %d, %v; want %+v, %d", v.name, i, h, n, err, v.want, v.n)
			}
		}
	}
}

func TestParseHeaderEmpty(t *testing.T) {
	for _, f := range []func([]byte) (Header, int, error){ParseHeader, ParseHeaderAny} {
		if _, n, err := f(nil); n != 0 || err != ErrNeedMore {
			t.Errorf("nil input: %d, %v", n, err)
		}
	}
}

func TestParseHeaderAnyServerFrames(t *testing.T) {
	f := func(in []byte, want Header, wantN int) {
		t.Helper()
		h, n, err := ParseHeaderAny(in)
		if h != want || n != wantN || err != nil {
			t.Errorf("ParseHeaderAny(% x) = %+v, %d, %v; want %+v, %d", in, h, n, err, want, wantN)
		}
	}
	// RFC 6455 §5.7 unmasked examples.
	f([]byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, Header{Fin: true, OpCode: OpText, Length: 5}, 2)
	f([]byte{0x01, 0x03, 0x48, 0x65, 0x6c}, Header{OpCode: OpText, Length: 3}, 2)
	f([]byte{0x80, 0x02, 0x6c, 0x6f}, Header{Fin: true, OpCode: OpContinuation, Length: 2}, 2)
	f([]byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, Header{Fin: true, OpCode: OpPing, Length: 5}, 2)
	f([]byte{0x82, 0x7e, 0x01, 0x00}, Header{Fin: true, OpCode: OpBinary, Length: 256}, 4)
	f([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, Header{Fin: true, OpCode: OpBinary, Length: 65536}, 10)
	// No policy: RSV bits and reserved opcodes are reported, not refused.
	f([]byte{0xc1, 0x00}, Header{Fin: true, Rsv: 4, OpCode: OpText}, 2)
	f([]byte{0x0b, 0x7e, 0x00, 0x80}, Header{OpCode: 0xb, Length: 128}, 4)
}

func TestRoundTrip(t *testing.T) {
	lengths := []int{-1, 0, 1, 125, 126, 127, 1000, 65535, 65536, 1 << 20, 1<<31 + 5, 1<<62 + 3}
	for _, op := range []OpCode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong} {
		for _, fin := range []bool{false, true} {
			for _, l := range lengths {
				b := AppendHeader([]byte("x"), fin, op, l)
				h, n, err := ParseHeaderAny(b[1:])
				want := Header{Fin: fin, OpCode: op, Length: int64(max(l, 0))}
				if err != nil || h != want || n != len(b)-1 || n != HeaderSize(l) {
					t.Errorf("AppendHeader(%v, %#x, %d) = % x: parsed %+v, %d, %v", fin, op, l, b, h, n, err)
				}
			}
		}
	}
}

func TestAppendFrame(t *testing.T) {
	// RFC 6455 §5.7 unmasked "Hello".
	if got, want := AppendFrame(nil, OpText, []byte("Hello")), []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}; !bytes.Equal(got, want) {
		t.Errorf("AppendFrame = % x, want % x", got, want)
	}
	payload := bytes.Repeat([]byte{7}, 256)
	got := AppendFrame(nil, OpBinary, payload)
	if !bytes.Equal(got[:4], []byte{0x82, 0x7e, 0x01, 0x00}) || !bytes.Equal(got[4:], payload) {
		t.Errorf("AppendFrame 256 = % x...", got[:8])
	}
}

func TestPutHeaderBefore(t *testing.T) {
	for _, l := range []int{0, 5, 125, 126, 65535, 65536} {
		buf := make([]byte, MaxServerHeaderSize+l)
		for i := range l {
			buf[MaxServerHeaderSize+i] = byte(i)
		}
		start := PutHeaderBefore(buf, MaxServerHeaderSize, true, OpBinary)
		want := AppendFrame(nil, OpBinary, buf[MaxServerHeaderSize:])
		if start != MaxServerHeaderSize-HeaderSize(l) || !bytes.Equal(buf[start:], want) {
			t.Errorf("length %d: start %d, frame % x...", l, start, buf[max(start, 0):][:8])
		}
	}
	f := func(buf []byte, payloadStart int) {
		t.Helper()
		before := bytes.Clone(buf)
		if got := PutHeaderBefore(buf, payloadStart, true, OpText); got != -1 || !bytes.Equal(buf, before) {
			t.Errorf("PutHeaderBefore(len %d, %d) = %d, want -1 and buf untouched", len(buf), payloadStart, got)
		}
	}
	f(make([]byte, 10), 1)      // 9-byte payload needs 2 bytes of header
	f(make([]byte, 3+126), 3)   // 126-byte payload needs 4
	f(make([]byte, 9+65536), 9) // 65536-byte payload needs 10
	f(make([]byte, 10), -1)     // out of range
	f(make([]byte, 10), 11)     // out of range
}

func TestUnmask(t *testing.T) {
	// RFC 6455 §5.7 masked "Hello".
	p := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	Unmask(p, mask)
	if string(p) != "Hello" {
		t.Fatalf("Unmask = %q", p)
	}
	// Against a byte-by-byte XOR, across the SIMD block boundaries.
	for n := range 100 {
		p := make([]byte, n)
		want := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
			want[i] = p[i] ^ mask[i%4]
		}
		Unmask(p, mask)
		if !bytes.Equal(p, want) {
			t.Fatalf("Unmask length %d = % x, want % x", n, p, want)
		}
	}
}

func TestCheckFragment(t *testing.T) {
	f := func(op OpCode, inMessage bool, want error) {
		t.Helper()
		if err := CheckFragment(Header{OpCode: op}, inMessage); err != want {
			t.Errorf("CheckFragment(%#x, %v) = %v, want %v", op, inMessage, err, want)
		}
	}
	f(OpText, false, nil)
	f(OpBinary, false, nil)
	f(OpContinuation, false, ErrUnexpectedContinuation)
	f(OpContinuation, true, nil)
	f(OpText, true, ErrExpectedContinuation)
	f(OpBinary, true, ErrExpectedContinuation)
	f(OpPing, true, nil)
	f(OpClose, false, nil)
}

func TestCloseCode(t *testing.T) {
	f := func(err error, want int) {
		t.Helper()
		if got := CloseCode(err); got != want {
			t.Errorf("CloseCode(%v) = %d, want %d", err, got, want)
		}
	}
	f(nil, 0)
	f(ErrNeedMore, 0)
	f(ErrUnmasked, CloseProtocolError)
	f(ErrReservedBits, CloseProtocolError)
	f(ErrInvalidUTF8, CloseInvalidPayload)
	f(errors.Join(errors.New("context"), ErrBadLength), CloseProtocolError)
	f(errors.New("other"), CloseInternalError)
	if got := ErrUnmasked.Error(); got != "wsframe: unmasked client frame" {
		t.Errorf("message %q", got)
	}
}

func TestOpCode(t *testing.T) {
	for op := OpCode(0); op < 16; op++ {
		reserved := op != OpContinuation && op != OpText && op != OpBinary && op != OpClose && op != OpPing && op != OpPong
		if op.IsReserved() != reserved || op.IsControl() != (op >= 8) {
			t.Errorf("%#x: IsReserved %v IsControl %v", op, op.IsReserved(), op.IsControl())
		}
	}
}

func TestValidUTF8(t *testing.T) {
	f := func(in string, want bool) {
		t.Helper()
		if got := ValidUTF8([]byte(in)); got != want {
			t.Errorf("ValidUTF8(%q) = %v", in, got)
		}
	}
	f("", true)
	f("héllo €😀", true)
	f("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true)
	f("\xed\xa0\x80", false)     // UTF-16 surrogate
	f("\xf4\x90\x80\x80", false) // above U+10FFFF
	f("\xe2\x82", false)         // truncated
	f("\xc0\xaf", false)         // overlong
}
