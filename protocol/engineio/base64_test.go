package engineio

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// refDecode is the oracle for decodeBase64InPlace: StdEncoding for padded
// input, RawStdEncoding for unpadded input, and no '\r' or '\n' (which
// encoding/base64 silently drops).
func refDecode(s []byte) ([]byte, bool) {
	if bytes.ContainsAny(s, "\r\n") {
		return nil, false
	}
	enc := base64.RawStdEncoding
	if len(s)%4 == 0 && bytes.HasSuffix(s, []byte("=")) {
		enc = base64.StdEncoding
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	want, wantOK := refDecode(in)
	buf := append([]byte(nil), in...)
	n, ok := decodeBase64InPlace(buf)
	if ok != wantOK || ok && !bytes.Equal(buf[:n], want) {
		t.Fatalf("decodeBase64InPlace(%q) = % x, %v; want % x, %v", in, buf[:n], ok, want, wantOK)
	}
}

// TestDecodeBase64InPlace proves the in-place decoder against encoding/base64
// over every length up to 600, padded and unpadded, with random data.
func TestDecodeBase64InPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 600; n++ {
		for range 8 {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			padded := base64.StdEncoding.AppendEncode(nil, data)
			raw := base64.RawStdEncoding.AppendEncode(nil, data)
			for _, in := range [][]byte{padded, raw} {
				buf := append([]byte(nil), in...)
				m, ok := decodeBase64InPlace(buf)
				if !ok || !bytes.Equal(buf[:m], data) {
					t.Fatalf("decode(%q) = % x, %v; want % x", in, buf[:m], ok, data)
				}
				checkDecode(t, in)
			}
		}
	}
}

// TestDecodeBase64Corrupt flips bytes of valid encodings to bytes from a
// nasty set, and checks the accept/reject decision and output against the
// oracle.
func TestDecodeBase64Corrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nasty := []byte("=+/-_ \r\n\x00\x1e\x80\xffAz09")
	for range 20000 {
		data := make([]byte, r.IntN(40))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		in := base64.StdEncoding.AppendEncode(nil, data)
		if r.IntN(2) == 0 {
			in = base64.RawStdEncoding.AppendEncode(nil, data)
		}
		for range r.IntN(3) + 1 {
			if len(in) == 0 {
				break
			}
			switch r.IntN(3) {
			case 0:
				in[r.IntN(len(in))] = nasty[r.IntN(len(nasty))]
			case 1:
				in = in[:r.IntN(len(in))]
			case 2:
				in = append(in, nasty[r.IntN(len(nasty))])
			}
		}
		checkDecode(t, in)
	}
}

func TestDecodeBase64Vectors(t *testing.T) {
	for _, v := range append(append([]packetVector{}, binaryVectors...), lenientBinaryVectors...) {
		checkDecode(t, []byte(v.wire[1:]))
	}
	for _, v := range badPacketVectors {
		if v.err == ErrBadBase64 {
			checkDecode(t, []byte(v.wire[1:]))
		}
	}
}
