package engineio

import (
	"errors"
	"strconv"
)

// Decode errors. A server that gets one of these from a client packet closes
// the session as Node does ("parse error").
var (
	// ErrEmptyPacket is returned by ParsePacketInPlace for an empty WebSocket text
	// frame, and by NextPayloadPacket when a polling body starts with the
	// separator (an empty packet before 0x1e, e.g. "\x1e2" or "4a\x1e\x1e2").
	ErrEmptyPacket = errors.New("engineio: empty packet")

	// ErrEmptyPayload is returned by NextPayloadPacket when it is given no
	// bytes at all: an empty POST body, or the empty packet that follows a
	// trailing separator ("4a\x1e"). Node's decodePayload rejects both.
	ErrEmptyPayload = errors.New("engineio: empty payload")

	// ErrUnknownPacketType is returned when the first byte of a packet is not
	// one of the type digits '0'..'6' (nor 'b' where a base64 binary packet
	// is allowed).
	ErrUnknownPacketType = errors.New("engineio: unknown packet type")

	// ErrBadBase64 is returned when the text after the 'b' of a binary
	// packet is not standard base64 (RFC 4648 §4 alphabet, padding optional
	// but correct when present, no whitespace).
	ErrBadBase64 = errors.New("engineio: invalid base64 in binary packet")
)

// ErrorCode is the Engine.IO error code sent in the JSON body of a rejected
// HTTP request (engine.io server.ts Server.errors).
type ErrorCode int

// The Engine.IO error codes, with Node's messages (server.ts errorMessages).
const (
	UnknownTransport           ErrorCode = 0 // "Transport unknown"
	UnknownSID                 ErrorCode = 1 // "Session ID unknown"
	BadHandshakeMethod         ErrorCode = 2 // "Bad handshake method"
	BadRequest                 ErrorCode = 3 // "Bad request"
	Forbidden                  ErrorCode = 4 // "Forbidden"
	UnsupportedProtocolVersion ErrorCode = 5 // "Unsupported protocol version"
)

var errorMessages = [...]string{
	UnknownTransport:           "Transport unknown",
	UnknownSID:                 "Session ID unknown",
	BadHandshakeMethod:         "Bad handshake method",
	BadRequest:                 "Bad request",
	Forbidden:                  "Forbidden",
	UnsupportedProtocolVersion: "Unsupported protocol version",
}

// Message returns Node's message for the code, or "Unknown error" for a code
// outside 0..5.
func (c ErrorCode) Message() string {
	if c < 0 || int(c) >= len(errorMessages) {
		return "Unknown error"
	}
	return errorMessages[c]
}

// Status returns the HTTP status Node answers with: "const statusCode =
// errorCode === Server.errors.FORBIDDEN ? 403 : 400" (server.ts abortRequest).
func (c ErrorCode) Status() int {
	if c == Forbidden {
		return 403
	}
	return 400
}

// RequestError is an Engine.IO error that becomes a wire response. Node's
// abortRequest answers a polling request with Status, "Content-Type:
// application/json" and Body; its abortUpgrade answers a WebSocket upgrade
// with "400 Bad Request", "Content-type: text/html" and the bare Message.
//
// The prebuilt values below are shared and must not be modified.
type RequestError struct {
	Code    ErrorCode
	Status  int    // HTTP status: 403 for Forbidden, 400 otherwise
	Message string // the message inside Body, e.g. "Session ID unknown"
	Body    []byte // {"code":N,"message":"..."}, byte-exact like JSON.stringify in Node
}

// Error returns "engineio: <message> (code N)".
func (e *RequestError) Error() string {
	return "engineio: " + e.Message + " (code " + strconv.Itoa(int(e.Code)) + ")"
}

// NewRequestError builds the response for code with a custom message, as
// Node does when errorContext.message is set (e.g. the message an
// allowRequest hook rejected a handshake with). An empty message means the
// code's standard message. It allocates; use the prebuilt values for the
// standard messages.
func NewRequestError(code ErrorCode, message string) *RequestError {
	if message == "" {
		message = code.Message()
	}
	body := make([]byte, 0, len(`{"code":,"message":""}`)+4+len(message)+8)
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(code), 10)
	body = append(body, `,"message":`...)
	body = appendJSONString(body, message)
	body = append(body, '}')
	return &RequestError{Code: code, Status: code.Status(), Message: message, Body: body}
}

// The prebuilt request errors, one per code, built once at init with Node's
// standard messages.
var (
	ErrUnknownTransport           = NewRequestError(UnknownTransport, "")
	ErrUnknownSID                 = NewRequestError(UnknownSID, "")
	ErrBadHandshakeMethod         = NewRequestError(BadHandshakeMethod, "")
	ErrBadRequest                 = NewRequestError(BadRequest, "")
	ErrForbidden                  = NewRequestError(Forbidden, "")
	ErrUnsupportedProtocolVersion = NewRequestError(UnsupportedProtocolVersion, "")
)
