package engineio

import (
	"strconv"

	"sioloop/protocol/internal/jsontext"
)

// OpenInfo is the handshake data of the open packet: "If the server accepts
// the connection, then it MUST respond with an open packet with the following
// JSON-encoded payload: sid, upgrades, pingInterval, pingTimeout, maxPayload"
// (engine.io-protocol v4, Handshake).
type OpenInfo struct {
	SID          string
	Upgrades     []string // ["websocket"] for a polling handshake, [] (or nil) for websocket
	PingInterval int      // ms, Node default 25000
	PingTimeout  int      // ms, Node default 20000
	MaxPayload   int      // bytes, Node's maxHttpBufferSize, default 1000000
}

// AppendOpen appends the full open packet to dst, byte-exact like Node
// (socket.ts onOpen, JSON.stringify with the keys in this order):
//
//	0{"sid":"...","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//
// Strings are escaped like JSON.stringify ('"', '\\' and control
// characters); a nil Upgrades is written as []. It allocates only when dst
// must grow (about 110 bytes plus the sid for the default values).
func AppendOpen(dst []byte, o OpenInfo) []byte {
	dst = append(dst, byte(Open))
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, o.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range o.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, int64(o.PingInterval), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, int64(o.PingTimeout), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(o.MaxPayload), 10)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string the way JSON.stringify
// writes it.
func appendJSONString(dst []byte, s string) []byte { return jsontext.AppendString(dst, s) }
