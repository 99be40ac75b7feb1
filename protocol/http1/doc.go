// Package http1 parses HTTP/1.1 request heads over []byte for the gnet loop,
// and writes the few response bits the server needs. It does no I/O.
//
// Parse follows the loop's decoder contract: it returns (consumed, err), and
// ErrNeedMore means "incomplete, nothing consumed, call again with more
// bytes". It parses the head only; the caller reads ContentLength body bytes
// after HeaderLen, so pipelined requests just work. Every slice in a Request
// aliases the input: it is valid until the caller discards those bytes (for
// the loop: until Conn.Discard or the end of OnTraffic). Copy what must
// outlive that. Parse never allocates and never panics.
//
// Parse reads a head in one pass, a line at a time, and refuses a request as
// soon as a complete line is wrong, and even before the first line is
// complete if it cannot start with a method (a TLS ClientHello, say). It
// re-reads the head from the start on every call; heads are small and
// memchr-fast to scan, so we keep no state between calls.
//
// Strictness, decided against RFC 9112 and net/http:
//
//   - Lines must end in CRLF. A bare LF is refused (400), as Node's llhttp does
//     by default; net/http accepts it (RFC 9112 §2.2 makes accepting it a MAY).
//   - Empty lines (CRLF) before the request line are skipped, as RFC 9112 §2.2
//     says a server SHOULD; they count in HeaderLen. net/http refuses them.
//   - Obsolete line folding and whitespace before the first header (RFC 9112
//     §5.2, §2.2), whitespace between a field name and its colon (§5.1), and
//     control characters other than HTAB in values are refused (400); net/http
//     accepts the first three.
//   - Only HTTP/1.0 and HTTP/1.1 are served: another well-formed version gets
//     505. Origin-form and "*" targets are served, and absolute-form for http
//     and https with a plain host[:port] (then Host is taken from the target,
//     RFC 9112 §3.2.2); authority-form (CONNECT) and IPv6 literals in the
//     target are refused (400). Bytes 0x80-0xFF are allowed in the target, as
//     in net/http and llhttp.
//   - An HTTP/1.1 request needs exactly one Host; every Host value must use
//     only the bytes net/http's server accepts (httpguts.ValidHostHeader).
//   - Content-Length must be digits that fit an int64; repeated lines must be
//     byte-for-byte equal after trimming (as in net/http). Content-Length with
//     Transfer-Encoding is refused (400) where net/http drops Content-Length,
//     and Transfer-Encoding in HTTP/1.0 is refused (RFC 9112 §6.1) where
//     net/http ignores it.
//   - Transfer-Encoding is accepted only as one line whose value is "chunked"
//     (as in net/http and nginx), which sets Request.Chunked; this package does
//     not decode chunked bodies, the server answers 411. Anything else gets 501
//     when chunked is the final coding, 400 otherwise (RFC 9112 §6.3).
//   - At most MaxHeaders header lines (431 beyond), and maxHeader bytes of
//     head (431 beyond).
package http1
