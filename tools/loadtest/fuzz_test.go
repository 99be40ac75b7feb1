package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/http"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	for _, v := range frameVectors {
		wire, _ := hex.DecodeString(v.wire)
		f.Add(wire)
	}
	f.Add([]byte{0x01, 0x02, 'a', 'b', 0x80, 0x01, 'c'}) // a fragmented text message
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n %d", err, n)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n %d for %d bytes", n, len(b))
		}
		// Round trip: a final frame re-encodes to the same bytes (the
		// decoder accepts only the minimal length encoding).
		if fr.Fin {
			p := bytes.Clone(fr.Payload)
			if fr.Masked {
				MaskBytes(fr.Mask, p, 0)
			}
			again := AppendFrame(nil, fr.OpCode, p, fr.Masked, fr.Mask)
			if !bytes.Equal(again, b[:n]) {
				t.Fatalf("re-encoded %x, want %x", again, b[:n])
			}
		}
		// Chop: every shorter prefix needs more bytes.
		for i := 0; i < n; i += 1 + i/8 {
			if _, k, err := ParseFrame(b[:i]); err != ErrNeedMore || k != 0 {
				t.Fatalf("prefix %d of a %d-byte frame: %d %v", i, n, k, err)
			}
		}
	})
}

func FuzzParseSIOPacket(f *testing.F) {
	for _, v := range sioVectors {
		f.Add([]byte(v.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSIOPacket(b)
		if err != nil {
			return
		}
		// Every field is a piece of the input, in order.
		if p.Type != b[0] || len(p.Data) > len(b) || !bytes.HasSuffix(b, p.Data) {
			t.Fatalf("%q: %+v", b, p)
		}
		if string(p.Nsp) != "/" && !bytes.Contains(b, p.Nsp) {
			t.Fatalf("%q: namespace %q not in the input", b, p.Nsp)
		}
		if p.Type == sioEvent {
			if name, args, err := ParseEventData(p.Data); err == nil && (len(name)+len(args) > len(p.Data)) {
				t.Fatalf("%q: name %q args %q longer than the data", b, name, args)
			}
		}
	})
}

// FuzzParseUpgradeResponse compares the status code with net/http's parser.
func FuzzParseUpgradeResponse(f *testing.F) {
	f.Add([]byte(switching))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseUpgradeResponse(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n %d", err, n)
			}
			return
		}
		if n > len(b) || !bytes.HasSuffix(b[:n], []byte("\r\n\r\n")) {
			t.Fatalf("n %d does not end at the blank line", n)
		}
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:n])), nil)
		if herr == nil && resp.StatusCode != r.Status {
			t.Fatalf("status %d, net/http says %d", r.Status, resp.StatusCode)
		}
	})
}

// FuzzSeqTracker compares the tracker with an exact model (a set) on
// sequences that stay inside the window.
func FuzzSeqTracker(f *testing.F) {
	f.Add([]byte{1, 2, 3, 3, 5, 4})
	f.Add([]byte{9, 1, 1, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr SeqTracker
		seen := map[uint64]bool{}
		var hi, dup, reord, invalid uint64
		for _, x := range b {
			s := uint64(x) // < 256 < seqWindow: no late arrivals
			switch {
			case s == 0:
				invalid++
			case seen[s]:
				dup++
			default:
				if s < hi {
					reord++
				}
				seen[s] = true
				hi = max(hi, s)
			}
			tr.Observe(s)
		}
		if tr.Unique != uint64(len(seen)) || tr.Duplicates != dup || tr.Reordered != reord || tr.Invalid != invalid || tr.Late != 0 {
			t.Fatalf("tracker %+v, model unique %d dup %d reordered %d invalid %d", tr, len(seen), dup, reord, invalid)
		}
	})
}
