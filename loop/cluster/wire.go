package cluster

import (
	"strings"

	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"sioloop/loop"
)

// DefaultKey is the channel prefix of @socket.io/redis-adapter and
// @socket.io/redis-emitter (their `key` option).
const DefaultKey = "socket.io"

// RequestType is the type of a request between servers, numbered as the
// RequestType enum of @socket.io/redis-adapter 8.x (lib/index.ts).
type RequestType int

// The request types of @socket.io/redis-adapter 8.x.
const (
	Sockets              RequestType = 0 // socket ids of rooms: {rooms} → {sockets:[id]}
	AllRooms             RequestType = 1 // → {rooms}
	RemoteJoin           RequestType = 2 // {opts, rooms}; or {sid, room} → {} (adapter < 7)
	RemoteLeave          RequestType = 3 // same shapes as RemoteJoin
	RemoteDisconnect     RequestType = 4 // {opts, close}; or {sid, close} → {}
	RemoteFetch          RequestType = 5 // {opts} → {sockets:[{id, handshake, rooms, data}]}
	ServerSideEmit       RequestType = 6 // {data:[ev, ...args]}; with requestId → {type:6, data}
	BroadcastRequest     RequestType = 7 // msgpack {packet, opts}: broadcast with acks
	BroadcastClientCount RequestType = 8 // response {type:8, clientCount}
	BroadcastAck         RequestType = 9 // msgpack response {type:9, packet}
)

// Packet types of socket.io-parser that a broadcast message may carry.
const (
	packetEvent       = 2
	packetBinaryEvent = 5
)

// BroadcastChannel returns the channel of a broadcast to namespace nsp:
// "<key>#<nsp>#", or "<key>#<nsp>#<room>#" when the broadcast targets
// exactly one room (RedisAdapter.broadcast: `if (opts.rooms &&
// opts.rooms.size === 1) channel += room + "#"`).
func BroadcastChannel(key, nsp string, rooms []string) string {
	ch := key + "#" + nsp + "#"
	if len(rooms) == 1 {
		ch += rooms[0] + "#"
	}
	return ch
}

// RequestChannel returns "<key>-request#<nsp>#", where requests go and
// whose subscribers PUBSUB NUMSUB counts as the servers of nsp.
func RequestChannel(key, nsp string) string { return key + "-request#" + nsp + "#" }

// ResponseChannel returns "<key>-response#<nsp>#", where responses go.
func ResponseChannel(key, nsp string) string { return key + "-response#" + nsp + "#" }

// broadcastPattern returns the PSUBSCRIBE pattern of nsp's broadcasts,
// "<key>#<nsp>#*", with the glob characters of the literal part escaped
// so that a namespace such as "/org-*" matches only itself.
func broadcastPattern(key, nsp string) string {
	return globEscaper.Replace(key+"#"+nsp+"#") + "*"
}

// globEscaper escapes the characters Redis's stringmatchlen treats as
// special: * ? [ ] and the backslash.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// Message is a broadcast received from another server.
type Message struct {
	// UID is the publishing server's uid ("emitter" for
	// @socket.io/redis-emitter).
	UID string
	// Broadcast is ready for loop.SocketIO.Broadcast: Local is set, Args
	// and Attachments are owned by the Message and reused by the next
	// ParseBroadcast into it. Of the flags only volatile changes delivery
	// here (compress, local and the others are ignored).
	Broadcast loop.Broadcast

	args []byte // buffer of Broadcast.Args
}

// AppendBroadcast appends the msgpack message that carries b to the other
// servers, byte for byte as RedisAdapter.broadcast (notepack.io) writes
// it: [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except,
// flags}]. Node's encoder re-derives BINARY_EVENT from the presence of
// binary data, so type is always 2, as Node publishes it. flags is {} or
// {volatile: true}.
func (c *Codec) AppendBroadcast(dst []byte, uid string, b *loop.Broadcast) ([]byte, error) {
	nsp := b.Namespace
	if nsp == "" {
		nsp = "/"
	}
	n, err := c.scanList(b.Args, len(b.Attachments))
	if err != nil {
		return dst, err
	}
	c.start(dst)
	e := c.enc
	_ = e.EncodeArrayLen(3)
	_ = e.EncodeString(uid)
	_ = e.EncodeMapLen(3)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(packetEvent)
	_ = e.EncodeString("data")
	_ = e.EncodeArrayLen(1 + n)
	_ = e.EncodeString(b.Event)
	c.emit(b.Args, b.Attachments)
	_ = e.EncodeString("nsp")
	_ = e.EncodeString(nsp)
	c.appendOpts(b.Rooms, b.Except, b.Volatile, 0)
	return c.finish(), nil
}

