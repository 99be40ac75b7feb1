package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
)

// Engine.IO v4 packet types, the first byte of every packet
// (engine.io-protocol v4 "Packet encoding").
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// Socket.IO v5 packet types, the first byte of an Engine.IO message
// (socket.io-protocol v5 "Packet format").
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
	sioBinaryEvent  = '5'
	sioBinaryAck    = '6'
)

// MaxResponseHead is the largest HTTP response head ParseUpgradeResponse waits for.
const MaxResponseHead = 16 << 10

// wsGUID is the fixed string RFC 6455 §1.3 appends to Sec-WebSocket-Key.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AppendUpgradeRequest appends the HTTP/1.1 request that opens an Engine.IO
// v4 WebSocket transport at path (e.g. "/socket.io/") on host ("127.0.0.1:3000").
// key is the base64 Sec-WebSocket-Key: RFC 6455 §4.1 "a nonce consisting of a
// randomly selected 16-byte value that has been base64-encoded".
func AppendUpgradeRequest(dst []byte, host, path string, key []byte) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, "?EIO=4&transport=websocket HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	return append(dst, "\r\n\r\n"...)
}

// AppendAcceptKey appends the Sec-WebSocket-Accept value a server must answer
// for key: RFC 6455 §4.2.2 "base64-encoded SHA-1 of the concatenation of the
// |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
// 258EAFA5-E914-47DA-95CA-C5AB0DC85B11".
func AppendAcceptKey(dst, key []byte) []byte {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.AppendEncode(dst, h.Sum(sum[:0]))
}

// UpgradeResponse is the part of the server's answer to the upgrade request
// that the client checks. Accept is a sub-slice of the input.
type UpgradeResponse struct {
	Status int    // HTTP status code
	Accept []byte // Sec-WebSocket-Accept value, nil when absent
}

// ParseUpgradeResponse reads an HTTP/1.x response head from the start of b
// and returns it with the number of bytes it took (up to and including the
// blank line); the bytes after it are WebSocket frames. It returns ErrNeedMore
// while the blank line has not arrived, ErrHeadTooLarge past MaxResponseHead.
func ParseUpgradeResponse(b []byte) (r UpgradeResponse, n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > MaxResponseHead {
			return r, 0, ErrHeadTooLarge
		}
		return r, 0, ErrNeedMore
	}
	if end+4 > MaxResponseHead {
		return r, 0, ErrHeadTooLarge
	}
	head := b[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return r, 0, ErrBadStatusLine
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return UpgradeResponse{}, 0, ErrBadStatusLine
		}
		r.Status = r.Status*10 + int(c-'0')
	}
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			r.Accept = bytes.TrimSpace(value)
		}
	}
	return r, end + 4, nil
}

// CheckUpgrade reports whether r completes the opening handshake for the
// expected accept value: RFC 6455 §4.1 "If the status code received from the
// server is not 101, the client handles the response per HTTP procedures"
// and "If the response lacks a |Sec-WebSocket-Accept| header field or the
// |Sec-WebSocket-Accept| contains a value other than [the expected one] the
// client MUST _Fail the WebSocket Connection_".
func CheckUpgrade(r UpgradeResponse, accept []byte) error {
	if r.Status != 101 {
		return fmt.Errorf("%w: status %d", ErrUpgradeRefused, r.Status)
	}
	if !bytes.Equal(r.Accept, accept) {
		return ErrBadAccept
	}
	return nil
}

// SIOPacket is a decoded Socket.IO v5 packet (without binary attachments).
// Nsp and Data are sub-slices of the input.
type SIOPacket struct {
	Type        byte   // '0'..'6'
	Attachments int    // binary attachments announced by types 5 and 6
	Nsp         []byte // namespace, "/" when the packet omits it
	ID          int64  // ack id, -1 when absent
	Data        []byte // raw JSON payload, empty when absent
}

var rootNsp = []byte("/")

