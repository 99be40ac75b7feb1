package engineio

import "strconv"

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

// appendJSONString appends s as a JSON string the way JSON.stringify writes
// it: '"' and '\\' escaped, \b \f \n \r \t short forms, other bytes below
// 0x20 as \u00XX, everything else (UTF-8 included) as is. Invalid UTF-8 is
// copied unchanged; the values we write (sids, transport names, error
// messages) are ASCII.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