// appendOpts writes {rooms, except, flags}; flags holds volatile when set
// and timeout (milliseconds) when positive.
func (c *Codec) appendOpts(rooms, except []string, volatile bool, timeoutMS int64) {
	e := c.enc
	_ = e.EncodeMapLen(3)
	_ = e.EncodeString("rooms")
	c.appendStrings(rooms)
	_ = e.EncodeString("except")
	c.appendStrings(except)
	_ = e.EncodeString("flags")
	nf := 0
	if volatile {
		nf++
	}
	if timeoutMS > 0 {
		nf++
	}
	_ = e.EncodeMapLen(nf)
	if volatile {
		_ = e.EncodeString("volatile")
		_ = e.EncodeBool(true)
	}
	if timeoutMS > 0 {
		_ = e.EncodeString("timeout")
		_ = e.EncodeInt(timeoutMS)
	}
}

func (c *Codec) appendStrings(list []string) {
	_ = c.enc.EncodeArrayLen(len(list))
	for _, s := range list {
		_ = c.enc.EncodeString(s)
	}
}

// ParseBroadcast reads a message published on a broadcast channel into m.
// It accepts what RedisAdapter.onmessage accepts: an array [uid, packet,
// opts] whose packet has type 2 or 5, data [event, ...args] and nsp
// (missing means "/"), and whose opts has rooms, except and flags. The
// event name must be a string (a number is taken as its text, as
// socket.io-client does). Unknown keys are skipped.
//
// Nothing of m aliases msg: the Broadcast's slices are m's own buffers,
// valid until the next ParseBroadcast into m.
func (c *Codec) ParseBroadcast(msg []byte, m *Message) error {
	c.reset(msg)
	d := c.dec
	n, err := d.DecodeArrayLen()
	if err != nil || n < 2 {
		return ErrNotBroadcast
	}
	uid, err := c.readString()
	if err != nil {
		return ErrNotBroadcast
	}
	m.UID = uid
	b := &m.Broadcast
	*b = loop.Broadcast{Local: true, Attachments: b.Attachments[:0]}
	if err := c.parsePacket(m); err != nil {
		return err
	}
	if n >= 3 {
		if err := c.parseOpts(b); err != nil {
			return err
		}
	}
	return nil
}

// eachKey walks a msgpack map, calling field for every key: field reads
// the value of a key it knows, and reports false for the others, which are
// skipped. With nilOK a nil (JavaScript undefined) counts as an empty map.
func (c *Codec) eachKey(nilOK bool, field func(key string) (known bool, err error)) error {
	d := c.dec
	if code, _ := d.PeekCode(); nilOK && code == msgpcode.Nil {
		_ = d.DecodeNil()
		return nil
	}
	nk, err := d.DecodeMapLen()
	if err != nil || nk < 0 {
		return ErrNotBroadcast
	}
	for i := 0; i < nk; i++ {
		key, err := c.readKey()
		if err != nil {
			return err
		}
		known, err := field(key)
		if err != nil {
			return err
		}
		if !known {
			if err := d.Skip(); err != nil {
				return ErrMsgpack
			}
		}
	}
	return nil
}

