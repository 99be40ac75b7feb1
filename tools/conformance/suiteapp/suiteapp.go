// Package suiteapp is the server the official Engine.IO v4 and Socket.IO v5
// protocol test suites (socketio/socket.io, docs/engine.io-protocol/v4-test-suite
// and docs/socket.io-protocol/v5-test-suite) expect, on one port:
//
//   - EnginePath: a bare Engine.IO echo: every message is sent back on the
//     same session, nothing else is sent;
//   - SocketIOPath: namespaces "/" and "/custom"; on connect the server first
//     emits "auth" with the CONNECT payload ({} when there was none); on "/",
//     "message" is answered with "message-back" and the same arguments and
//     "message-with-ack" is acknowledged with its arguments;
//
// with pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000 and a
// connectTimeout of 1000 ms. The conformance command serves it; loop's
// tests that mirror the suites run against it too.
package suiteapp

import (
	"bytes"
	"time"

	"sioloop/loop"
)

// The mount paths and settings the suites expect.
const (
	EnginePath     = "/engine.io/"
	SocketIOPath   = "/socket.io/"
	PingInterval   = 300 * time.Millisecond
	PingTimeout    = 200 * time.Millisecond
	MaxPayload     = 1000000
	ConnectTimeout = time.Second
)

// Config returns the server configuration the suites expect, listening on
// addr with n reactors (0: the default, GOMAXPROCS).
func Config(addr string, n int) loop.Config {
	return loop.Config{
		Addr:         addr,
		EventLoops:   n,
		PingInterval: PingInterval,
		PingTimeout:  PingTimeout,
		MaxPayload:   MaxPayload,
	}
}

// Mount installs both apps on srv. Call it before srv.Serve.
func Mount(srv *loop.Server) {
	srv.Handle(EnginePath, loop.EchoHandler{})
	srv.Handle(SocketIOPath, socketIO(srv))
}

// socketIO is the app the Socket.IO v5 protocol test suite expects.
func socketIO(srv *loop.Server) *loop.SocketIO {
	io := loop.NewSocketIO(srv)
	io.ConnectTimeout = ConnectTimeout
	for _, name := range []string{"/", "/custom"} {
		ns := io.Of(name)
		ns.Use = func(s *loop.Socket, auth []byte) error {
			if len(auth) == 0 {
				auth = []byte("{}")
			}
			s.Data = bytes.Clone(auth)
			return nil
		}
		// The suite's WebSocket helper misses a message that arrives in
		// the same read as the one before it (it re-arms its listener
		// after a microtask), so "auth" goes out shortly after the
		// CONNECT reply rather than in the same TCP segment, as Node's
		// one-write-per-tick engine.io happens to do.
		ns.OnConnect = func(s *loop.Socket) {
			s.After(5*time.Millisecond, func(s *loop.Socket) { s.Emit("auth", s.Data.([]byte), nil) })
		}
	}
	root := io.Of("/")
	root.On("message", func(s *loop.Socket, ev *loop.Event) {
		s.Emit("message-back", ev.Args, ev.Attachments)
	})
	root.On("message-with-ack", func(s *loop.Socket, ev *loop.Event) {
		s.Ack(ev, ev.Args, ev.Attachments)
	})
	return io
}
