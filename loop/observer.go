package loop

import "bytes"

// Observer receives what happens to the sessions and sockets of a
// SocketIO, for a monitor such as the Socket.IO Admin UI (package
// api/adminui). Install it with SocketIO.Observe while someone watches and
// remove it (Observe(nil)) when nobody does: without one, every place
// below costs one atomic pointer load and no allocation (see
// TestObserverOffAllocs).
//
// A nil field is skipped. Each runs on the reactor of the session or
// socket concerned, so it must be quick and must not block; the slices it
// is handed alias the reactor's buffers and live only during the call.
// Sent runs once per recipient of every broadcast: an observer that does
// more than count must bound its own work.
type Observer struct {
	// Opened is called when an Engine.IO session's handshake completes.
	Opened func(s *Session)
	// Closed is called when an Engine.IO session ends, with its reason.
	Closed func(s *Session, reason string)
	// Upgraded is called for every socket of a session that has just
	// upgraded from polling to WebSocket.
	Upgraded func(so *Socket)
	// Connected is called when a socket has joined its namespace, after
	// its CONNECT reply and before the namespace's OnConnect.
	Connected func(so *Socket)
	// Disconnected is called when a socket leaves its namespace, after
	// Left for each of its rooms (its own id room included, as Node's
	// adapter.delAll reports them), before the namespace's OnDisconnect.
	Disconnected func(so *Socket, reason string)
	// Joined and Left are called when a socket joins or leaves a room
	// (Socket.Join, Socket.Leave), the rooms it is put in while it
	// connects included (its user room, the rooms of a recovered
	// session), which come before Connected.
	Joined func(so *Socket, room string)
	Left   func(so *Socket, room string)
	// Received is called for every EVENT a socket receives and admits,
	// with its data: the JSON array ["name",args...] (binary arguments as
	// placeholders).
	Received func(so *Socket, data []byte)
	// Sent is called for every event written to a socket, by Emit or by a
	// broadcast, with the Socket.IO packet as encoded ("2/nsp,["name",…]",
	// see socketio.Parse). Acks are not reported.
	Sent func(so *Socket, packet []byte)
}

// Observe installs o, or removes the observer when o is nil. Any
// goroutine; events that are being handled meanwhile may reach the old
// observer or none.
func (io *SocketIO) Observe(o *Observer) { io.obs.Store(o) }

// observer returns the installed Observer, or nil. Any goroutine.
func (io *SocketIO) observer() *Observer { return io.obs.Load() }

// observeSent reports the broadcast eb written to so. Reactor only.
func observeSent(so *Socket, eb *encodedBroadcast) {
	o := so.ns.io.observer()
	if o == nil || o.Sent == nil {
		return
	}
	pkt := eb.poll[1:] // after the Engine.IO message type
	if i := bytes.IndexByte(pkt, 0x1e); i >= 0 {
		pkt = pkt[:i] // attachments follow
	}
	o.Sent(so, pkt)
}

// watched reports whether any broadcast of ebs has an observer: the
// per-recipient path only looks further when one does.
func watched(ebs []*encodedBroadcast) bool {
	for _, eb := range ebs {
		if o := eb.ns.io.observer(); o != nil && o.Sent != nil {
			return true
		}
	}
	return false
}

// onUpgrade implements the Handler extension a Session calls after its
// upgrade to WebSocket: it reports every socket of the session.
func (io *SocketIO) onUpgrade(s *Session) {
	o := io.observer()
	if o == nil || o.Upgraded == nil {
		return
	}
	for _, so := range s.client().sockets {
		o.Upgraded(so)
	}
}

// upgradeWatcher is implemented by a Handler that wants to hear of
// upgrades (SocketIO, for its Observer).
type upgradeWatcher interface{ onUpgrade(s *Session) }
