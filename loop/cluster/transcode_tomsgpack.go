package cluster

import (
	"math"
	"strconv"

	"sioloop/protocol/jsonscan"
)

// ---------------------------------------------------------------- JSON to msgpack

// AppendData appends the msgpack array [event, ...args] of an EVENT
// packet's data, args being JSON list content with placeholders for atts.
func (c *Codec) AppendData(dst []byte, event string, args []byte, atts [][]byte) ([]byte, error) {
	n, err := c.scanList(args, len(atts))
	if err != nil {
		return dst, err
	}
	c.start(dst)
	_ = c.enc.EncodeArrayLen(1 + n)
	_ = c.enc.EncodeString(event)
	c.emit(args, atts)
	return c.finish(), nil
}

// AppendMsgpack appends the msgpack form of the single JSON value v.
func (c *Codec) AppendMsgpack(dst []byte, v []byte, atts [][]byte) ([]byte, error) {
	n, err := c.scanList(v, len(atts))
	if err != nil {
		return dst, err
	}
	if n != 1 {
		return dst, ErrInvalidJSON
	}
	c.start(dst)
	c.emit(v, atts)
	return c.finish(), nil
}

// scanList validates list (RFC 8259 values separated by commas, possibly
// none, with whitespace around them) and records its containers in c.box.
// natts is the number of attachments placeholders may name.
func (c *Codec) scanList(b []byte, natts int) (int, error) {
	c.box = c.box[:0]
	i := jsonscan.SkipSpace(b, 0)
	if i == len(b) {
		return 0, nil
	}
	n := 0
	for {
		var err error
		if i, err = c.scanValue(b, i, 0, natts); err != nil {
			return 0, err
		}
		n++
		i = jsonscan.SkipSpace(b, i)
		if i == len(b) {
			return n, nil
		}
		if b[i] != ',' {
			return 0, ErrInvalidJSON
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
}

// scanValue scans the value at b[i] (no leading whitespace) and returns
// the index past it.
func (c *Codec) scanValue(b []byte, i, depth, natts int) (int, error) {
	if i >= len(b) {
		return 0, ErrInvalidJSON
	}
	switch b[i] {
	case '[':
		return c.scanArray(b, i, depth+1, natts)
	case '{':
		return c.scanObject(b, i, depth+1, natts)
	}
	end := jsonscan.Scalar(b, i)
	if end < 0 {
		return 0, ErrInvalidJSON
	}
	return end, nil
}

func (c *Codec) scanArray(b []byte, i, depth, natts int) (int, error) {
	if depth > MaxDepth {
		return 0, ErrTooDeep
	}
	k := len(c.box)
	c.box = append(c.box, container{att: -1})
	i = jsonscan.SkipSpace(b, i+1)
	n := int32(0)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			var err error
			if i, err = c.scanValue(b, i, depth, natts); err != nil {
				return 0, err
			}
			n++
			i = jsonscan.SkipSpace(b, i)
			if i >= len(b) {
				return 0, ErrInvalidJSON
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ',' {
				return 0, ErrInvalidJSON
			}
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
	c.box[k].n, c.box[k].end, c.box[k].next = n, int32(i), int32(len(c.box))
	return i, nil
}

// scanObject scans an object and decides whether it is a placeholder.
// socket.io-parser's reconstructPacket: an object with
// `_placeholder === true` is replaced by buffers[num], and "illegal
// attachments" is thrown when num is not a valid index.
func (c *Codec) scanObject(b []byte, i, depth, natts int) (int, error) {
	if depth > MaxDepth {
		return 0, ErrTooDeep
	}
	k := len(c.box)
	c.box = append(c.box, container{att: -1})
	i = jsonscan.SkipSpace(b, i+1)
	n := int32(0)
	placeholder := false
	num := -1
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, ErrInvalidJSON
			}
			kend, _ := jsonscan.String(b, i)
			if kend < 0 {
				return 0, ErrInvalidJSON
			}
			key := b[i:kend]
			i = jsonscan.SkipSpace(b, kend)
			if i >= len(b) || b[i] != ':' {
				return 0, ErrInvalidJSON
			}
			i = jsonscan.SkipSpace(b, i+1)
			vstart := i
			var err error
			if i, err = c.scanValue(b, i, depth, natts); err != nil {
				return 0, err
			}
			switch string(key) {
			case `"_placeholder"`:
				placeholder = string(b[vstart:i]) == "true"
			case `"num"`:
				num = parseIndex(b[vstart:i])
			}
			n++
			i = jsonscan.SkipSpace(b, i)
			if i >= len(b) {
				return 0, ErrInvalidJSON
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return 0, ErrInvalidJSON
			}
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
	c.box[k].n, c.box[k].end, c.box[k].next = n, int32(i), int32(len(c.box))
	if placeholder {
		if num < 0 || num >= natts {
			return 0, ErrPlaceholder
		}
		c.box[k].att = int32(num)
	}
	return i, nil
}

// parseIndex reads a small non-negative integer literal ("0".."9999"),
// or returns -1. A placeholder num is always written by socket.io-parser
// as a plain integer.
func parseIndex(b []byte) int {
	if len(b) == 0 || len(b) > 4 || (len(b) > 1 && b[0] == '0') {
		return -1
	}
	n := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return -1
		}
		n = n*10 + int(d-'0')
	}
	return n
}

