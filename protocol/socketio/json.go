package socketio

// JSON validation of packet data, on the token scanners of
// protocol/jsonscan (shared with the Redis adapter's transcoder): no
// allocation and no encoding/json. Grammar: RFC 8259, which is what
// JSON.parse accepts.

import "sioloop/protocol/jsonscan"

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
	if len(b) == 0 || jsonscan.IsSpace(b[0]) {
		return ErrInvalidJSON
	}
	var objs [MaxDepth / 64]uint64 // bit d set: the container at depth d is an object
	depth, i, state := 0, 0, wantValue
	for {
		switch state {
		case wantValue:
			i = jsonscan.SkipSpace(b, i)
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
				i = jsonscan.SkipSpace(b, i+1)
				if i < len(b) && b[i] == c+2 { // ']' is '['+2 and '}' is '{'+2
					depth--
					i++
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
			default:
				if i = jsonscan.Scalar(b, i); i < 0 {
					return ErrInvalidJSON
				}
				state = afterValue
			}
		case wantKey:
			i = jsonscan.SkipSpace(b, i)
			if i >= len(b) || b[i] != '"' {
				return ErrInvalidJSON
			}
			if i, _ = jsonscan.String(b, i); i < 0 {
				return ErrInvalidJSON
			}
			i = jsonscan.SkipSpace(b, i)
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
			i = jsonscan.SkipSpace(b, i)
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