// parsePacket reads {type, data, nsp} into m.
func (c *Codec) parsePacket(m *Message) error {
	d := c.dec
	b := &m.Broadcast
	typ, sawData := -1, false
	b.Namespace = "/"
	err := c.eachKey(false, func(key string) (bool, error) {
		switch key {
		case "type":
			t, err := d.DecodeInt()
			if err != nil {
				return true, ErrNotBroadcast
			}
			typ = t
		case "nsp":
			if code, _ := d.PeekCode(); code == msgpcode.Nil {
				_ = d.DecodeNil() // undefined: "/"
				return true, nil
			}
			ns, err := c.readString()
			if err != nil {
				return true, ErrNotBroadcast
			}
			b.Namespace = ns
		case "data":
			if err := c.parseData(m); err != nil {
				return true, err
			}
			sawData = true
		default:
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !sawData || (typ != packetEvent && typ != packetBinaryEvent) {
		return ErrNotBroadcast
	}
	return nil
}

// parseData reads [event, ...args]: the name into Event, the rest as JSON
// list content into Args with binary values as attachments.
func (c *Codec) parseData(m *Message) error {
	d := c.dec
	n, err := d.DecodeArrayLen()
	if err != nil || n < 1 || n > c.rd.Len() {
		return ErrNotBroadcast
	}
	b := &m.Broadcast
	code, err := d.PeekCode()
	switch {
	case err != nil:
		return ErrMsgpack
	case msgpcode.IsString(code):
		s, err := c.readBytes()
		if err != nil {
			return err
		}
		b.Event = string(s)
	default:
		// socket.io-client emits a number name as its text (`[42]`).
		var atts [][]byte
		c.json, atts, err = c.appendJSON(c.json[:0], nil, 1)
		if err != nil {
			return err
		}
		if len(atts) > 0 || len(c.json) == 0 || c.json[0] == '[' || c.json[0] == '{' || c.json[0] == 'n' || c.json[0] == '"' {
			return ErrNotBroadcast
		}
		b.Event = string(c.json)
	}
	args := m.args[:0]
	atts := b.Attachments
	for i := 1; i < n; i++ {
		if i > 1 {
			args = append(args, ',')
		}
		if args, atts, err = c.appendJSON(args, atts, 1); err != nil {
			return err
		}
	}
	m.args = args
	b.Args, b.Attachments = args, atts
	return nil
}

// parseOpts reads {rooms, except, flags}.
func (c *Codec) parseOpts(b *loop.Broadcast) error {
	return c.eachKey(true, func(key string) (bool, error) {
		var err error
		switch key {
		case "rooms":
			b.Rooms, err = c.readRooms()
		case "except":
			b.Except, err = c.readRooms()
		case "flags":
			err = c.parseFlags(b)
		default:
			return false, nil
		}
		return true, err
	})
}

// parseFlags reads the flags map; only volatile changes delivery here.
func (c *Codec) parseFlags(b *loop.Broadcast) error {
	d := c.dec
	return c.eachKey(true, func(key string) (bool, error) {
		if key != "volatile" {
			return false, nil
		}
		if code, _ := d.PeekCode(); code != msgpcode.True && code != msgpcode.False {
			return false, nil
		}
		b.Volatile, _ = d.DecodeBool()
		return true, nil
	})
}

// readRooms reads an array of room names. Socket.IO rooms are strings,
// but a JavaScript caller may pass numbers (io.to(42)); their decimal
// text is the room name, as RedisAdapter.hasRoom assumes.
func (c *Codec) readRooms() ([]string, error) {
	d := c.dec
	if code, _ := d.PeekCode(); code == msgpcode.Nil {
		_ = d.DecodeNil()
		return nil, nil
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n > c.rd.Len() {
		return nil, ErrNotBroadcast
	}
	if n <= 0 {
		return nil, nil
	}
	rooms := make([]string, 0, n)
	for i := 0; i < n; i++ {
		code, err := d.PeekCode()
		if err != nil {
			return nil, ErrMsgpack
		}
		if msgpcode.IsString(code) {
			s, err := c.readString()
			if err != nil {
				return nil, err
			}
			rooms = append(rooms, s)
			continue
		}
		c.json, _, err = c.appendJSON(c.json[:0], nil, MaxDepth-1)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, string(c.json))
	}
	return rooms, nil
}

// readString reads a str (or bin) value as a new string.
func (c *Codec) readString() (string, error) {
	s, err := c.readBytes()
	if err != nil {
		return "", err
	}
	return string(s), nil
}

// readKey reads a map key; the keys the adapter writes are short ASCII,
// so the comparison needs no allocation (the compiler does not allocate
// for string(b) in a switch).
func (c *Codec) readKey() (string, error) {
	code, err := c.dec.PeekCode()
	if err != nil {
		return "", ErrMsgpack
	}
	if !msgpcode.IsString(code) {
		if err := c.dec.Skip(); err != nil {
			return "", ErrMsgpack
		}
		return "", nil
	}
	s, err := c.readBytes()
	if err != nil {
		return "", err
	}
	switch string(s) {
	case "type":
		return "type", nil
	case "data":
		return "data", nil
	case "nsp":
		return "nsp", nil
	case "rooms":
		return "rooms", nil
	case "except":
		return "except", nil
	case "flags":
		return "flags", nil
	case "volatile":
		return "volatile", nil
	}
	return "", nil
}
