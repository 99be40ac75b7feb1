package cluster

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"sioloop/protocol/socketio"
)

// MaxDepth is how deep arrays and maps may nest in a value the codec
// converts, in either direction. Node's JSON.parse and notepack.io have no
// such limit but recurse on the JavaScript stack; 512 is far beyond any
// real payload and keeps a hostile message from costing more than its size.
const MaxDepth = 512

// Codec converts Socket.IO arguments between the two forms the cluster
// speaks: loop's raw JSON (list content, binary arguments as
// {"_placeholder":true,"num":N} objects plus attachments) and the msgpack
// that notepack.io writes for @socket.io/redis-adapter (binary arguments
// as msgpack bin).
//
// JSON to msgpack follows what a Node server would publish after
// JSON.parse of the same text: an integral number becomes the smallest
// msgpack integer, any other number a float 64, a placeholder object the
// bytes of its attachment. Msgpack to JSON follows what a Node server
// would send its clients after notepack.io decoded the message: numbers as
// JSON.stringify writes them, bin as a placeholder plus an attachment, a
// timestamp (extension -1, a JavaScript Date) as its toISOString text, an
// extension of another type as [type, bin] (notepack's decoding).
//
// A Codec keeps scratch buffers between calls: it is not safe for
// concurrent use. Its zero value is ready to use.
type Codec struct {
	w    appendWriter
	enc  *msgpack.Encoder
	rd   bytes.Reader
	dec  *msgpack.Decoder
	box  []container // containers of the JSON being encoded, in source order
	str  []byte      // scratch for string contents
	json []byte      // scratch for JSON output
}

// container is one JSON array or object found by the scanning pass of
// JSON to msgpack: its element count and, for a placeholder object, the
// attachment it stands for.
type container struct {
	n    int32 // elements (array) or members (object)
	att  int32 // attachment index for a placeholder object, else -1
	end  int32 // index just past the closing bracket
	next int32 // index in Codec.box of the first container after this one's subtree
}

// appendWriter is the io.Writer and io.ByteWriter the msgpack encoder
// writes through: it appends to b, so encoding follows the Append
// convention of the rest of sioloop.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *appendWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

// start points the encoder at dst.
func (c *Codec) start(dst []byte) {
	c.w.b = dst
	if c.enc == nil {
		c.enc = msgpack.NewEncoder(&c.w)
	}
}

