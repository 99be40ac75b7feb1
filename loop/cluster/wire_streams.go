package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// ---------------------------------------------------------------- the Streams protocol

// MessageType is the type of a message of socket.io-adapter's
// ClusterAdapter protocol (cluster-adapter.ts, socket.io-adapter 2.5),
// which @socket.io/redis-streams-adapter 0.3.x speaks.
type MessageType int

// The message types of socket.io-adapter 2.5's ClusterAdapter. 0.3.x of
// the Streams adapter extends ClusterAdapter, not ClusterAdapterWithHeartbeat:
// it never sends the heartbeats nor ADAPTER_CLOSE, and counts servers with
// PUBSUB NUMSUB instead.
const (
	MsgInitialHeartbeat       MessageType = 1
	MsgHeartbeat              MessageType = 2
	MsgBroadcast              MessageType = 3  // {packet, opts}; with requestId a broadcast with acks (pub/sub)
	MsgSocketsJoin            MessageType = 4  // {opts, rooms}
	MsgSocketsLeave           MessageType = 5  // {opts, rooms}
	MsgDisconnectSockets      MessageType = 6  // {opts, close}
	MsgFetchSockets           MessageType = 7  // {opts, requestId} (pub/sub)
	MsgFetchSocketsResponse   MessageType = 8  // {requestId, sockets}
	MsgServerSideEmit         MessageType = 9  // {packet: [ev, ...args], requestId?} (pub/sub)
	MsgServerSideEmitResponse MessageType = 10 // {requestId, packet}
	MsgBroadcastClientCount   MessageType = 11 // {requestId, clientCount}
	MsgBroadcastAck           MessageType = 12 // {requestId, packet}
	MsgAdapterClose           MessageType = 13
)

// publicChannel returns "<key>#<nsp>#": the pub/sub channel of the
// ephemeral messages of nsp (broadcast with acks, fetch sockets,
// server-side emit), whose PUBSUB NUMSUB is the number of servers.
func publicChannel(key, nsp string) string { return key + "#" + nsp + "#" }

// privateChannel returns "<key>#<nsp>#<uid>#", where the responses to
// server uid's requests go.
func privateChannel(key, nsp, uid string) string { return key + "#" + nsp + "#" + uid + "#" }

// entry is one stream entry as RedisStreamsAdapter.encode writes it:
// the fields uid, nsp, type (decimal) and data, in that order. data is
// JSON, or the base64 of its msgpack form when it holds binary values.
type entry struct {
	uid, nsp, typ, data string
}

// args returns the XADD of e to stream, trimmed as the Node adapter does
// it: MAXLEN ~ maxLen.
func (e *entry) args(stream string, maxLen int64) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true,
		Values: []any{"uid", e.uid, "nsp", e.nsp, "type", e.typ, "data", e.data}}
}

// clusterMessage is a message of the ClusterAdapter protocol, read from a
// stream entry or a pub/sub payload and converted to JSON: binary values
// are placeholders for the attachments returned beside it.
type clusterMessage struct {
	UID  string          `json:"uid"`
	Nsp  string          `json:"nsp"`
	Type MessageType     `json:"type"`
	Data json.RawMessage `json:"data"`
}

// clusterData is the union of the data objects of every message type.
type clusterData struct {
	RequestID   string          `json:"requestId"`
	Packet      json.RawMessage `json:"packet"`
	Opts        *requestOpts    `json:"opts"`
	Rooms       roomList        `json:"rooms"`
	Close       bool            `json:"close"`
	Sockets     json.RawMessage `json:"sockets"`
	ClientCount int             `json:"clientCount"`
}

// ParseEntry reads the fields of a stream entry into m, as
// RedisStreamsAdapter.decode does: type is a decimal number, data JSON
// when it starts with '{', else base64 of msgpack (converted to JSON, its
// binary values becoming placeholders for the attachments returned).
// Node's reader skips an entry without nsp; so does ParseEntry, with
// ErrNotBroadcast. Nothing of m aliases the arguments but Data, which
// aliases the Codec's scratch buffer until its next call.
func (c *Codec) ParseEntry(uid, nsp, typ, data string, m *clusterMessage) ([][]byte, error) {
	*m = clusterMessage{UID: uid, Nsp: nsp}
	if nsp == "" || uid == "" {
		return nil, ErrNotBroadcast
	}
	t, err := strconv.Atoi(typ)
	if err != nil || t < 0 || t > 1<<16 {
		return nil, ErrNotBroadcast
	}
	m.Type = MessageType(t)
	if data == "" {
		return nil, nil
	}
	if data[0] == '{' {
		if !json.Valid([]byte(data)) {
			return nil, ErrInvalidJSON
		}
		m.Data = json.RawMessage(data)
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, ErrMsgpack
	}
	var atts [][]byte
	var n int
	c.json, atts, n, err = c.AppendJSON(c.json[:0], raw, nil)
	if err != nil {
		return nil, err
	}
	if n != len(raw) || len(c.json) == 0 || c.json[0] != '{' {
		return nil, ErrMsgpack
	}
	m.Data = c.json
	return atts, nil
}

