package loop

import "unsafe"

// client is the Socket.IO state of one Engine.IO session.
type client struct {
	// sockets has one Socket per connected namespace, usually one; nil
	// until the first CONNECT is admitted, empty (not nil) after the
	// client left every namespace: the connect timeout is for the first.
	sockets []*Socket
	// first backs sockets for the usual client of one namespace, so that
	// it costs no allocation of its own.
	first [1]*Socket
	// more holds what a client needs only now and then.
	more *clientMore
}

// clientMore is the part of a client that is rarely in use.
type clientMore struct {
	// pending lists the CONNECTs whose UseAsync has not answered yet
	// (through joining.next).
	pending *joining
	// bin is a BINARY_EVENT/BINARY_ACK waiting for its attachments.
	bin *binPacket
}

// sioOffset is where a Session holds its client.
const sioOffset = unsafe.Offsetof(Session{}.sio)

// sess returns the session that holds c (Session.sio): a client never
// lives anywhere else, so it keeps no pointer back.
func (c *client) sess() *Session {
	return (*Session)(unsafe.Add(unsafe.Pointer(c), -int(sioOffset)))
}

// extra returns c.more, made if needed.
func (c *client) extra() *clientMore {
	if c.more == nil {
		c.more = new(clientMore)
	}
	return c.more
}

// pending returns the first pending CONNECT of c, or nil.
func (c *client) pending() *joining {
	if c.more == nil {
		return nil
	}
	return c.more.pending
}

// bin returns the binary packet waiting for its attachments, or nil.
func (c *client) bin() *binPacket {
	if c.more == nil {
		return nil
	}
	return c.more.bin
}

// io returns the SocketIO that serves c.
func (c *client) io() *SocketIO { return c.sess().handler().(*SocketIO) }
