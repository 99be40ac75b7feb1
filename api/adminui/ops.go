package adminui

import (
	"encoding/json"

	"sioloop/loop"
)

// The page's operations (Node's registerFeatureHandlers, Socket.IO v4
// branch), with its exact arguments:
//
//	emit(nsp, filter, ev, ...args)  io.of(nsp).in(filter).emit(ev, ...args)
//	join(nsp, room, filter?)        io.of(nsp).in(filter).socketsJoin(room)
//	leave(nsp, room, filter?)       io.of(nsp).in(filter).socketsLeave(room)
//	_disconnect(nsp, close, filter?) io.of(nsp).in(filter).disconnectSockets(close)
//
// filter is a room or a socket id; absent, null or "" means the whole
// namespace. They reach every server of the cluster, and run on a
// goroutine of their own: a handler must not wait, and the cluster's
// operations may.

// args splits an event's arguments (JSON list content) into values.
func args(ev *loop.Event) []json.RawMessage {
	var out []json.RawMessage
	b := make([]byte, 0, len(ev.Args)+2)
	b = append(append(append(b, '['), ev.Args...), ']')
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// str returns argument i as a string, "" when absent or not a string.
func str(a []json.RawMessage, i int) string {
	var s string
	if i < len(a) {
		_ = json.Unmarshal(a[i], &s)
	}
	return s
}

// target is the target of an operation on namespace nsp with filter.
func target(nsp, filter string) loop.Target {
	t := loop.Target{Namespace: nsp}
	if filter != "" {
		t.Rooms = []string{filter}
	}
	return t
}

func (u *UI) onEmit(_ *loop.Socket, ev *loop.Event) {
	a := args(ev)
	nsp, filter, name := str(a, 0), str(a, 1), str(a, 2)
	if nsp == "" || name == "" {
		return
	}
	var rest []byte
	for i := 3; i < len(a); i++ {
		if i > 3 {
			rest = append(rest, ',')
		}
		rest = append(rest, a[i]...)
	}
	b := &loop.Broadcast{Namespace: nsp, Event: name, Args: rest}
	if filter != "" {
		b.Rooms = []string{filter}
	}
	go func() { _, _ = u.io.Broadcast(b) }()
}

func (u *UI) onJoin(_ *loop.Socket, ev *loop.Event)  { u.roomOp(ev, true) }
func (u *UI) onLeave(_ *loop.Socket, ev *loop.Event) { u.roomOp(ev, false) }

// roomOp applies the page's join or leave, (nsp, room, filter), to the
// whole cluster, off the reactor.
func (u *UI) roomOp(ev *loop.Event, join bool) {
	a := args(ev)
	nsp, room, filter := str(a, 0), str(a, 1), str(a, 2)
	if nsp == "" || room == "" {
		return
	}
	t := target(nsp, filter)
	type roomOps interface {
		Join(loop.Target, []string) (int, error)
		Leave(loop.Target, []string) (int, error)
	}
	var o roomOps = u.io
	if u.cl != nil {
		o = u.cl
	}
	go func() {
		if join {
			_, _ = o.Join(t, []string{room})
		} else {
			_, _ = o.Leave(t, []string{room})
		}
	}()
}

func (u *UI) onDisconnectOp(_ *loop.Socket, ev *loop.Event) {
	a := args(ev)
	nsp := str(a, 0)
	var close bool
	if len(a) > 1 {
		_ = json.Unmarshal(a[1], &close)
	}
	if nsp == "" {
		return
	}
	t := target(nsp, str(a, 2))
	go func() {
		if u.cl != nil {
			_, _ = u.cl.Disconnect(t, close)
		} else {
			_, _ = u.io.Disconnect(t, close)
		}
	}()
}
