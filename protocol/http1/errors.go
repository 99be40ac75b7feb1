package http1

import (
	"errors"
	"strconv"
)

// Error is a request the server must refuse: Status is the HTTP status to
// answer with (400, 431, 501, 505) and Reason a short lower-case explanation.
// Parse returns the sentinels below, so compare with == or errors.Is.
type Error struct {
	// Status is the response status code.
	Status int
	// Reason says what was wrong, without the package prefix.
	Reason string
	msg    string // "http1: " + Reason, built once for the sentinels
}

// Error returns the reason prefixed with "http1: ".
func (e *Error) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "http1: " + e.Reason
}

// AppendResponse appends the response Node's http server writes for a request
// it cannot parse: the status line and "Connection: close", no body. The
// caller closes the connection after writing it.
func (e *Error) AppendResponse(dst []byte) []byte {
	dst = AppendStatusLine(dst, e.Status)
	return append(dst, "Connection: close\r\n\r\n"...)
}

func newError(status int, reason string) *Error {
	return &Error{Status: status, Reason: reason, msg: "http1: " + reason}
}

// ErrNeedMore is returned by Parse when b does not hold a complete request head
// yet and is shorter than the limit: nothing was consumed, call again with
// more bytes. It is not an *Error.
var ErrNeedMore = errors.New("http1: need more bytes")

// Errors returned by Parse. Each is an *Error carrying its response status.
var (
	// ErrHeaderTooLarge: no end of head (CRLF CRLF) within maxHeader bytes.
	ErrHeaderTooLarge = newError(431, "request head too large")
	// ErrTooManyHeaders: more than MaxHeaders header lines.
	ErrTooManyHeaders = newError(431, "too many header fields (limit "+strconv.Itoa(MaxHeaders)+")")
	// ErrBareLF: a line ends in LF without CR (RFC 9112 §2.2 lets us refuse it; we do, as llhttp does).
	ErrBareLF = newError(400, "line not terminated by CRLF")
	// ErrBadRequestLine: the request line is not "method SP request-target SP HTTP-version" (RFC 9112 §3).
	ErrBadRequestLine = newError(400, "malformed request line")
	// ErrBadMethod: the method is empty or not a token (RFC 9110 §9.1).
	ErrBadMethod = newError(400, "invalid method")
	// ErrBadTarget: the request-target has control characters or spaces, a bad
	// percent-encoding in its path, or a form we do not serve (RFC 9112 §3.2).
	ErrBadTarget = newError(400, "invalid request target")
	// ErrVersion: a well-formed HTTP version other than HTTP/1.0 or HTTP/1.1.
	ErrVersion = newError(505, "HTTP version not supported")
	// ErrObsFold: a header line starting with whitespace, i.e. obsolete line
	// folding or whitespace before the first header (RFC 9112 §5.2, §2.2).
	ErrObsFold = newError(400, "obsolete line folding")
	// ErrBadHeaderName: an empty field name, a non-token byte in it, or
	// whitespace before the colon (RFC 9112 §5.1).
	ErrBadHeaderName = newError(400, "invalid header field name")
	// ErrBadHeaderValue: a control character (other than HTAB) or DEL in a field value (RFC 9110 §5.5).
	ErrBadHeaderValue = newError(400, "invalid header field value")
	// ErrBadContentLength: Content-Length is empty, not all digits, or does not fit in an int64.
	ErrBadContentLength = newError(400, "invalid Content-Length")
	// ErrDuplicateContentLength: several Content-Length lines with different values (RFC 9110 §8.6).
	ErrDuplicateContentLength = newError(400, "conflicting Content-Length")
	// ErrLengthAndChunked: both Content-Length and Transfer-Encoding (RFC 9112 §6.1 allows refusing it; we do).
	ErrLengthAndChunked = newError(400, "both Content-Length and Transfer-Encoding")
	// ErrBadTransferEncoding: chunked is not the final coding (RFC 9112 §6.3),
	// or Transfer-Encoding arrived in an HTTP/1.0 request (RFC 9112 §6.1).
	ErrBadTransferEncoding = newError(400, "invalid Transfer-Encoding")
	// ErrUnsupportedTransferEncoding: a transfer coding other than chunked (RFC 9112 §6.1).
	ErrUnsupportedTransferEncoding = newError(501, "unsupported Transfer-Encoding")
	// ErrMissingHost: an HTTP/1.1 request without Host (RFC 9112 §3.2).
	ErrMissingHost = newError(400, "missing Host header")
	// ErrDuplicateHost: more than one Host line (RFC 9112 §3.2).
	ErrDuplicateHost = newError(400, "more than one Host header")
	// ErrBadHost: a Host value with a byte that cannot appear in uri-host [":" port] (RFC 9112 §3.2).
	ErrBadHost = newError(400, "invalid Host header")
)