// ParseSIOPacket decodes a Socket.IO packet, the payload of an Engine.IO
// message: "<type>[<attachments>-][<namespace>,][<ack id>][JSON payload]"
// (socket.io-protocol v5). It checks the framing, not the JSON.
func ParseSIOPacket(b []byte) (p SIOPacket, err error) {
	if len(b) == 0 || b[0] < sioConnect || b[0] > sioBinaryAck {
		return p, ErrPacket
	}
	p.Type = b[0]
	p.ID = -1
	i := 1
	if p.Type == sioBinaryEvent || p.Type == sioBinaryAck {
		v, n, ok := parseDigits(b[i:])
		if !ok || i+n >= len(b) || b[i+n] != '-' || v > 1<<16 {
			return p, ErrPacket
		}
		p.Attachments = int(v)
		i += n + 1
	}
	p.Nsp = rootNsp
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			p.Nsp = b[i:] // "41/admin" ends without a comma
			return p, nil
		}
		p.Nsp = b[i : i+j]
		i += j + 1
	}
	if v, n, ok := parseDigits(b[i:]); n > 0 {
		if !ok {
			return p, ErrPacket
		}
		p.ID = int64(v)
		i += n
	}
	p.Data = b[i:]
	return p, nil
}

// parseDigits reads the decimal digits at the start of b. It returns the value,
// how many digits there were, and false (with a zero value) when there were
// none or the value overflows an int64.
func parseDigits(b []byte) (v uint64, n int, ok bool) {
	ok = true
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		d := uint64(b[n] - '0')
		if v > (math.MaxInt64-d)/10 {
			ok = false
		} else {
			v = v*10 + d
		}
		n++
	}
	if !ok || n == 0 {
		return 0, n, false
	}
	return v, n, true
}

// ParseEventData splits the JSON array of an EVENT packet, ["name",arg,...],
// into the raw event name (between the quotes, escapes left as they are) and
// the raw arguments that follow it (starting at the comma, without the
// closing bracket).
func ParseEventData(data []byte) (name, args []byte, err error) {
	if len(data) < 4 || data[0] != '[' || data[1] != '"' || data[len(data)-1] != ']' {
		return nil, nil, ErrPacket
	}
	for i := 2; i < len(data)-1; i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return data[2:i], data[i+1 : len(data)-1], nil
		}
	}
	return nil, nil, ErrPacket
}

// FindUint returns the unsigned integer value of the first JSON member named
// key in b (key includes its quotes and colon, e.g. `"seq":`), scanning bytes
// rather than parsing JSON: the tool's own payloads carry only digits and
// padding, so a key cannot appear inside a string.
func FindUint(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	b = b[i+len(key):]
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	v, _, ok := parseDigits(b)
	return v, ok
}

// AppendConnect appends the Engine.IO message carrying a Socket.IO CONNECT for
// nsp with the raw JSON auth object (empty for none): "40", "40{...}",
// "40/chat," or "40/chat,{...}" (socket.io-protocol v5 "Connection to a namespace").
func AppendConnect(dst []byte, nsp string, auth []byte) []byte {
	dst = append(dst, eioMessage, sioConnect)
	if nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	return append(dst, auth...)
}

// AppendEcho appends the Engine.IO message of the echo scenario's EVENT:
// 42[/nsp,]["message",{"seq":N,"ts":T,"pad":"..."}] where ts is the send
// time in Unix nanoseconds and pad is pre-built padding (only 'x' bytes).
func AppendEcho(dst []byte, nsp string, seq uint64, ts int64, pad string) []byte {
	dst = append(dst, eioMessage, sioEvent)
	if nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	dst = append(dst, `["message",`...)
	dst = appendBenchPayload(dst, seq, ts, pad)
	return append(dst, ']')
}

// AppendBroadcastBody appends the JSON body of POST /SendWebsocketEvent for
// the fanout scenario: {"channel":C,"payload":{"seq":N,"ts":T,"pad":"..."}}
// plus "namespace" when nsp is not "/" and "rooms":["room-<room>"] when
// room is not negative. channel and nsp must not need JSON
// escaping (the caller checks this once at start-up).
func AppendBroadcastBody(dst []byte, channel, nsp string, seq uint64, ts int64, pad string, room int) []byte {
	dst = append(dst, `{"channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `",`...)
	if room >= 0 {
		dst = append(dst, `"rooms":["`...)
		dst = AppendRoomName(dst, room)
		dst = append(dst, `"],`...)
	}
	if nsp != "/" {
		dst = append(dst, `"namespace":"`...)
		dst = append(dst, nsp...)
		dst = append(dst, `",`...)
	}
	dst = append(dst, `"payload":`...)
	dst = appendBenchPayload(dst, seq, ts, pad)
	return append(dst, '}')
}

func appendBenchPayload(dst []byte, seq uint64, ts int64, pad string) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"pad":"`...)
	dst = append(dst, pad...)
	return append(dst, `"}`...)
}
