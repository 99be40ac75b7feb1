package socketio

import (
	"strconv"

	"sioloop/protocol/internal/jsontext"
)

// AppendHeader appends the header of a packet to dst and returns the
// extended slice; dst may be nil. It writes, as Node's Encoder does:
// the type; "<attachments>-" for BINARY_EVENT and BINARY_ACK when
// attachments > 0; the namespace and a ',' unless nsp is empty or "/"
// ("the namespace is only included if it is different from the main
// namespace"); the ack id if hasAck.
//
// nsp must not contain ',' (see CheckNamespace): Node's encoder throws
// on such a namespace, this one trusts the caller. A CONNECT with
// attachments 0 and no data is also the whole EIO3 CONNECT reply.
func AppendHeader(dst []byte, t PacketType, attachments int, nsp []byte, hasAck bool, ackID uint64) []byte {
	dst = append(dst, byte(t))
	if (t == BinaryEvent || t == BinaryAck) && attachments > 0 {
		dst = strconv.AppendUint(dst, uint64(attachments), 10)
		dst = append(dst, '-')
	}
	if len(nsp) > 0 && !(len(nsp) == 1 && nsp[0] == '/') {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if hasAck {
		dst = strconv.AppendUint(dst, ackID, 10)
	}
	return dst
}

// AppendEvent appends a complete EVENT packet, header then
// ["<name>",<args>], to dst. With attachments > 0 it is a BINARY_EVENT
// whose args hold that many {"_placeholder":true,"num":N} objects; the
// attachments themselves follow as separate Engine.IO messages. name is
// the event name as text (it is escaped with AppendJSONString); args is
// raw JSON list content such as SplitEvent returns, and may be empty. It
// is the one encoder of events, for single emits and broadcasts alike,
// and does not allocate when dst has room.
func AppendEvent[S ~string | ~[]byte](dst []byte, nsp []byte, attachments int, hasAck bool, ackID uint64, name S, args []byte) []byte {
	t := Event
	if attachments > 0 {
		t = BinaryEvent
	}
	dst = AppendHeader(dst, t, attachments, nsp, hasAck, ackID)
	dst = append(dst, '[')
	dst = jsontext.AppendString(dst, name)
	if len(args) > 0 {
		dst = append(dst, ',')
		dst = append(dst, args...)
	}
	return append(dst, ']')
}

// AppendAck appends a complete ACK packet, 3[<nsp>,]<ackID>[<args>], to
// dst; with attachments > 0 a BINARY_ACK, 6<attachments>-..., as for
// AppendEvent. args is raw JSON list content and may be empty, giving
// "[]" as Node does for an ack callback called without arguments.
func AppendAck(dst []byte, nsp []byte, attachments int, ackID uint64, args []byte) []byte {
	t := Ack
	if attachments > 0 {
		t = BinaryAck
	}
	dst = AppendHeader(dst, t, attachments, nsp, true, ackID)
	dst = append(dst, '[')
	dst = append(dst, args...)
	return append(dst, ']')
}

// AppendConnect appends the server's CONNECT reply for EIO4,
// 0[<nsp>,]{"sid":"<sid>"}, to dst. For EIO3, which carries no payload,
// use AppendHeader(dst, Connect, 0, nsp, false, 0).
func AppendConnect(dst []byte, nsp []byte, sid string) []byte {
	dst = AppendHeader(dst, Connect, 0, nsp, false, 0)
	dst = append(dst, `{"sid":`...)
	dst = appendQuoted(dst, sid)
	return append(dst, '}')
}

// AppendConnectPID appends the CONNECT reply of a server with connection
// state recovery on, 0[<nsp>,]{"sid":"<sid>","pid":"<pid>"}: the private
// session id the client sends back in its auth to recover (socket.io
// socket.ts _onconnect).
func AppendConnectPID(dst []byte, nsp []byte, sid, pid string) []byte {
	dst = AppendHeader(dst, Connect, 0, nsp, false, 0)
	dst = append(dst, `{"sid":`...)
	dst = appendQuoted(dst, sid)
	dst = append(dst, `,"pid":`...)
	dst = appendQuoted(dst, pid)
	return append(dst, '}')
}

// AppendConnectError appends a CONNECT_ERROR packet,
// 4[<nsp>,]{"message":"<message>","data":<data>}, to dst, the shape Node
// sends for a middleware's next(err) ({message: err.message, data:
// err.data}). data is raw JSON; when nil the "data" key is left out, as
// JSON.stringify drops an undefined err.data (pass "null" for null).
func AppendConnectError(dst []byte, nsp []byte, message string, data []byte) []byte {
	dst = AppendHeader(dst, ConnectError, 0, nsp, false, 0)
	dst = append(dst, `{"message":`...)
	dst = appendQuoted(dst, message)
	if data != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

// AppendDisconnect appends a DISCONNECT packet, 1[<nsp>,], to dst.
func AppendDisconnect(dst []byte, nsp []byte) []byte {
	return AppendHeader(dst, Disconnect, 0, nsp, false, 0)
}

// CheckNamespace reports whether nsp can be written by AppendHeader and
// read back by Parse: it must start with '/' and must not contain ','
// ("a namespace encoded with this parser MUST NOT contain a comma").
// Call it on configured namespaces at start-up, not per packet.
func CheckNamespace(nsp []byte) error {
	if len(nsp) == 0 || nsp[0] != '/' {
		return ErrBadNamespace
	}
	for _, c := range nsp {
		if c == ',' {
			return ErrBadNamespace
		}
	}
	return nil
}
