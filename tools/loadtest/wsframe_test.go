package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// frameVectors drive both AppendFrame and ParseFrame.
var frameVectors = []struct {
	name    string
	op      byte
	payload string
	masked  bool
	key     uint32
	wire    string // hex
}{
	// RFC 6455 §5.7 examples.
	{"rfc unmasked Hello", opText, "Hello", false, 0, "810548656c6c6f"},
	{"rfc masked Hello", opText, "Hello", true, 0x37fa213d, "818537fa213d7f9f4d5158"},
	{"rfc unmasked ping", opPing, "Hello", false, 0, "890548656c6c6f"},
	{"empty", opText, "", false, 0, "8100"},
	{"engine.io ping", opText, "2", false, 0, "810132"},
	{"masked pong", opText, "3", true, 0x01020304, "81810102030432"},
	{"close 1000", opClose, "\x03\xe8", true, 0, "88820000000003e8"},
	{"125 bytes", opText, strings.Repeat("a", 125), false, 0, "817d" + strings.Repeat("61", 125)},
	{"126 bytes", opBinary, strings.Repeat("b", 126), false, 0, "827e007e" + strings.Repeat("62", 126)},
	{"65536 bytes", opBinary, strings.Repeat("c", 65536), false, 0, "827f0000000000010000" + strings.Repeat("63", 65536)},
}

func TestAppendFrame(t *testing.T) {
	for _, v := range frameVectors {
		got := AppendFrame(nil, v.op, []byte(v.payload), v.masked, v.key)
		if hex.EncodeToString(got) != v.wire {
			t.Errorf("%s: AppendFrame = %.80x, want %.80s", v.name, got, v.wire)
		}
	}
}

func TestParseFrame(t *testing.T) {
	for _, v := range frameVectors {
		wire, _ := hex.DecodeString(v.wire)
		in := append(wire, 0xAA) // a trailing byte must not be consumed
		f, n, err := ParseFrame(in)
		if err != nil || n != len(wire) {
			t.Errorf("%s: ParseFrame = n %d err %v, want n %d", v.name, n, err, len(wire))
			continue
		}
		p := bytes.Clone(f.Payload)
		if f.Masked {
			MaskBytes(f.Mask, p, 0)
		}
		if !f.Fin || f.OpCode != v.op || f.Masked != v.masked || f.Mask != v.key || string(p) != v.payload {
			t.Errorf("%s: got fin %v op %d masked %v key %x payload %.20q", v.name, f.Fin, f.OpCode, f.Masked, f.Mask, p)
		}
	}
}

// TestParseFrameChop feeds every prefix of each vector: shorter than the
// frame gives ErrNeedMore and consumes nothing, the whole frame decodes the
// same as in one piece.
func TestParseFrameChop(t *testing.T) {
	for _, v := range frameVectors {
		wire, _ := hex.DecodeString(v.wire)
		want, wantN, _ := ParseFrame(wire)
		// For big frames, split in the header and near the end only.
		next := func(i int) int {
			if len(wire) > 512 && i == 32 {
				return len(wire) - 32
			}
			return i + 1
		}
		for i := 0; i < len(wire); i = next(i) {
			if _, n, err := ParseFrame(wire[:i]); err != ErrNeedMore || n != 0 {
				t.Fatalf("%s: prefix %d: n %d err %v, want ErrNeedMore", v.name, i, n, err)
			}
		}
		// Decode it as a stream: the prefix arrives, then the rest.
		for i := 0; i <= len(wire); i = next(i) {
			buf := append([]byte(nil), wire[:i]...)
			_, n, err := ParseFrame(buf)
			if err == ErrNeedMore {
				buf = append(buf, wire[i:]...)
				_, n, err = ParseFrame(buf)
			}
			f, _, _ := ParseFrame(buf)
			if err != nil || n != wantN || f.OpCode != want.OpCode || !bytes.Equal(f.Payload, want.Payload) {
				t.Fatalf("%s: split at %d: n %d err %v", v.name, i, n, err)
			}
		}
	}
}

func TestParseFrameErrors(t *testing.T) {
	f := func(name, wireHex string, want error) {
		t.Helper()
		wire, _ := hex.DecodeString(wireHex)
		if _, n, err := ParseFrame(wire); !errors.Is(err, want) || n != 0 {
			t.Errorf("%s: n %d err %v, want %v", name, n, err, want)
		}
	}
	f("rsv1", "c100", ErrFrameReservedBits)
	f("rsv3", "9100", ErrFrameReservedBits)
	f("opcode 3", "8300", ErrFrameOpCode)
	f("opcode 0xB", "8b00", ErrFrameOpCode)
	f("fragmented ping", "0900", ErrFrameControl)
	f("126-byte close", "887e007e", ErrFrameControl)
	f("16-bit length 125", "817e007d", ErrFrameLength)
	f("64-bit length 65535", "817f000000000000ffff", ErrFrameLength)
	f("64-bit length high bit", "817f8000000000000000", ErrFrameLength)
	f("too big", "827f0000000100000000", ErrFrameTooBig)
}

func TestMaskBytes(t *testing.T) {
	// Against a byte-at-a-time reference, for every length and offset.
	key := uint32(0xA1B2C3D4)
	k := [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	for n := 0; n < 40; n++ {
		for pos := 0; pos < 4; pos++ {
			in := make([]byte, n)
			for i := range in {
				in[i] = byte(i*7 + 1)
			}
			got := bytes.Clone(in)
			MaskBytes(key, got, pos)
			for i := range in {
				if got[i] != in[i]^k[(i+pos)&3] {
					t.Fatalf("n %d pos %d: byte %d = %x, want %x", n, pos, i, got[i], in[i]^k[(i+pos)&3])
				}
			}
			MaskBytes(key, got, pos)
			if !bytes.Equal(got, in) {
				t.Fatalf("n %d pos %d: masking twice did not restore the input", n, pos)
			}
		}
	}
}

func TestAppendFrameLeavesPayload(t *testing.T) {
	p := []byte("payload")
	AppendFrame(make([]byte, 0, 64), opText, p, true, 0xFFFFFFFF)
	if string(p) != "payload" {
		t.Fatalf("AppendFrame modified its payload: %q", p)
	}
}
