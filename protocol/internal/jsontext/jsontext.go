// Package jsontext holds the JSON text helpers shared by the protocol
// codecs: one string encoder that matches JSON.stringify byte for byte.
package jsontext

// asciiPlain marks the bytes AppendJSONString copies as they are without
// a second look: printable ASCII other than '"' and '\\'.
var asciiPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string literal, byte for byte as
// JavaScript's JSON.stringify writes the string that s decodes to: '"'
// and '\\' escaped, control characters as \b \t \n \f \r or \u00xx;
// '<', '>', '&', U+2028 and U+2029 as they are; invalid UTF-8 replaced by
// U+FFFD as Node's UTF-8 decoder does (one per maximal invalid subpart).
// It does not allocate when dst has room.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if asciiPlain[c] {
			i++
			continue
		}
		if c < 0x80 {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		n, ok := utf8Len(s, i)
		i += n
		if ok {
			continue
		}
		dst = append(dst, s[start:i-n]...)
		dst = append(dst, "\uFFFD"...)
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// utf8Len returns the length of the UTF-8 sequence that starts at s[i]
// (a byte >= 0x80) and whether it is valid (RFC 3629 §4: no overlong
// forms, no surrogates, nothing above U+10FFFF). For an invalid sequence
// the length is that of its "maximal subpart" (the longest prefix of a
// valid sequence, at least 1 byte), which the WHATWG UTF-8 decoder used
// by Node replaces with one U+FFFD.
func utf8Len[S ~string | ~[]byte](s S, i int) (int, bool) {
	c := s[i]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch {
	case c < 0xC2:
		return 1, false
	case c < 0xE0:
		need = 2
	case c < 0xF0:
		need = 3
		if c == 0xE0 {
			lo = 0xA0 // overlong
		} else if c == 0xED {
			hi = 0x9F // surrogates
		}
	case c < 0xF5:
		need = 4
		if c == 0xF0 {
			lo = 0x90 // overlong
		} else if c == 0xF4 {
			hi = 0x8F // above U+10FFFF
		}
	default:
		return 1, false
	}
	for k := 1; k < need; k++ {
		if i+k >= len(s) || s[i+k] < lo || s[i+k] > hi {
			return k, false
		}
		lo, hi = 0x80, 0xBF
	}
	return need, true
}
