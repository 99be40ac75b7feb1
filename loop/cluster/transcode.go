package cluster

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"
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
