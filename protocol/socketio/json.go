package socketio

// A small JSON scanner: validation and the few lookups Parse needs
// (first array element, placeholder keys), without allocating and without
// encoding/json. encoding/json.Valid does not allocate (its scanner is
// pooled) but costs about 6 ns per byte here; the table-driven loops
// below are several times faster, and the hot path validates every
// inbound event. Grammar: RFC 8259, which is what JSON.parse accepts.

// strPlain marks the bytes that need no attention inside a JSON string:
// everything from 0x20 up except '"' and '\\'. Control characters are
// invalid there (RFC 8259 §7: "the characters that MUST be escaped").
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// isWS reports whether c is JSON whitespace (RFC 8259 §2: space,
// horizontal tab, line feed, carriage return).
func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// trimRightWS drops trailing JSON whitespace.
func trimRightWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func hexVal(c byte) int {
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

// scanString scans the string literal whose opening quote is b[i]. It
// returns the index just past the closing quote and whether the literal
// holds escapes, or end < 0 if the literal is invalid.
func scanString(b []byte, i int) (end int, esc bool) {
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
				if j+6 > len(b) || hexVal(b[j+2]) < 0 || hexVal(b[j+3]) < 0 ||
					hexVal(b[j+4]) < 0 || hexVal(b[j+5]) < 0 {
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

// scanNumber scans the number starting at b[i] (RFC 8259 §6:
// [ minus ] int [ frac ] [ exp ]) and returns the index past it, or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// scanScalar scans the string, number or literal starting at b[i] and
// returns the index past it, or -1. It must not be called on '[' or '{'.
func scanScalar(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case 't':
		return scanWord(b, i, "true")
	case 'f':
		return scanWord(b, i, "false")
	case 'n':
		return scanWord(b, i, "null")
	}
	return scanNumber(b, i)
}

func scanWord(b []byte, i int, w string) int {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return -1
	}
	return i + len(w)
}

// Scanner states shared by checkJSON and CheckPlaceholders.
const (
	wantValue  = iota // a value: after '[', ',' in an array, ':' or at the top
	wantKey           // an object key: after '{' or ',' in an object
	afterValue        // ',' or a closing bracket, or the end at depth 0
)

// checkJSON reports whether b is exactly one JSON value, with no leading
// or trailing whitespace. It walks iteratively, remembering for each open
// container whether it is an object in a bit stack, so it cannot
// overflow the goroutine stack on hostile nesting.
func checkJSON(b []byte) error {
	if len(b) == 0 || isWS(b[0]) {
		return ErrInvalidJSON
	}
	var objs [MaxDepth / 64]uint64 // bit d set: the container at depth d is an object
	depth, i, state := 0, 0, wantValue
	for {
		switch state {
		case wantValue:
			i = skipWS(b, i)
			if i >= len(b) {
				return ErrInvalidJSON
			}
			switch c := b[i]; c {
			case '[', '{':
				if depth == MaxDepth {
					return ErrTooDeep
				}
				w, bit := depth>>6, uint64(1)<<(depth&63)
				objs[w] &^= bit
				if c == '{' {
					objs[w] |= bit
				}
				depth++
				i = skipWS(b, i+1)
				if i < len(b) && b[i] == c+2 { // ']' is '['+2 and '}' is '{'+2
					depth--
					i++
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
			default:
				if i = scanScalar(b, i); i < 0 {
					return ErrInvalidJSON
				}
				state = afterValue
			}
		case wantKey:
			i = skipWS(b, i)
			if i >= len(b) || b[i] != '"' {
				return ErrInvalidJSON
			}
			if i, _ = scanString(b, i); i < 0 {
				return ErrInvalidJSON
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return ErrInvalidJSON
			}
			i++
			state = wantValue
		case afterValue:
			if depth == 0 {
				if i != len(b) {
					return ErrInvalidJSON
				}
				return nil
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return ErrInvalidJSON
			}
			d := depth - 1
			inObj := objs[d>>6]&(uint64(1)<<(d&63)) != 0
			switch b[i] {
			case ',':
				if inObj {
					state = wantKey
				} else {
					state = wantValue
				}
			case ']':
				if inObj {
					return ErrInvalidJSON
				}
				depth--
			case '}':
				if !inObj {
					return ErrInvalidJSON
				}
				depth--
			default:
				return ErrInvalidJSON
			}
			i++
		}
	}
}

// stringIs reports whether the JSON string content raw (the bytes between
// the quotes, with escapes if esc) decodes to want, which must be ASCII.
// It never allocates: escapes are decoded on the fly, so that
// "conn\u0065ct" is recognised as reserved, as JSON.parse would see it.
func stringIs(raw []byte, esc bool, want string) bool {
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
				if i+4 > len(raw) {
					return false
				}
				r := 0
				for _, h := range raw[i : i+4] {
					r = r<<4 | hexVal(h) // hexVal < 0 makes r negative; it then matches nothing
				}
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