// finish returns what was appended and lets go of it.
func (c *Codec) finish() []byte {
	b := c.w.b
	c.w.b = nil
	return b
}

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
	i := skipWS(b, 0)
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
		i = skipWS(b, i)
		if i == len(b) {
			return n, nil
		}
		if b[i] != ',' {
			return 0, ErrInvalidJSON
		}
		i = skipWS(b, i+1)
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
	case '"':
		end, _ := scanString(b, i)
		if end < 0 {
			return 0, ErrInvalidJSON
		}
		return end, nil
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	}
	end := scanNumber(b, i)
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
	i = skipWS(b, i+1)
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
			i = skipWS(b, i)
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
			i = skipWS(b, i+1)
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
	i = skipWS(b, i+1)
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
			kend, _ := scanString(b, i)
			if kend < 0 {
				return 0, ErrInvalidJSON
			}
			key := b[i:kend]
			i = skipWS(b, kend)
			if i >= len(b) || b[i] != ':' {
				return 0, ErrInvalidJSON
			}
			i = skipWS(b, i+1)
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
			i = skipWS(b, i)
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
			i = skipWS(b, i+1)
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
			end, esc := scanString(b, i)
			s := b[i+1 : end-1]
			if esc {
				c.str = unescape(c.str[:0], s)
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
			end := scanNumber(b, i)
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

// ---------------------------------------------------------------- msgpack to JSON

// maxSafeInt is Number.MAX_SAFE_INTEGER, 2^53-1: the largest integer every
// JavaScript number up to it represents exactly.
const maxSafeInt = 1<<53 - 1

// AppendJSON appends the JSON form of the msgpack value at the start of
// v, appending the bytes of every bin it holds to atts (copied) and a
// placeholder naming it to dst. It returns the bytes of v it consumed.
func (c *Codec) AppendJSON(dst []byte, v []byte, atts [][]byte) ([]byte, [][]byte, int, error) {
	c.reset(v)
	dst, atts, err := c.appendJSON(dst, atts, 0)
	if err != nil {
		return dst, atts, 0, err
	}
	return dst, atts, len(v) - c.rd.Len(), nil
}

// reset points the decoder at v.
func (c *Codec) reset(v []byte) {
	c.rd.Reset(v)
	if c.dec == nil {
		// bytes.Reader is an io.ByteScanner, so the decoder reads it
		// directly, without a buffer of its own: c.rd.Len() stays exact.
		c.dec = msgpack.NewDecoder(&c.rd)
	} else {
		c.dec.Reset(&c.rd)
	}
}

// appendJSON converts the next msgpack value.
func (c *Codec) appendJSON(dst []byte, atts [][]byte, depth int) ([]byte, [][]byte, error) {
	d := c.dec
	code, err := d.PeekCode()
	if err != nil {
		return dst, atts, ErrMsgpack
	}
	switch {
	case code == msgpcode.Nil:
		_ = d.DecodeNil()
		return append(dst, "null"...), atts, nil
	case code == msgpcode.False || code == msgpcode.True:
		v, _ := d.DecodeBool()
		return strconv.AppendBool(dst, v), atts, nil
	case msgpcode.IsFixedNum(code) || code == msgpcode.Uint8 || code == msgpcode.Uint16 || code == msgpcode.Uint32 ||
		code == msgpcode.Int8 || code == msgpcode.Int16 || code == msgpcode.Int32 || code == msgpcode.Int64:
		n, err := d.DecodeInt64()
		if err != nil {
			return dst, atts, ErrMsgpack
		}
		if n > maxSafeInt || n < -maxSafeInt {
			// notepack.io decodes 64-bit integers into a JavaScript
			// number (hi * 2^32 + lo): beyond 2^53 it is the nearest double.
			return appendJSFloat(dst, float64(n)), atts, nil
		}
		return strconv.AppendInt(dst, n, 10), atts, nil
	case code == msgpcode.Uint64:
		n, err := d.DecodeUint64()
		if err != nil {
			return dst, atts, ErrMsgpack
		}
		if n > maxSafeInt {
			return appendJSFloat(dst, float64(n)), atts, nil
		}
		return strconv.AppendUint(dst, n, 10), atts, nil
	case code == msgpcode.Float || code == msgpcode.Double:
		f, err := d.DecodeFloat64()
		if err != nil {
			return dst, atts, ErrMsgpack
		}
		return appendJSFloat(dst, f), atts, nil
	case msgpcode.IsString(code):
		s, err := c.readBytes()
		if err != nil {
			return dst, atts, err
		}
		return socketio.AppendJSONString(dst, s), atts, nil
	case msgpcode.IsBin(code):
		s, err := c.readBytes()
		if err != nil {
			return dst, atts, err
		}
		return appendPlaceholder(dst, len(atts)), append(atts, bytes.Clone(s)), nil
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		if depth >= MaxDepth {
			return dst, atts, ErrTooDeep
		}
		n, err := d.DecodeArrayLen()
		if err != nil || n > c.rd.Len() { // every element takes a byte at least
			return dst, atts, ErrMsgpack
		}
		dst = append(dst, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, atts, err = c.appendJSON(dst, atts, depth+1); err != nil {
				return dst, atts, err
			}
		}
		return append(dst, ']'), atts, nil
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		if depth >= MaxDepth {
			return dst, atts, ErrTooDeep
		}
		n, err := d.DecodeMapLen()
		if err != nil || 2*n > c.rd.Len() {
			return dst, atts, ErrMsgpack
		}
		dst = append(dst, '{')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, atts, err = c.appendKey(dst, atts, depth); err != nil {
				return dst, atts, err
			}
			dst = append(dst, ':')
			if dst, atts, err = c.appendJSON(dst, atts, depth+1); err != nil {
				return dst, atts, err
			}
		}
		return append(dst, '}'), atts, nil
	case msgpcode.IsExt(code):
		return c.appendExt(dst, atts)
	}
	return dst, atts, ErrMsgpack
}

// appendKey converts a map key. A JavaScript object key is always a
// string: a number key becomes its decimal text, as `obj[1]` is `obj["1"]`;
// any other key becomes the JSON text of its value, quoted.
func (c *Codec) appendKey(dst []byte, atts [][]byte, depth int) ([]byte, [][]byte, error) {
	if code, err := c.dec.PeekCode(); err == nil && msgpcode.IsString(code) {
		s, err := c.readBytes()
		if err != nil {
			return dst, atts, err
		}
		return socketio.AppendJSONString(dst, s), atts, nil
	}
	mark := len(dst)
	dst, atts, err := c.appendJSON(dst, atts, depth+1)
	if err != nil {
		return dst, atts, err
	}
	c.json = append(c.json[:0], dst[mark:]...)
	return socketio.AppendJSONString(dst[:mark], c.json), atts, nil
}