// parseClusterMessage reads a pub/sub payload of the Streams protocol:
// the msgpack (@msgpack/msgpack) map {type, data, uid, nsp}.
func (c *Codec) parseClusterMessage(payload []byte, m *clusterMessage) ([][]byte, error) {
	*m = clusterMessage{}
	var atts [][]byte
	var n int
	var err error
	c.json, atts, n, err = c.AppendJSON(c.json[:0], payload, nil)
	if err != nil {
		return nil, err
	}
	if n != len(payload) || len(c.json) == 0 || c.json[0] != '{' {
		return nil, ErrMsgpack
	}
	if err := json.Unmarshal(c.json, m); err != nil {
		return nil, ErrInvalidJSON
	}
	return atts, nil
}

// streamsOpts is encodeOptions' {rooms, except, flags}.
type streamsOpts struct {
	Rooms  roomList     `json:"rooms"`
	Except roomList     `json:"except"`
	Flags  streamsFlags `json:"flags"`
}

// streamsFlags are the BroadcastFlags a sioloop server sets.
type streamsFlags struct {
	Volatile bool  `json:"volatile,omitempty"`
	Timeout  int64 `json:"timeout,omitempty"`
}

// marshal writes v as JSON without HTML escapes, as JSON.stringify does.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("BUG: cluster: cannot encode message: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// AppendEntryData returns the data field of the stream entry that
// carries broadcast b to the other servers ({packet, opts}, as
// ClusterAdapter.broadcast publishes it): JSON, or base64 msgpack when b
// has attachments.
func (c *Codec) AppendEntryData(b *loop.Broadcast) (string, error) {
	js, err := c.appendBroadcastData(nil, b, "", 0)
	if err != nil {
		return "", err
	}
	return c.entryData(js, b.Attachments)
}

// appendBroadcastData appends the JSON data of a BROADCAST message,
// {"packet":{"type":2,"data":[event,...args],"nsp":…},"requestId":…,
// "opts":{"rooms":[…],"except":[…],"flags":{…}}}, written by hand as
// JSON.stringify would: it is made on the broadcasting goroutine, maybe
// a reactor. requestId is left out when "", flags.timeout when 0.
func (c *Codec) appendBroadcastData(dst []byte, b *loop.Broadcast, requestID string, timeoutMS int64) ([]byte, error) {
	if _, err := c.scanList(b.Args, len(b.Attachments)); err != nil {
		return dst, err
	}
	if dst == nil {
		dst = make([]byte, 0, 128+len(b.Event)+len(b.Args))
	}
	dst = append(dst, `{"packet":{"type":2,"data":[`...)
	dst = socketio.AppendJSONStringOf(dst, b.Event)
	if len(b.Args) > 0 {
		dst = append(append(dst, ','), b.Args...)
	}
	dst = append(dst, `],"nsp":`...)
	dst = socketio.AppendJSONStringOf(dst, nsName(b.Namespace))
	dst = append(dst, '}')
	if requestID != "" {
		dst = append(dst, `,"requestId":`...)
		dst = socketio.AppendJSONStringOf(dst, requestID)
	}
	dst = append(dst, `,"opts":{"rooms":`...)
	dst = appendJSONStrings(dst, b.Rooms)
	dst = append(dst, `,"except":`...)
	dst = appendJSONStrings(dst, b.Except)
	dst = append(dst, `,"flags":{`...)
	if b.Volatile {
		dst = append(dst, `"volatile":true`...)
	}
	if timeoutMS > 0 {
		if b.Volatile {
			dst = append(dst, ',')
		}
		dst = append(dst, `"timeout":`...)
		dst = strconv.AppendInt(dst, timeoutMS, 10)
	}
	return append(dst, "}}}"...), nil
}

// appendJSONStrings appends list as a JSON array of strings.
func appendJSONStrings(dst []byte, list []string) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = socketio.AppendJSONStringOf(dst, s)
	}
	return append(dst, ']')
}

// entryData returns js as the data of a stream entry: itself without
// attachments, else the base64 of its msgpack form.
func (c *Codec) entryData(js []byte, atts [][]byte) (string, error) {
	if len(atts) == 0 {
		return string(js), nil
	}
	mp, err := c.AppendMsgpack(nil, js, atts)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(mp), nil
}

// appendClusterMessage appends the msgpack map {type, data, uid, nsp}
// that the Streams adapter sends through pub/sub; data is JSON whose
// placeholders stand for atts.
func (c *Codec) appendClusterMessage(dst []byte, typ MessageType, data []byte, atts [][]byte, uid, nsp string) ([]byte, error) {
	js := marshal(struct {
		Type MessageType     `json:"type"`
		Data json.RawMessage `json:"data"`
		UID  string          `json:"uid"`
		Nsp  string          `json:"nsp"`
	}{typ, data, uid, nsp})
	return c.AppendMsgpack(dst, js, atts)
}
