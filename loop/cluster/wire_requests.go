package cluster

import (
	"bytes"
	"encoding/json"

	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// ---------------------------------------------------------------- requests and responses

// request is a request between servers, in the JSON shapes of
// RedisAdapter and RedisEmitter; msgpack requests (BROADCAST) are
// converted to JSON first, their binary values becoming placeholders.
type request struct {
	UID       string          `json:"uid"`
	RequestID string          `json:"requestId"`
	Type      RequestType     `json:"type"`
	Rooms     roomList        `json:"rooms"`
	Opts      *requestOpts    `json:"opts"`
	Close     bool            `json:"close"`
	Data      json.RawMessage `json:"data"`
	Packet    json.RawMessage `json:"packet"`
	SID       string          `json:"sid"`  // REMOTE_JOIN/LEAVE/DISCONNECT of adapter < 7
	Room      string          `json:"room"` // REMOTE_JOIN/LEAVE of adapter < 7
}

// requestOpts is the target of a request, and the flags of a BROADCAST.
type requestOpts struct {
	Rooms  roomList      `json:"rooms"`
	Except roomList      `json:"except"`
	Flags  *requestFlags `json:"flags,omitempty"`
}

// requestFlags are the BroadcastFlags that matter to a broadcast with
// acks: timeout (milliseconds) and volatile.
type requestFlags struct {
	Volatile bool    `json:"volatile,omitempty"`
	Timeout  float64 `json:"timeout,omitempty"`
}

// packet is a socket.io packet object inside a BROADCAST request.
type packet struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
	Nsp  string          `json:"nsp"`
}

// response is any response between servers.
type response struct {
	Type        RequestType     `json:"type"`
	RequestID   string          `json:"requestId"`
	Sockets     json.RawMessage `json:"sockets"`
	Rooms       roomList        `json:"rooms"`
	Data        json.RawMessage `json:"data"`
	ClientCount int             `json:"clientCount"`
	Packet      json.RawMessage `json:"packet"`
	atts        [][]byte
}

// remoteSocket is one socket of a REMOTE_FETCH response: RemoteSocket's
// constructor in socket.io (id, handshake, rooms, data).
type remoteSocket struct {
	ID        string          `json:"id"`
	Handshake handshake       `json:"handshake"`
	Rooms     roomList        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
}

// handshake is the part of socket.handshake that sioloop fills in; Node
// sends every field (headers, time, issued, url, query, auth, ...), and
// the extra ones are kept in rest when read.
type handshake struct {
	Address string            `json:"address"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Auth    map[string]any    `json:"auth"`
	Secure  bool              `json:"secure"`
	XDomain bool              `json:"xdomain"`
	Issued  int64             `json:"issued,omitempty"`
	Time    string            `json:"time,omitempty"`
	URL     string            `json:"url,omitempty"`
}

// roomList is a list of room names that also takes numbers (as their
// text) and null (as empty).
type roomList []string

// UnmarshalJSON implements json.Unmarshaler.
func (r *roomList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			s = string(bytes.TrimSpace(v))
		}
		out = append(out, s)
	}
	*r = out
	return nil
}

// MarshalJSON implements json.Marshaler: nil is written as [], since
// Node builds a Set from it.
func (r roomList) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(r))
}

// parseRequest reads a request: JSON when it starts with '{' (the test
// RedisAdapter.onrequest makes), msgpack otherwise, converted to JSON.
func (c *Codec) parseRequest(msg []byte, r *request) ([][]byte, error) {
	*r = request{}
	var atts [][]byte
	if len(msg) == 0 || msg[0] != '{' {
		var err error
		var n int
		c.json, atts, n, err = c.AppendJSON(c.json[:0], msg, nil)
		if err != nil {
			return nil, err
		}
		if n != len(msg) {
			return nil, ErrMsgpack
		}
		msg = c.json
	}
	if err := json.Unmarshal(msg, r); err != nil {
		return nil, ErrInvalidJSON
	}
	return atts, nil
}

// parseResponse reads a response, JSON or msgpack (BROADCAST_ACK).
func (c *Codec) parseResponse(msg []byte, r *response) error {
	*r = response{}
	if len(msg) == 0 || msg[0] != '{' {
		var err error
		var n int
		c.json, r.atts, n, err = c.AppendJSON(c.json[:0], msg, nil)
		if err != nil {
			return err
		}
		if n != len(msg) {
			return ErrMsgpack
		}
		msg = c.json
	}
	if err := json.Unmarshal(msg, r); err != nil {
		return ErrInvalidJSON
	}
	return nil
}

// splitData splits a JSON packet data array ["event", ...args] into the
// event name and the list content of the arguments.
func splitData(data []byte) (string, []byte, error) {
	name, args, err := socketio.SplitEvent(data)
	if err != nil {
		return "", nil, ErrNotBroadcast
	}
	return string(name), args, nil
}

// appendBroadcastRequest appends the msgpack BROADCAST request of a
// broadcast with acks, as RedisAdapter.broadcastWithAck publishes it:
// {uid, requestId, type: 7, packet: {type: 2, data, nsp}, opts: {rooms,
// except, flags: {timeout}}}.
func (c *Codec) appendBroadcastRequest(dst []byte, uid, requestID string, b *loop.Broadcast, timeoutMS int64) ([]byte, error) {
	n, err := c.scanList(b.Args, len(b.Attachments))
	if err != nil {
		return dst, err
	}
	nsp := b.Namespace
	if nsp == "" {
		nsp = "/"
	}
	c.start(dst)
	e := c.enc
	_ = e.EncodeMapLen(5)
	_ = e.EncodeString("uid")
	_ = e.EncodeString(uid)
	_ = e.EncodeString("requestId")
	_ = e.EncodeString(requestID)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(int64(BroadcastRequest))
	_ = e.EncodeString("packet")
	_ = e.EncodeMapLen(3)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(packetEvent)
	_ = e.EncodeString("data")
	_ = e.EncodeArrayLen(1 + n)
	_ = e.EncodeString(b.Event)
	c.emit(b.Args, b.Attachments)
	_ = e.EncodeString("nsp")
	_ = e.EncodeString(nsp)
	_ = e.EncodeString("opts")
	c.appendOpts(b.Rooms, b.Except, b.Volatile, timeoutMS)
	return c.finish(), nil
}

// appendBroadcastAck appends the msgpack BROADCAST_ACK response carrying
// one client's acknowledgement, {type: 9, requestId, packet: value}, value
// being the first argument of the ack (the one Node's ack callback keeps).
func (c *Codec) appendBroadcastAck(dst []byte, requestID string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		value = []byte("null")
	}
	n, err := c.scanList(value, 0)
	if err != nil {
		return dst, err
	}
	if n != 1 {
		return dst, ErrInvalidJSON
	}
	c.start(dst)
	e := c.enc
	_ = e.EncodeMapLen(3)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(int64(BroadcastAck))
	_ = e.EncodeString("requestId")
	_ = e.EncodeString(requestID)
	_ = e.EncodeString("packet")
	c.emit(value, nil)
	return c.finish(), nil
}

// firstArg returns the first value of a raw JSON array such as the
// "[a,b]" of loop.AckResponse.Args, or nil when it is empty.
func firstArg(arr []byte) []byte {
	var list []json.RawMessage
	if err := json.Unmarshal(arr, &list); err != nil || len(list) == 0 {
		return nil
	}
	return list[0]
}
