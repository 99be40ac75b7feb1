package socketio

import (
	"unicode/utf16"
	"unicode/utf8"
)

// SplitEvent splits the payload of an EVENT or BINARY_EVENT (Header.Data)
// into the event name and the raw JSON of the remaining arguments.
//
// For data `["message",{"a":1},2]` name is `message` and args is
// `{"a":1},2`; for `["x"]` args is nil. Args is the text between the
// comma after the name and the closing ']', without surrounding
// whitespace; it is valid JSON list content, ready for AppendEvent.
//
// A string name is returned unquoted. If it holds no escapes, name
// aliases data and nothing is allocated; otherwise name is a freshly
// allocated, unescaped copy (lone UTF-16 surrogates become U+FFFD). A
// number name (Node accepts `[42]` and emits the event "42") is returned
// as its JSON text, so `[42]` and `["42"]` both give name "42".
//
// SplitEvent checks only what it reads: data must have been validated by
// Parse. It returns ErrInvalidPayload if data is not an array whose first
// element is a string or a number, and ErrInvalidJSON for a malformed
// element or separator; it never panics.
func SplitEvent(data []byte) (name, args []byte, err error) {
	d, i := trimRightWS(data), skipWS(data, 0)
	last := len(d) - 1
	if i >= last || d[i] != '[' || d[last] != ']' {
		return nil, nil, ErrInvalidPayload
	}
	if i = skipWS(d, i+1); i >= last {
		return nil, nil, ErrInvalidPayload // [] has no name
	}
	var end int
	switch c := d[i]; {
	case c == '"':
		var esc bool
		if end, esc = scanString(d, i); end < 0 {
			return nil, nil, ErrInvalidJSON
		}
		name = d[i+1 : end-1 : end-1]
		if esc {
			name = unescape(name)
		}
	case c == '-' || isDigit(c):
		if end = scanNumber(d, i); end < 0 {
			return nil, nil, ErrInvalidJSON
		}
		name = d[i:end:end]
	default:
		return nil, nil, ErrInvalidPayload
	}
	// end <= last: neither a string nor a number can swallow the final ']'.
	j := skipWS(d, end)
	if j == last {
		return name, nil, nil
	}
	if d[j] != ',' {
		return nil, nil, ErrInvalidJSON
	}
	if args = list(d[j+1 : last]); args == nil {
		return nil, nil, ErrInvalidJSON // a trailing comma: ["x",]
	}
	return name, args, nil
}

// SplitAck returns the content of the array payload of an ACK or
// BINARY_ACK (Header.Data): for `["bar",1]` it returns `"bar",1`, for
// `[]` nil. The result aliases data and is ready for AppendAck. It
// returns ErrInvalidPayload if data is not an array.
func SplitAck(data []byte) (args []byte, err error) {
	d, i := trimRightWS(data), skipWS(data, 0)
	last := len(d) - 1
	if i >= last || d[i] != '[' || d[last] != ']' {
		return nil, ErrInvalidPayload
	}
	return list(d[i+1 : last]), nil
}

// list trims whitespace around list content, returning nil if none is
// left and otherwise a slice whose capacity ends at its length.
func list(b []byte) []byte {
	i, b := skipWS(b, 0), trimRightWS(b)
	if i >= len(b) {
		return nil
	}
	return b[i:len(b):len(b)]
}

// unescape decodes the content of a JSON string literal that holds
// escapes, as JSON.parse would, then converting to UTF-8; raw must have
// been accepted by scanString. A lone surrogate becomes U+FFFD, like
// encoding/json.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			out = append(out, c)
			i++
			continue
		}
		e := raw[i+1]
		i += 2
		switch e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw, i)
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := hex4(raw, i+2)
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError &&
					i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, e)
		}
	}
	return out
}

// hex4 decodes the four hex digits at raw[i:], or returns -1 if there are
// not four hex digits there.
func hex4(raw []byte, i int) rune {
	if i < 0 || i+4 > len(raw) {
		return -1
	}
	var r rune
	for _, h := range raw[i : i+4] {
		v := hexVal(h)
		if v < 0 {
			return -1
		}
		r = r<<4 | rune(v)
	}
	return r
}
