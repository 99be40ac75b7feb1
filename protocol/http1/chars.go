package http1

import "encoding/binary"

// Byte classes as 256-entry tables: one load per byte on the hot path.
var (
	// isToken: tchar of RFC 9110 §5.6.2, for methods and field names.
	isToken [256]bool
	// isValue: field-vchar, SP and HTAB of RFC 9110 §5.5, obs-text (0x80-0xFF) included.
	isValue [256]bool
	// isHost: the bytes net/http's server accepts in Host (httpguts validHostByte).
	isHost [256]bool
	// isRegName: unreserved and sub-delims of RFC 3986 §3.2.2, for the host of
	// an absolute-form target (no percent-encoding).
	isRegName [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		isToken[c] = alnum || c < 0x80 && contains("!#$%&'*+-.^_`|~", byte(c))
		isValue[c] = c >= 0x20 && c != 0x7f || c == '\t'
		isRegName[c] = alnum || c < 0x80 && contains("-._~!$&'()*+,;=", byte(c))
		isHost[c] = isRegName[c] || c < 0x80 && contains("%:[]", byte(c))
	}
}

func contains(set string, c byte) bool {
	for i := range len(set) {
		if set[i] == c {
			return true
		}
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// trimOWS strips optional whitespace (SP, HTAB; RFC 9110 §5.6.3) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextElement splits the first element off a comma-separated list (RFC 9110
// §5.6.1) and returns it trimmed, with the rest of the list.
func nextElement(list []byte) (el, rest []byte) {
	for i, c := range list {
		if c == ',' {
			return trimOWS(list[:i]), list[i+1:]
		}
	}
	return trimOWS(list), nil
}

// SWAR constants: a byte of ones, and the high bit of every byte.
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// indexCtl returns the index of the first byte of b below n or equal to DEL
// (0x7f), or -1. n must be at most 0x80. It tests 8 bytes per step: request
// lines and field values are long runs of clean bytes, and this check is most
// of the work of Parse. (x - n*lo8) &^ x & hi8 is non-zero iff some byte of x
// is below n, and the same on x^0x7f7f... with n = 1 finds a DEL.
func indexCtl(b []byte, n byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		y := x ^ (0x7f * lo8)
		if ((x-uint64(n)*lo8)&^x|(y-lo8)&^y)&hi8 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < n || c == 0x7f {
			return i
		}
	}
	return -1
}

// validValue reports whether every byte of v may appear in a field value:
// RFC 9110 §5.5 field-vchar, SP, HTAB and obs-text, i.e. no control other
// than HTAB and no DEL.
func validValue(v []byte) bool {
	for {
		i := indexCtl(v, 0x20)
		if i < 0 {
			return true
		}
		if v[i] != '\t' {
			return false
		}
		v = v[i+1:]
	}
}
