package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
)

// acceptGUID is the GUID of RFC 6455 §1.3 appended to Sec-WebSocket-Key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKeySize is the length of a Sec-WebSocket-Accept value: base64 of a
// 20-byte SHA-1 sum.
const AcceptKeySize = 28

// AppendAcceptKey appends the Sec-WebSocket-Accept value for key, the value
// of the client's Sec-WebSocket-Key header (RFC 6455 §4.2.2): base64 of the
// SHA-1 of key followed by the GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11".
// It does not allocate for keys of up to 92 bytes (a valid key has 24).
func AppendAcceptKey(dst []byte, key []byte) []byte {
	// sha1.Sum on a stack buffer avoids sha1.New, whose digest escapes to
	// the heap behind the hash.Hash interface.
	var buf [128]byte
	var sum [sha1.Size]byte
	if len(key) <= len(buf)-len(acceptGUID) {
		n := copy(buf[:], key)
		n += copy(buf[n:], acceptGUID)
		sum = sha1.Sum(buf[:n])
	} else {
		h := sha1.New()
		h.Write(key)
		h.Write([]byte(acceptGUID))
		h.Sum(sum[:0])
	}
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// ValidKey reports whether key is a valid Sec-WebSocket-Key: RFC 6455 §4.1
// "a randomly selected 16-byte value that has been base64-encoded", that is 22
// base64 characters followed by "==". Node's ws uses the same test
// (/^[+/0-9A-Za-z]{22}==$/) and answers 400 otherwise.
func ValidKey(key []byte) bool {
	if len(key) != 24 || key[22] != '=' || key[23] != '=' {
		return false
	}
	for _, c := range key[:22] {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// AppendUpgradeHead appends the start of the 101 response that accepts a
// WebSocket handshake with Sec-WebSocket-Key key, in the order Node's ws
// writes it:
//
//	HTTP/1.1 101 Switching Protocols\r\n
//	Upgrade: websocket\r\n
//	Connection: Upgrade\r\n
//	Sec-WebSocket-Accept: <AppendAcceptKey(key)>\r\n
//
// The caller appends any further header lines and then the final "\r\n".
func AppendUpgradeHead(dst []byte, key []byte) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = AppendAcceptKey(dst, key)
	return append(dst, "\r\n"...)
}
