// Package jsonscan is the JSON scanner shared by the Socket.IO codec
// (protocol/socketio) and the Redis adapter's transcoder (loop/cluster):
// index-based scanning of RFC 8259 tokens inside a byte slice, without
// allocating and without encoding/json. It does no I/O and keeps no
// state.
//
// Every scanner takes the input b and the index i of the token's first
// byte, and returns the index just past the token, or -1 when b holds no
// valid token there; nothing is consumed on failure. encoding/json.Valid
// does not allocate either but costs about 6 ns per byte; these
// table-driven loops are several times faster, and the hot path validates
// every inbound event. The grammar is RFC 8259, which is what JavaScript's
// JSON.parse accepts.
package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"
)

// strPlain marks the bytes that need no attention inside a JSON string:
// everything from 0x20 up except '"' and '\\'. Control characters are
// invalid there (RFC 8259 §7: "the characters that MUST be escaped").
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// IsSpace reports whether c is JSON whitespace (RFC 8259 §2: space,
// horizontal tab, line feed, carriage return).
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// IsDigit reports whether c is an ASCII digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// TrimRightSpace returns b without its trailing JSON whitespace.
func TrimRightSpace(b []byte) []byte {
	for len(b) > 0 && IsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// HexVal returns the value of the hex digit c, or -1.
func HexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Hex4 decodes the four hex digits at b[i:], or returns -1 if there are
// not four hex digits there.
func Hex4(b []byte, i int) rune {
	if i < 0 || i+4 > len(b) {
		return -1
	}
	var r rune
	for _, h := range b[i : i+4] {
		v := HexVal(h)
		if v < 0 {
			return -1
		}
		r = r<<4 | rune(v)
	}
	return r
}

// String scans the string literal whose opening quote is b[i]. It returns
// the index just past the closing quote and whether the literal holds
// escapes, or end < 0 if the literal is invalid. RFC 8259 §7: control
// characters must be escaped; the escapes are \" \\ \/ \b \f \n \r \t and
// \uXXXX.
func String(b []byte, i int) (end int, esc bool) {
	j := i + 1
	for j < len(b) {
		c := b[j]
		if strPlain[c] {
			j++
			continue
		}
		switch c {
		case '"':
			return j + 1, esc
		case '\\':
			esc = true
			if j+1 >= len(b) {
				return -1, esc
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if Hex4(b, j+2) < 0 {
					return -1, esc
				}
				j += 6
			default:
				return -1, esc
			}
		default: // a control character
			return -1, esc
		}
	}
	return -1, esc
}

// Number scans the number starting at b[i] (RFC 8259 §6:
// [ minus ] int [ frac ] [ exp ]) and returns the index past it, or -1.
func Number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && IsDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !IsDigit(b[i]) {
			return -1
		}
		for i < len(b) && IsDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !IsDigit(b[i]) {
			return -1
		}
		for i < len(b) && IsDigit(b[i]) {
			i++
		}
	}
	return i
}

// Literal scans the literal word w (true, false or null) at b[i] and
// returns the index past it, or -1.
func Literal(b []byte, i int, w string) int {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return -1
	}
	return i + len(w)
}

// Scalar scans the string, number or literal starting at b[i] and returns
// the index past it, or -1. It must not be called on '[' or '{'.
func Scalar(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := String(b, i)
		return end
	case 't':
		return Literal(b, i, "true")
	case 'f':
		return Literal(b, i, "false")
	case 'n':
		return Literal(b, i, "null")
	}
	return Number(b, i)
}

// AppendUnescaped appends to dst the UTF-8 text of raw, the content of a
// string literal (the bytes between its quotes) that String accepted, as
// JSON.parse would decode it. A \uXXXX surrogate pair becomes one code
// point; a lone surrogate becomes U+FFFD, as encoding/json and Node's
// Buffer.from(string) do. It allocates only when dst is too small.
func AppendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			i++
			continue
		}
		e := raw[i+1]
		i += 2
		switch e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := Hex4(raw, i)
			i += 4
			if utf16.IsSurrogate(r) {
				if dec := utf16.DecodeRune(r, Hex4(raw, i+2)); dec != utf8.RuneError &&
					i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
	}
	return dst
}

// StringIs reports whether the string content raw (the bytes between the
// quotes, with escapes if esc) decodes to want, which must be ASCII. It
// never allocates: escapes are decoded on the fly, so that "conn\u0065ct"
// is recognised as "connect", as JSON.parse would see it.
func StringIs(raw []byte, esc bool, want string) bool {
	if !esc {
		return string(raw) == want
	}
	k := 0
	for i := 0; i < len(raw); k++ {
		if k >= len(want) {
			return false
		}
		c := raw[i]
		i++
		if c == '\\' {
			if i >= len(raw) {
				return false
			}
			e := raw[i]
			i++
			switch e {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'u':
				r := Hex4(raw, i)
				i += 4
				if r < 0 || r >= 0x80 {
					return false // want is ASCII
				}
				c = byte(r)
			default: // '"', '\\', '/'
				c = e
			}
		}
		if c != want[k] {
			return false
		}
	}
	return k == len(want)
}
