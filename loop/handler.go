package loop

// Handler is what runs on top of Engine.IO: it receives the whole messages
// of each session and answers through the Session. Socket.IO is one Handler;
// a bare echo, used by the conformance app, is another.
//
// Every method runs on the session's reactor goroutine, never concurrently
// for one session, and must not block.
type Handler interface {
	// OnOpen is called once the handshake is complete and the open packet
	// is queued.
	OnOpen(s *Session)
	// OnMessage is called for every Engine.IO message. data aliases the
	// reactor's read buffer and is valid only until OnMessage returns;
	// copy it to keep it.
	OnMessage(s *Session, data []byte, binary bool)
	// OnClose is called once when the session ends, with the Engine.IO
	// reason ("transport close", "ping timeout", "forced close", ...).
	// Sending from it is a no-op.
	OnClose(s *Session, reason string)
}

// EchoHandler sends every message back on the session it came from. It is
// the Engine.IO app that the protocol test suite expects.
type EchoHandler struct{}

// OnOpen implements Handler.
func (EchoHandler) OnOpen(*Session) {}

// OnMessage implements Handler.
func (EchoHandler) OnMessage(s *Session, data []byte, binary bool) { s.Send(data, binary) }

// OnClose implements Handler.
func (EchoHandler) OnClose(*Session, string) {}
