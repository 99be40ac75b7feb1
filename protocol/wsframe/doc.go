// Package wsframe reads and writes WebSocket (RFC 6455) frames over []byte,
// with no I/O: the gnet loop hands it the bytes of Conn.Peek(-1) and writes the
// bytes it appends.
//
// Reading. ParseHeader follows the loop's decoder contract: it returns
// (header, consumed, err), and ErrNeedMore means "incomplete, nothing consumed,
// call again with more bytes". It enforces the RFC 6455 §5.2 rules for a server
// reading client frames and fails as soon as the first bytes break one, without
// waiting for the rest of the header. CheckFragment adds the one rule that
// needs connection state, continuation sequencing (RFC 6455 §5.4). The
// payload is the Length bytes after the header, a sub-slice of the input: it
// lives as long as the input, that is until the caller discards those bytes.
// Unmask XORs a payload in place, so call it once per frame, only after the
// whole frame is in the buffer: a retry on the same bytes would unmask twice.
//
// Non-minimal length encodings (for example a 5-byte payload announced with the
// 16-bit form) are accepted. RFC 6455 §5.2 says the sender MUST use the minimal
// form, but gives the receiver no duty to check it; Node's ws, gobwas/ws and
// gorilla/websocket all accept such frames, and so do we.
//
// Writing. Server frames are never masked (RFC 6455 §5.1). AppendHeader,
// AppendFrame and AppendClose append to dst (nil is fine); PutHeaderBefore
// writes a header right-aligned in front of a payload that was encoded first,
// so a broadcast frame is built without copying its payload.
//
// Handshake. ValidKey checks a client's Sec-WebSocket-Key, AppendAcceptKey
// computes Sec-WebSocket-Accept and AppendUpgradeHead the start of the 101
// response.
//
// No function allocates, and none panics on input.
package wsframe
