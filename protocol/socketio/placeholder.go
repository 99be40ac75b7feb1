package socketio

import "sioloop/protocol/jsonscan"

// Flags kept by CheckPlaceholders for each open container.
const (
	phObject = 1 << iota // the container is an object
	phTrue               // its last "_placeholder" key has the value true
	phNum                // its last "num" key has a valid attachment index
	phBad                // an invalid placeholder sits somewhere inside it
)

// Keys of interest to CheckPlaceholders.
const (
	keyOther = iota
	keyPlaceholder
	keyNum
)

// CheckPlaceholders checks the binary placeholders in the payload of a
// BINARY_EVENT or BINARY_ACK (Header.Data) against the number of
// attachments the header announced, as Node's reconstructPacket does
// once all attachments have arrived: every object whose "_placeholder"
// is true must have a "num" that indexes an attachment, else Node throws
// "illegal attachments" and closes the connection.
//
// Like Node, it does not look inside an object that is a placeholder (the
// whole object is replaced), the last of duplicate keys wins, keys are
// compared after unescaping, and attachments that no placeholder names
// are fine. Unlike Node, "num" must be a plain non-negative integer
// (Node also takes 1.0, 1e0 and -0, and replaces 0.5 with undefined).
//
// It returns nil, ErrBadPlaceholder, or ErrInvalidJSON / ErrTooDeep for
// data Parse would have refused. It does not allocate.
func CheckPlaceholders(data []byte, attachments int) error {
	var st [MaxDepth]uint8
	depth, i, state, key := 0, 0, wantValue, keyOther
	// end closes the innermost container and hands its verdict to its parent.
	bad := false
	end := func() {
		depth--
		f := st[depth]
		b := f&phBad != 0
		if f&(phObject|phTrue) == phObject|phTrue {
			b = f&phNum == 0 // a placeholder: only its own num matters
		}
		if depth > 0 {
			if b {
				st[depth-1] |= phBad
			}
		} else {
			bad = b
		}
	}
	for {
		switch state {
		case wantValue:
			i = jsonscan.SkipSpace(data, i)
			if i >= len(data) {
				return ErrInvalidJSON
			}
			c := data[i]
			if c == '[' || c == '{' {
				if depth == MaxDepth {
					return ErrTooDeep
				}
				setKey(&st, depth, key, false)
				st[depth] = 0
				if c == '{' {
					st[depth] = phObject
				}
				depth++
				key = keyOther
				i = jsonscan.SkipSpace(data, i+1)
				if i < len(data) && data[i] == c+2 { // "[]" or "{}"
					i++
					end()
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
				continue
			}
			start := i
			if i = jsonscan.Scalar(data, i); i < 0 {
				return ErrInvalidJSON
			}
			switch key {
			case keyPlaceholder:
				setKey(&st, depth, key, string(data[start:i]) == "true")
			case keyNum:
				setKey(&st, depth, key, isIndex(data[start:i], attachments))
			}
			key, state = keyOther, afterValue
		case wantKey:
			i = jsonscan.SkipSpace(data, i)
			if i >= len(data) || data[i] != '"' {
				return ErrInvalidJSON
			}
			start := i
			var esc bool
			if i, esc = jsonscan.String(data, i); i < 0 {
				return ErrInvalidJSON
			}
			switch raw := data[start+1 : i-1]; {
			case jsonscan.StringIs(raw, esc, "_placeholder"):
				key = keyPlaceholder
			case jsonscan.StringIs(raw, esc, "num"):
				key = keyNum
			}
			if i = jsonscan.SkipSpace(data, i); i >= len(data) || data[i] != ':' {
				return ErrInvalidJSON
			}
			i++
			state = wantValue
		case afterValue:
			i = jsonscan.SkipSpace(data, i)
			if depth == 0 {
				switch {
				case i != len(data):
					return ErrInvalidJSON
				case bad:
					return ErrBadPlaceholder
				}
				return nil
			}
			if i >= len(data) {
				return ErrInvalidJSON
			}
			inObj := st[depth-1]&phObject != 0
			switch data[i] {
			case ',':
				if inObj {
					state = wantKey
				} else {
					state = wantValue
				}
			case ']', '}':
				if inObj != (data[i] == '}') {
					return ErrInvalidJSON
				}
				end()
			default:
				return ErrInvalidJSON
			}
			i++
		}
	}
}

// setKey records the value of a "_placeholder" or "num" key (ok: it is
// true, or a valid index) in the object at depth-1; other keys are
// ignored. A container value counts as not ok.
func setKey(st *[MaxDepth]uint8, depth, key int, ok bool) {
	var f uint8
	switch key {
	case keyPlaceholder:
		f = phTrue
	case keyNum:
		f = phNum
	default:
		return
	}
	if ok {
		st[depth-1] |= f
	} else {
		st[depth-1] &^= f
	}
}

// isIndex reports whether the JSON number n is a plain integer in
// [0, attachments). The digit loop saturates instead of overflowing.
func isIndex(n []byte, attachments int) bool {
	var v uint64
	for _, c := range n {
		if !jsonscan.IsDigit(c) {
			return false
		}
		if v < 1<<40 { // saturate: v*10+9 stays far below 2^64
			v = v*10 + uint64(c-'0')
		}
	}
	return len(n) > 0 && attachments > 0 && v < uint64(attachments)
}
