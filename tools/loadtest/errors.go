package main

import "errors"

// ErrNeedMore is returned by the incremental decoders (ParseFrame,
// ParseUpgradeResponse) when b holds only a prefix of a unit: nothing was
// consumed, call again with more bytes. It is not a protocol error.
var ErrNeedMore = errors.New("loadtest: need more bytes")

// Errors found by ParseFrame in the bytes a server sent.
var (
	// ErrFrameReservedBits: RSV1-3 set while the client negotiated no extension (RFC 6455 §5.2).
	ErrFrameReservedBits = errors.New("loadtest: frame with reserved bits set")
	// ErrFrameOpCode: opcode 0x3-0x7 or 0xB-0xF, reserved by RFC 6455 §5.2.
	ErrFrameOpCode = errors.New("loadtest: frame with a reserved opcode")
	// ErrFrameControl: a Close, Ping or Pong frame that is fragmented or longer than 125 bytes (RFC 6455 §5.5).
	ErrFrameControl = errors.New("loadtest: fragmented or oversized control frame")
	// ErrFrameLength: a payload length not in its minimal encoding, or a 64-bit length with the high bit set (RFC 6455 §5.2).
	ErrFrameLength = errors.New("loadtest: frame length badly encoded")
	// ErrFrameTooBig: a payload longer than MaxFramePayload; the tool will not buffer it.
	ErrFrameTooBig = errors.New("loadtest: frame payload larger than the client limit")
	// ErrFrameMasked: a server frame with the MASK bit; RFC 6455 §5.1 "A client MUST close a connection if it detects a masked frame".
	ErrFrameMasked = errors.New("loadtest: masked frame from the server")
)

// Errors found while reading the server's answer to the WebSocket upgrade.
var (
	// ErrHeadTooLarge: no blank line within MaxResponseHead bytes of an HTTP response.
	ErrHeadTooLarge = errors.New("loadtest: HTTP response head too large")
	// ErrBadStatusLine: the first response line is not "HTTP/1.x NNN ...".
	ErrBadStatusLine = errors.New("loadtest: malformed HTTP status line")
	// ErrUpgradeRefused: the status is not 101 Switching Protocols.
	ErrUpgradeRefused = errors.New("loadtest: WebSocket upgrade refused")
	// ErrBadAccept: Sec-WebSocket-Accept is missing or does not match the key (RFC 6455 §4.1).
	ErrBadAccept = errors.New("loadtest: wrong Sec-WebSocket-Accept")
)

// Errors found in Engine.IO and Socket.IO packets.
var (
	// ErrPacket: a packet the tool cannot decode (empty, unknown type, bad JSON framing).
	ErrPacket = errors.New("loadtest: malformed packet")
	// ErrUnexpectedPacket: a well-formed packet that is wrong at this point of the handshake.
	ErrUnexpectedPacket = errors.New("loadtest: unexpected packet")
	// ErrConnectRefused: the server answered CONNECT with CONNECT_ERROR (socket.io-protocol v5 packet type 4).
	ErrConnectRefused = errors.New("loadtest: Socket.IO CONNECT refused")
)

// Configuration errors.
var (
	// ErrRemoteTarget: a URL whose host is not a loopback address, without --allow-remote.
	ErrRemoteTarget = errors.New("loadtest: target is not on loopback (pass --allow-remote to load it anyway)")
	// ErrTooManyFiles: --connections needs more file descriptors than this process may open.
	ErrTooManyFiles = errors.New("loadtest: not enough file descriptors")
)
