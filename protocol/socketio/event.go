package socketio

import "sioloop/protocol/jsonscan"

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
	d, i := jsonscan.TrimRightSpace(data), jsonscan.SkipSpace(data, 0)
	last := len(d) - 1
	if i >= last || d[i] != '[' || d[last] != ']' {
		return nil, nil, ErrInvalidPayload
	}
	if i = jsonscan.SkipSpace(d, i+1); i >= last {
		return nil, nil, ErrInvalidPayload // [] has no name
	}
	var end int
	switch c := d[i]; {
	case c == '"':
		var esc bool
		if end, esc = jsonscan.String(d, i); end < 0 {
			return nil, nil, ErrInvalidJSON
		}
		name = d[i+1 : end-1 : end-1]
		if esc {
			name = jsonscan.AppendUnescaped(make([]byte, 0, len(name)), name)
		}
	case c == '-' || jsonscan.IsDigit(c):
		if end = jsonscan.Number(d, i); end < 0 {
			return nil, nil, ErrInvalidJSON
		}
		name = d[i:end:end]
	default:
		return nil, nil, ErrInvalidPayload
	}
	// end <= last: neither a string nor a number can swallow the final ']'.
	j := jsonscan.SkipSpace(d, end)
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
	d, i := jsonscan.TrimRightSpace(data), jsonscan.SkipSpace(data, 0)
	last := len(d) - 1
	if i >= last || d[i] != '[' || d[last] != ']' {
		return nil, ErrInvalidPayload
	}
	return list(d[i+1 : last]), nil
}

// list trims whitespace around list content, returning nil if none is
// left and otherwise a slice whose capacity ends at its length.
func list(b []byte) []byte {
	i, b := jsonscan.SkipSpace(b, 0), jsonscan.TrimRightSpace(b)
	if i >= len(b) {
		return nil
	}
	return b[i:len(b):len(b)]
}
