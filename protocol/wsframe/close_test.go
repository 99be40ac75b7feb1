package wsframe

import (
	"bytes"
	"strings"
	"testing"
)

func TestValidCloseCode(t *testing.T) {
	valid := map[int]bool{}
	for _, c := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014} {
		valid[c] = true
	}
	for c := -1; c < 70000; c++ {
		want := valid[c] || (c >= 3000 && c <= 4999)
		if got := ValidCloseCode(c); got != want {
			t.Errorf("ValidCloseCode(%d) = %v", c, got)
		}
	}
}

func TestParseClose(t *testing.T) {
	f := func(payload string, wantCode int, wantReason string, wantErr error) {
		t.Helper()
		code, reason, err := ParseClose([]byte(payload))
		if code != wantCode || string(reason) != wantReason || err != wantErr {
			t.Errorf("ParseClose(%q) = %d, %q, %v; want %d, %q, %v", payload, code, reason, err, wantCode, wantReason, wantErr)
		}
	}
	f("", CloseNoStatus, "", nil)
	f("\x03\xe8", CloseNormal, "", nil)
	f("\x03\xe9bye", CloseGoingAway, "bye", nil)
	f("\x0f\xa0x", 4000, "x", nil)
	f("\x0b\xb8€", 3000, "€", nil)
	f("\x03", 0, "", ErrBadClosePayload)
	f("\x03\xec", 0, "", ErrBadCloseCode)    // 1004 reserved
	f("\x03\xed", 0, "", ErrBadCloseCode)    // 1005 never on the wire
	f("\x03\xee", 0, "", ErrBadCloseCode)    // 1006 never on the wire
	f("\x03\xf7", 0, "", ErrBadCloseCode)    // 1015 never on the wire
	f("\x00\x00", 0, "", ErrBadCloseCode)    // 0
	f("\x03\xe7", 0, "", ErrBadCloseCode)    // 999
	f("\x07\xd0", 0, "", ErrBadCloseCode)    // 2000
	f("\x13\x88", 0, "", ErrBadCloseCode)    // 5000
	f("\x03\xe8\xff", 0, "", ErrInvalidUTF8) // bad reason
	f("\x03\xe8\xe2\x82", 0, "", ErrInvalidUTF8)
	if CloseCode(ErrInvalidUTF8) != CloseInvalidPayload || CloseCode(ErrBadCloseCode) != CloseProtocolError {
		t.Error("close codes of ParseClose errors")
	}
}

func TestAppendClose(t *testing.T) {
	f := func(code int, reason string, want []byte) {
		t.Helper()
		got := AppendClose([]byte("x"), code, reason)
		if !bytes.Equal(got[1:], want) {
			t.Errorf("AppendClose(%d, %q) = % x, want % x", code, reason, got[1:], want)
		}
		h, n, err := ParseHeaderAny(got[1:])
		if err != nil || !h.Fin || h.OpCode != OpClose || h.Masked || int(h.Length) != len(got)-1-n || h.Length > MaxControlPayload {
			t.Errorf("AppendClose(%d, %q): header %+v, %v", code, reason, h, err)
			return
		}
		c, r, err := ParseClose(got[1+n:])
		if err != nil || (len(want) > 2 && (c != code || !strings.HasPrefix(reason, string(r)))) {
			t.Errorf("AppendClose(%d, %q): ParseClose = %d, %q, %v", code, reason, c, r, err)
		}
	}
	f(CloseNormal, "", []byte{0x88, 0x02, 0x03, 0xe8})
	f(CloseGoingAway, "bye", []byte{0x88, 0x05, 0x03, 0xe9, 'b', 'y', 'e'})
	f(0, "ignored", []byte{0x88, 0x00})
	f(CloseNoStatus, "", []byte{0x88, 0x00})
	f(1006, "x", []byte{0x88, 0x00})

	long := strings.Repeat("a", 122) + "€" // 125 bytes: the euro sign does not fit
	want := append([]byte{0x88, 124, 0x03, 0xf1}, strings.Repeat("a", 122)...)
	f(CloseMessageTooBig, long, want)
	exact := strings.Repeat("b", 123)
	f(CloseNormal, exact, append([]byte{0x88, 125, 0x03, 0xe8}, exact...))
	f(CloseNormal, exact+"c", append([]byte{0x88, 125, 0x03, 0xe8}, exact...))
}
