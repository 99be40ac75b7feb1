// Package app is the behaviour of the sioloop microservice on top of the
// Socket.IO server: message echo, channel subscriptions and optional JWT
// authentication on CONNECT.
package app

import (
	"encoding/json"

	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// Install declares the app's handlers on each namespace. auth, when not
// nil, checks every CONNECT.
func Install(nss []*loop.Namespace, auth *JWTAuth) {
	for _, ns := range nss {
		if auth != nil {
			ns.Use = auth.Middleware
		}
		ns.On("message", onMessage)
		ns.On("subscribe", onSubscribe)
		ns.On("unsubscribe", onUnsubscribe)
	}
}

// onMessage echoes a message to its sender with the same arguments, and
// answers its ack with them too when the client asked for one.
func onMessage(s *loop.Socket, ev *loop.Event) {
	s.Emit("message", ev.Args, ev.Attachments)
	if ev.HasAck {
		s.Ack(ev, ev.Args, ev.Attachments)
	}
}

// onSubscribe joins the channels named by the first argument (a string or
// an array of strings) and acks with the socket's rooms.
func onSubscribe(s *loop.Socket, ev *loop.Event) {
	for _, ch := range channelArgs(ev.Args) {
		if mayJoin(s, ch) {
			s.Join(ch)
		}
	}
	ackRooms(s, ev)
}

// onUnsubscribe leaves the channels named by the first argument.
func onUnsubscribe(s *loop.Socket, ev *loop.Event) {
	for _, ch := range channelArgs(ev.Args) {
		if ch != s.ID() {
			s.Leave(ch)
		}
	}
	ackRooms(s, ev)
}

// mayJoin refuses other sockets' id rooms and, with JWT auth, channels the
// token's "channels" claim does not allow.
func mayJoin(s *loop.Socket, ch string) bool {
	if ch == "" || ch == s.ID() || loop.IsSocketID(ch) {
		return false
	}
	allowed, _ := s.Data.(*Claims)
	return allowed == nil || allowed.AllowsChannel(ch)
}

func ackRooms(s *loop.Socket, ev *loop.Event) {
	if !ev.HasAck {
		return
	}
	s.Ack(ev, jsonStrings(s.Rooms()), nil)
}

// jsonStrings encodes names as a JSON array, escaped as JSON.stringify does.
func jsonStrings(names []string) []byte {
	b := []byte{'['}
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = socketio.AppendJSONString(b, []byte(n))
	}
	return append(b, ']')
}

// channelArgs reads the first argument as a channel name or a list of them.
func channelArgs(args []byte) []string {
	var list []json.RawMessage
	if err := json.Unmarshal(append(append([]byte{'['}, args...), ']'), &list); err != nil || len(list) == 0 {
		return nil
	}
	var one string
	if err := json.Unmarshal(list[0], &one); err == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(list[0], &many); err == nil {
		return many
	}
	return nil
}
