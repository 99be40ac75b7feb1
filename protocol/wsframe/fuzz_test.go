package wsframe

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// FuzzParseHeader checks ParseHeader against gobwas/ws ReadHeader followed by
// CheckHeader for a server (continuation sequencing left out: it needs state).
// Known, deliberate difference: a control frame whose short length uses the
// 16- or 64-bit encoding is refused by us (and by Node's ws), accepted by
// gobwas/ws. It also checks that every prefix gives ErrNeedMore or the same
// error, and that ParseHeaderAny decodes an accepted header the same way.
func FuzzParseHeader(f *testing.F) {
	for _, v := range clientVectors {
		f.Add(v.in)
	}
	f.Add([]byte{})
	f.Add([]byte{0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil && (n != 0 || h != (Header{})) {
			t.Fatalf("error %v with n=%d h=%+v", err, n, h)
		}
		for i := range min(len(b), n) {
			if _, pn, perr := ParseHeader(b[:i]); perr != ErrNeedMore || pn != 0 {
				t.Fatalf("prefix %d of an accepted header: %d, %v", i, pn, perr)
			}
		}
		if err != nil && err != ErrNeedMore {
			for i := range len(b) {
				if _, _, perr := ParseHeader(b[:i]); perr != ErrNeedMore && perr != err {
					t.Fatalf("prefix %d: %v, full input: %v", i, perr, err)
				}
			}
		}
		if ah, an, aerr := ParseHeaderAny(b); err == nil && (aerr != nil || ah != h || an != n) {
			t.Fatalf("ParseHeader %+v %d, ParseHeaderAny %+v %d %v", h, n, ah, an, aerr)
		}

		rd := bytes.NewReader(b)
		gh, gerr := ws.ReadHeader(rd)
		gn := len(b) - rd.Len() // bytes gobwas consumed
		switch {
		case gerr == io.EOF || gerr == io.ErrUnexpectedEOF:
			// Incomplete for gobwas: we need more too, unless the bytes we
			// have already break a rule; then gobwas must refuse them once
			// completed with zeros.
			if err == ErrNeedMore {
				return
			}
			if err == nil {
				t.Fatalf("accepted %d bytes gobwas finds incomplete: %+v", n, h)
			}
			padded := append(bytes.Clone(b), make([]byte, MaxHeaderSize)...)
			gh, gerr = ws.ReadHeader(bytes.NewReader(padded))
			if err == ErrControlTooLong && b[1]&0x7f > MaxControlPayload {
				return // the deliberate difference
			}
			if gerr == nil && checkServer(gh) == nil {
				t.Fatalf("refused %v, gobwas accepts it completed: %+v", err, gh)
			}
		case gerr != nil:
			if err == nil || err == ErrNeedMore {
				t.Fatalf("gobwas refuses (%v), we return %+v, %v", gerr, h, err)
			}
		case checkServer(gh) != nil:
			if err == nil || err == ErrNeedMore {
				t.Fatalf("gobwas CheckHeader refuses (%v), we return %+v, %v", checkServer(gh), h, err)
			}
		default:
			if err != nil {
				if err == ErrControlTooLong && b[1]&0x7f > MaxControlPayload {
					return // the deliberate difference
				}
				t.Fatalf("gobwas accepts %+v, we refuse: %v", gh, err)
			}
			if h != fromGobwas(gh) || n != gn {
				t.Fatalf("we %+v (%d bytes), gobwas %+v (%d bytes)", h, n, gh, gn)
			}
		}
	})
}

// fromGobwas converts a gobwas/ws header to ours (the fields are the same).
func fromGobwas(h ws.Header) Header {
	return Header{Fin: h.Fin, Rsv: h.Rsv, OpCode: OpCode(h.OpCode), Masked: h.Masked, Mask: h.Mask, Length: h.Length}
}

// checkServer is gobwas/ws CheckHeader for a server, with continuation frames
// checked as if a fragmented message were open (our ParseHeader is stateless).
func checkServer(h ws.Header) error {
	s := ws.StateServerSide
	if h.OpCode == ws.OpContinuation {
		s |= ws.StateFragmented
	}
	return ws.CheckHeader(h, s)
}

// FuzzHeaderRoundTrip checks that ParseHeaderAny decodes what AppendHeader
// and PutHeaderBefore encode.
func FuzzHeaderRoundTrip(f *testing.F) {
	f.Add(true, byte(1), 5)
	f.Add(false, byte(2), 126)
	f.Add(true, byte(9), 65536)
	f.Fuzz(func(t *testing.T, fin bool, op byte, length int) {
		o := OpCode(op & 0xf)
		b := AppendHeader(nil, fin, o, length)
		h, n, err := ParseHeaderAny(b)
		want := Header{Fin: fin, OpCode: o, Length: int64(max(length, 0))}
		if err != nil || h != want || n != len(b) || n != HeaderSize(length) {
			t.Fatalf("% x: %+v, %d, %v; want %+v", b, h, n, err, want)
		}
		if length >= 0 && length < 1<<17 {
			buf := make([]byte, MaxServerHeaderSize+length)
			start := PutHeaderBefore(buf, MaxServerHeaderSize, fin, o)
			if start < 0 || !bytes.Equal(buf[start:MaxServerHeaderSize], b) {
				t.Fatalf("PutHeaderBefore: %d, % x", start, buf[max(start, 0):MaxServerHeaderSize])
			}
		}
	})
}

// FuzzParseClose checks ParseClose against gobwas/ws CheckCloseFrameData.
// Known differences, where we follow Node's ws: gobwas refuses 1012-1014,
// which IANA registered after RFC 6455, and accepts codes above 4999, which no
// range of RFC 6455 §7.4.2 defines.
func FuzzParseClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03, 0xe8, 'o', 'k'})
	f.Add([]byte{0x03, 0xf4})
	f.Add([]byte{0x03})
	f.Fuzz(func(t *testing.T, payload []byte) {
		code, reason, err := ParseClose(payload)
		if len(payload) < 2 {
			if (len(payload) == 0) != (err == nil) {
				t.Fatalf("%d-byte payload: %d, %v", len(payload), code, err)
			}
			return
		}
		gcode, greason := ws.ParseCloseFrameData(payload)
		gerr := ws.CheckCloseFrameData(gcode, greason)
		switch {
		case gcode >= 1012 && gcode <= 1014 && utf8.ValidString(greason):
			gerr = nil
		case gcode > 4999 && gerr == nil:
			gerr = ErrBadCloseCode
		}
		if (err == nil) != (gerr == nil) {
			t.Fatalf("% x: we %d %v, gobwas %d %v", payload, code, err, gcode, gerr)
		}
		if err == nil && (code != int(gcode) || string(reason) != greason) {
			t.Fatalf("% x: we %d %q, gobwas %d %q", payload, code, reason, gcode, greason)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v is not an *Error", err)
		}
		// Whatever we parse, AppendClose writes back.
		if err == nil {
			out := AppendClose(nil, code, string(reason))
			if len(reason) <= MaxControlPayload-2 && !bytes.Equal(out[2:], payload) {
				t.Fatalf("AppendClose % x, want body % x", out, payload)
			}
		}
	})
}
