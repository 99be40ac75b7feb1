package engineio

// A small in-place base64 decoder. encoding/base64 might well be safe with
// dst and src sharing their start, but its documentation does not promise
// it, so the polling decoder uses this one, whose safety is easy to see: each
// round reads four input bytes into a register before it writes three
// output bytes, and the write position (3 per 4 read) never passes the next
// read position.
//
// Accepted input: the standard alphabet of RFC 4648 §4, with the "=" padding
// (what Node's Buffer.toString("base64"), browsers' FileReader and Go's
// StdEncoding produce) or without it. Node's Buffer.from(s, "base64") is more
// lenient still (it also takes the URL-safe alphabet and skips whitespace and
// invalid characters); we reject those: no Engine.IO client sends them.
// Non-zero bits in the last character are ignored, as Node and
// StdEncoding do.

const invalidB64 = 0xff

// b64Decode maps a byte of the standard alphabet to its 6-bit value, and
// every other byte (including '=') to invalidB64.
var b64Decode = func() (t [256]byte) {
	for i := range t {
		t[i] = invalidB64
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64InPlace decodes the base64 text b into b[:n] and reports
// whether the text was valid. On failure b may be partly overwritten.
func decodeBase64InPlace(b []byte) (n int, ok bool) {
	m := len(b)
	// Padding: only a length that is a multiple of 4 may end in "=" or "==".
	if m > 0 && m%4 == 0 && b[m-1] == '=' {
		m--
		if b[m-1] == '=' {
			m--
		}
	}
	if m%4 == 1 {
		return 0, false
	}
	t := &b64Decode
	i, o := 0, 0
	for ; i+4 <= m; i += 4 {
		c0, c1, c2, c3 := t[b[i]], t[b[i+1]], t[b[i+2]], t[b[i+3]]
		if (c0|c1|c2|c3)&0xc0 != 0 { // some byte was invalidB64
			return 0, false
		}
		v := uint32(c0)<<18 | uint32(c1)<<12 | uint32(c2)<<6 | uint32(c3)
		b[o], b[o+1], b[o+2] = byte(v>>16), byte(v>>8), byte(v)
		o += 3
	}
	switch m - i {
	case 2:
		c0, c1 := t[b[i]], t[b[i+1]]
		if (c0|c1)&0xc0 != 0 {
			return 0, false
		}
		b[o] = c0<<2 | c1>>4
		o++
	case 3:
		c0, c1, c2 := t[b[i]], t[b[i+1]], t[b[i+2]]
		if (c0|c1|c2)&0xc0 != 0 {
			return 0, false
		}
		v := uint32(c0)<<18 | uint32(c1)<<12 | uint32(c2)<<6
		b[o], b[o+1] = byte(v>>16), byte(v>>8)
		o += 2
	}
	return o, true
}
