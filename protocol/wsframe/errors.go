package wsframe

import "errors"

// Error is a frame-level protocol violation found in the bytes a client sent.
// Code is the close status (RFC 6455 §7.4.1) the server should send in its
// Close frame before it closes the TCP connection.
type Error struct {
	// Code is the close status code to answer with, e.g. 1002 or 1009.
	Code int
	msg  string
}

// Error returns the message, prefixed with "wsframe: ".
func (e *Error) Error() string { return e.msg }

func newError(code int, msg string) *Error { return &Error{Code: code, msg: "wsframe: " + msg} }

// ErrNeedMore is returned by the incremental parsers when b holds only a prefix
// of a header: nothing was consumed, call again
// with more bytes. It is not a protocol error and carries no close code.
var ErrNeedMore = errors.New("wsframe: need more bytes")

// Errors found by ParseHeader and CheckFragment. Each
// is an *Error; CloseCode tells which close status to answer with.
var (
	// ErrReservedBits: RSV1-3 set while no extension was negotiated (RFC 6455 §5.2).
	ErrReservedBits = newError(CloseProtocolError, "reserved bits set without a negotiated extension")
	// ErrBadOpCode: opcode 0x3-0x7 or 0xB-0xF, reserved by RFC 6455 §5.2.
	ErrBadOpCode = newError(CloseProtocolError, "reserved opcode")
	// ErrControlFragmented: a Close, Ping or Pong frame without FIN (RFC 6455 §5.5).
	ErrControlFragmented = newError(CloseProtocolError, "fragmented control frame")
	// ErrControlTooLong: a control frame payload longer than 125 bytes (RFC 6455 §5.5).
	ErrControlTooLong = newError(CloseProtocolError, "control frame payload longer than 125 bytes")
	// ErrUnmasked: a client frame without the MASK bit (RFC 6455 §5.1).
	ErrUnmasked = newError(CloseProtocolError, "unmasked client frame")
	// ErrBadLength: a 64-bit payload length with its most significant bit set (RFC 6455 §5.2).
	ErrBadLength = newError(CloseProtocolError, "64-bit payload length with the most significant bit set")
	// ErrUnexpectedContinuation: a continuation frame while no fragmented message is open (RFC 6455 §5.4).
	ErrUnexpectedContinuation = newError(CloseProtocolError, "continuation frame without a message to continue")
	// ErrExpectedContinuation: a new Text or Binary frame while a fragmented message is still open (RFC 6455 §5.4).
	ErrExpectedContinuation = newError(CloseProtocolError, "new data frame inside a fragmented message")
)

// Errors found by ParseClose.
var (
	// ErrBadClosePayload: a Close payload of exactly one byte (RFC 6455 §5.5.1: the body, if any, starts with a 2-byte code).
	ErrBadClosePayload = newError(CloseProtocolError, "close payload of one byte")
	// ErrBadCloseCode: a close code that may not appear on the wire (RFC 6455 §7.4).
	ErrBadCloseCode = newError(CloseProtocolError, "invalid close code")
	// ErrInvalidUTF8: a close reason (or, for callers of ValidUTF8, a text message) that is not UTF-8 (RFC 6455 §8.1).
	ErrInvalidUTF8 = newError(CloseInvalidPayload, "invalid UTF-8")
)

// CloseCode returns the close status the server should send for err: the code
// carried by an *Error, 0 for nil and ErrNeedMore (nothing to close), and
// CloseInternalError for any other error.
func CloseCode(err error) int {
	if err == nil || err == ErrNeedMore {
		return 0
	}
	if e, ok := err.(*Error); ok { // the usual case, without errors.As's allocation
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CloseInternalError
}
