package cluster

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"sioloop/protocol/socketio"
)

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