// readBytes reads a str or bin value into c.str, refusing a length that
// runs past the end of the input before anything is allocated for it.
func (c *Codec) readBytes() ([]byte, error) {
	n, err := c.dec.DecodeBytesLen()
	if err != nil || n > c.rd.Len() {
		return nil, ErrMsgpack
	}
	if n < 0 {
		n = 0
	}
	c.str = grow(c.str, n)
	if err := c.dec.ReadFull(c.str); err != nil {
		return nil, ErrMsgpack
	}
	return c.str, nil
}

// appendExt converts an extension value the way notepack.io 3 decodes it:
// type -1 is a timestamp (a Date, which JSON.stringify writes with
// toISOString), fixext 1 of type 0 is undefined (null in JSON), any other
// type 0 is an ArrayBuffer (binary), and other types are [type, Buffer].
func (c *Codec) appendExt(dst []byte, atts [][]byte) ([]byte, [][]byte, error) {
	code, _ := c.dec.PeekCode()
	id, n, err := c.dec.DecodeExtHeader()
	if err != nil || n > c.rd.Len() || n < 0 {
		return dst, atts, ErrMsgpack
	}
	c.str = grow(c.str, n)
	if err := c.dec.ReadFull(c.str); err != nil {
		return dst, atts, ErrMsgpack
	}
	p := c.str
	switch {
	case id == -1:
		ms, ok := timestampMillis(p)
		if !ok {
			return dst, atts, ErrMsgpack
		}
		dst = append(dst, '"')
		dst = time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
		return append(dst, '"'), atts, nil
	case id == 0 && code == msgpcode.FixExt1:
		return append(dst, "null"...), atts, nil
	case id == 0 && (code == msgpcode.Ext8 || code == msgpcode.Ext16 || code == msgpcode.Ext32):
		return appendPlaceholder(dst, len(atts)), append(atts, bytes.Clone(p)), nil
	}
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(id), 10)
	dst = append(dst, ',')
	return append(appendPlaceholder(dst, len(atts)), ']'), append(atts, bytes.Clone(p)), nil
}

// timestampMillis reads the msgpack timestamp extension (spec
// "Timestamp extension type": 32-bit seconds; 30-bit nanoseconds and
// 34-bit seconds; 32-bit nanoseconds and signed 64-bit seconds) as
// JavaScript milliseconds. A Date's time value is a whole number of
// milliseconds, so sub-millisecond nanoseconds are truncated, as
// `new Date(s * 1e3 + ns / 1e6)` does.
func timestampMillis(p []byte) (int64, bool) {
	var s, ns int64
	switch len(p) {
	case 4:
		s = int64(binary.BigEndian.Uint32(p))
	case 8:
		v := binary.BigEndian.Uint64(p)
		ns, s = int64(v>>34), int64(v&(1<<34-1))
	case 12:
		ns, s = int64(binary.BigEndian.Uint32(p)), int64(binary.BigEndian.Uint64(p[4:]))
	default:
		return 0, false
	}
	return s*1000 + ns/1e6, true
}

// appendPlaceholder appends socket.io-parser's placeholder for
// attachment num, byte for byte as its deconstructPacket writes it.
func appendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

// appendJSFloat writes f as JavaScript's Number.prototype.toString (and
// so JSON.stringify) does: shortest round-trip digits, exponent form below
// 1e-6 and from 1e21 on, "e-7" rather than Go's "e-07". NaN and the
// infinities have no JSON form; JSON.stringify writes null.
func appendJSFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// ---------------------------------------------------------------- JSON scanning

// skipWS returns the index of the first byte at or after i that is not
// JSON whitespace (RFC 8259 §2: space, tab, line feed, carriage return).
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, ErrInvalidJSON
	}
	return i + len(lit), nil
}

// scanString scans the string literal whose opening quote is b[i] and
// returns the index past its closing quote (or -1) and whether it holds
// escapes. RFC 8259 §7: control characters must be escaped; the escapes
// are \" \\ \/ \b \f \n \r \t and \uXXXX.
func scanString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc
		case c < 0x20:
			return -1, esc
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				return -1, esc
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || hex4(b[j+2:j+6]) < 0 {
					return -1, esc
				}
				j += 6
			default:
				return -1, esc
			}
		default:
			j++
		}
	}
	return -1, esc
}

// scanNumber scans the number at b[i] (RFC 8259 §6: [ minus ] int
// [ frac ] [ exp ]) and returns the index past it, or -1.
func scanNumber(b []byte, i int) int {
	digits := func(i int) int {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(i + 1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(v)
	}
	return r
}

// unescape appends the UTF-8 text of the contents s of a valid JSON
// string literal. A \uXXXX surrogate pair becomes one code point; a lone
// surrogate becomes U+FFFD, as Buffer.from(string) (notepack's utf8Write)
// encodes it.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
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
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if r < 0xdc00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := hex4(s[i+2 : i+6]); r2 >= 0xdc00 && r2 < 0xe000 {
						dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}