// emit streams the tokens of the list scanned by scanList as msgpack. The
// scan pass has validated b and counted every container, so every header
// can be written before its elements and emit needs no recursion.
func (c *Codec) emit(b []byte, atts [][]byte) {
	e := c.enc
	bi := 0
	for i := 0; i < len(b); {
		switch ch := b[i]; ch {
		case ' ', '\t', '\n', '\r', ',', ':', ']', '}':
			i++
		case '[':
			_ = e.EncodeArrayLen(int(c.box[bi].n))
			bi++
			i++
		case '{':
			box := c.box[bi]
			if box.att >= 0 {
				_ = e.EncodeBytes(atts[box.att])
				i, bi = int(box.end), int(box.next)
				continue
			}
			_ = e.EncodeMapLen(int(box.n))
			bi++
			i++
		case '"':
			end, esc := jsonscan.String(b, i)
			s := b[i+1 : end-1]
			if esc {
				c.str = jsonscan.AppendUnescaped(c.str[:0], s)
				s = c.str
			}
			c.encodeStr(s)
			i = end
		case 't':
			_ = e.EncodeBool(true)
			i += 4
		case 'f':
			_ = e.EncodeBool(false)
			i += 5
		case 'n':
			_ = e.EncodeNil()
			i += 4
		default:
			end := jsonscan.Number(b, i)
			c.encodeNumber(b[i:end])
			i = end
		}
	}
}

// encodeStr writes s as a msgpack str. The encoder copies s before
// returning, so the transient string view (bstr) never outlives the call.
func (c *Codec) encodeStr(s []byte) { _ = c.enc.EncodeString(bstr(s)) }

// encodeNumber writes a JSON number the way notepack.io writes the
// JavaScript number JSON.parse makes of it: `Math.floor(value) !== value
// || !isFinite(value)` gives a float 64, anything else the smallest
// integer format.
func (c *Codec) encodeNumber(lit []byte) {
	if n, ok := parseInt(lit); ok {
		_ = c.enc.EncodeInt(n)
		return
	}
	f, _ := strconv.ParseFloat(bstr(lit), 64) // validated; overflow gives ±Inf, as JSON.parse
	switch {
	case math.IsInf(f, 0) || f != math.Trunc(f):
		_ = c.enc.EncodeFloat64(f)
	case f >= -(1<<63) && f < 1<<63:
		_ = c.enc.EncodeInt(int64(f))
	case f >= 0 && f < 1<<64:
		_ = c.enc.EncodeUint(uint64(f))
	default:
		_ = c.enc.EncodeFloat64(f)
	}
}

// parseInt reads an integer literal of at most 18 digits (so that it
// cannot overflow int64) with a digit loop; anything else (fractions,
// exponents, longer literals) is left to ParseFloat.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
