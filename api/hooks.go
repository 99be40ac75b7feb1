package api

// Backend hooks (package hooks does the HTTP side): what a socket does
// with the backend's answers, on its reactor.
//
//	connect     UseAsync after the JWT check: accept (user, channels, data), refuse, or "backend unavailable"
//	subscribe   after the limits and the JWT channels claim: join what the backend allows, then ack
//	event       every event without a handler of its own (OnAny): one call in flight per socket,
//	            the next ones queued (at most MaxSocketQueue), the answer acked
//	disconnect  OnDisconnect: a record for the next batch, with the user's sockets left on this server

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sioloop/api/hooks"
	"sioloop/loop"
)

// MaxSocketQueue and MaxSocketQueueBytes bound the events of one socket
// that wait for the event hook behind the one in flight (request bodies,
// an event alone always fits); one more is refused, acked with
// {"error":"event refused: …"} when the client asked for an ack.
const (
	MaxSocketQueue      = 64
	MaxSocketQueueBytes = 1 << 20
)

// Messages a client sees when a hook fails; the details go to the log.
const (
	msgUnavailable = "backend unavailable"
	msgBusy        = "backend busy"
)

// hooked installs the hooks of one hooks.Client on the namespaces.
type hooked struct {
	c   *hooks.Client
	lim Limits
	jwt bool // JWT auth is on: the token's sub is the user
}

// hookSocket is what a socket holds in loop.Socket.Data while hooks are
// on: the token's claims (with JWT auth), the connect hook's answer, and
// the socket's event queue. Reactor of the socket only, but for the
// fields the connect hook sets before the socket joins.
type hookSocket struct {
	claims   *Claims
	data     json.RawMessage // the connect hook's data, nil for none
	channels []string        // the connect hook's channels, joined by OnConnect

	busy        bool // an event call is in flight
	queue       []queuedEvent
	queuedBytes int // the bodies in queue
}

// queuedEvent is an event waiting for the event hook: its request body and
// a copy of the event that still acks.
type queuedEvent struct {
	body []byte
	ack  loop.Event
}

// claimsOf returns the JWT claims a socket holds, nil without JWT auth.
func claimsOf(s *loop.Socket) *Claims {
	switch d := s.Data.(type) {
	case *Claims:
		return d
	case *hookSocket:
		return d.claims
	}
	return nil
}

// setClaims puts c in force on s, keeping the hooks' state.
func setClaims(s *loop.Socket, c *Claims) {
	if hs, ok := s.Data.(*hookSocket); ok {
		hs.claims = c
		return
	}
	s.Data = c
}

func dataOf(s *loop.Socket) json.RawMessage {
	if hs, ok := s.Data.(*hookSocket); ok {
		return hs.data
	}
	return nil
}

// install wraps the namespace's hooks with those of the backend. It runs
// after Install set the service's own.
func (hk *hooked) install(ns *loop.Namespace, ch *channels) {
	if hk.c.On(hooks.Connect) {
		ns.UseAsync = hk.useAsync(ns.UseAsync)
	}
	prevConnect := ns.OnConnect
	ns.OnConnect = func(s *loop.Socket) {
		hk.onConnect(s)
		if prevConnect != nil {
			prevConnect(s)
		}
	}
	if hk.c.On(hooks.Disconnect) {
		prevDisconnect := ns.OnDisconnect
		ns.OnDisconnect = func(s *loop.Socket, reason string) {
			if prevDisconnect != nil {
				prevDisconnect(s, reason)
			}
			hk.onDisconnect(s, reason)
		}
	}
	if hk.c.On(hooks.Event) {
		ns.OnAny = hk.onEvent
	}
	if hk.c.On(hooks.Subscribe) {
		ch.hk = hk
	}
}

// useAsync returns the UseAsync that asks the connect hook, after prev
// (the JWKS check) when there is one.
func (hk *hooked) useAsync(prev func(*loop.Socket, []byte, func(error))) func(*loop.Socket, []byte, func(error)) {
	return func(s *loop.Socket, auth []byte, done func(error)) {
		// On the reactor: read the session now, copy what dies with the call.
		ss := s.Session()
		req := &hooks.ConnectRequest{
			ID:        s.ID(),
			Namespace: s.Namespace().Name(),
			Address:   ss.RemoteAddr(),
			Query:     map[string]string{},
			Headers:   map[string]string{},
		}
		if len(auth) > 0 {
			req.Auth = append(json.RawMessage(nil), auth...)
		}
		if q, err := url.ParseQuery(ss.Query()); err == nil {
			for k, v := range q {
				req.Query[k] = v[0]
			}
		}
		for _, name := range hk.c.Config().ForwardHeaders {
			if v, ok := ss.Header(name); ok {
				req.Headers[strings.ToLower(name)] = v
			}
		}
		ask := func(err error) {
			if err != nil {
				done(err)
				return
			}
			// The JWT check (Use, or prev's goroutine before it called
			// this) set the claims.
			claims := claimsOf(s)
			if claims != nil {
				req.Sub = claims.Subject
			}
			hk.c.Connect(req, func(a hooks.ConnectAnswer, err error) {
				done(hk.connectAnswer(s, claims, a, err))
			})
		}
		if prev != nil {
			prev(s, auth, ask)
			return
		}
		ask(nil)
	}
}

// connectAnswer gives s what the connect hook answered and returns the
// error done gets. It runs before done, on the goroutine that calls it:
// the socket has not joined yet.
func (hk *hooked) connectAnswer(s *loop.Socket, claims *Claims, a hooks.ConnectAnswer, err error) error {
	hs := &hookSocket{claims: claims}
	switch {
	case err != nil:
		if !hk.c.Config().FailOpen {
			if errors.Is(err, hooks.ErrBusy) {
				return &loop.ConnectError{Message: msgBusy}
			}
			return &loop.ConnectError{Message: msgUnavailable}
		}
	case !a.Accept:
		return &loop.ConnectError{Message: a.Message, Data: a.ErrData}
	default:
		if a.User != "" && !hk.jwt {
			if len(a.User) > hk.lim.NameBytes {
				hk.c.Fail(&hooks.Error{Hook: hooks.Connect, Kind: hooks.KindBadAnswer, Status: 200,
					Msg: "bad answer: a user of " + strconv.Itoa(len(a.User)) + " bytes is longer than MAX_NAME_BYTES (" + strconv.Itoa(hk.lim.NameBytes) + ")"})
				return &loop.ConnectError{Message: msgUnavailable}
			}
			s.UserID = a.User
		}
		hs.data, hs.channels = a.Data, a.Channels
	}
	s.Data = hs
	return nil
}

// onConnect joins the connect hook's channels and counts the user's
// socket. The socket's event queue starts empty, also when the socket
// was recovered with the Data of its earlier life.
func (hk *hooked) onConnect(s *loop.Socket) {
	hs := &hookSocket{claims: claimsOf(s)}
	if old, ok := s.Data.(*hookSocket); ok {
		hs.data, hs.channels = old.data, old.channels
	}
	s.Data = hs
	for _, ch := range hs.channels {
		if channelCount(s) >= hk.lim.RoomsPerSocket {
			break
		}
		if len(ch) <= hk.lim.NameBytes && ch != "" && !loop.IsSocketID(ch) && !loop.IsUserRoom(ch) {
			s.Join(ch)
		}
	}
	hs.channels = nil
}

// onDisconnect queues the disconnect for the next batch.
func (hk *hooked) onDisconnect(s *loop.Socket, reason string) {
	rec := hooks.DisconnectRecord{
		ID:        s.ID(),
		User:      s.UserID,
		Namespace: s.Namespace().Name(),
		Reason:    reason,
		At:        time.Now().UnixMilli(),
		Data:      dataOf(s),
	}
	if s.UserID != "" {
		// loop counts the user's sockets; this one no longer counts.
		n := s.Namespace().IO().UserConnections(s.UserID)
		rec.UserSocketsLeft, rec.Last = n, n == 0
	}
	hk.c.Disconnect(rec)
}

// hookState returns the hooks' state of s, making it if the socket has
// none yet (it always has one after OnConnect).
func hookState(s *loop.Socket) *hookSocket {
	if hs, ok := s.Data.(*hookSocket); ok {
		return hs
	}
	hs := &hookSocket{claims: claimsOf(s)}
	s.Data = hs
	return hs
}

// onEvent forwards an event to the event hook. Events of one socket reach
// the backend in the order sent: one call is in flight per socket, the
// next ones wait in its queue (MaxSocketQueue), and the answer to each
// comes back through Socket.Do before the next one is posted.
func (hk *hooked) onEvent(s *loop.Socket, ev *loop.Event) {
	hs := hookState(s)
	ack := *ev // acks later, without the slices that die with the call
	ack.Name, ack.Args, ack.Attachments = nil, nil, nil
	if hs.busy && (len(hs.queue) >= MaxSocketQueue || len(hs.queue) > 0 && hs.queuedBytes+len(ev.Args) > MaxSocketQueueBytes) {
		hk.c.Fail(&hooks.Error{Hook: hooks.Event, Kind: hooks.KindQueueFull,
			Msg: "socket " + s.ID() + ": event " + strconv.Quote(string(ev.Name)) + " refused, " + strconv.Itoa(len(hs.queue)) + " events wait already"})
		ackError(s, &ack, "event refused: too many events of this socket wait for the backend (at most "+strconv.Itoa(MaxSocketQueue)+", 1 MiB)")
		return
	}
	body := hooks.AppendEvent(nil, s.ID(), s.UserID, s.Namespace().Name(), string(ev.Name), ev.Args, ev.Attachments, hs.data, ev.HasAck)
	if hs.busy {
		hs.queue = append(hs.queue, queuedEvent{body: body, ack: ack})
		hs.queuedBytes += len(body)
		return
	}
	hk.sendEvent(s, hs, body, ack)
}

// sendEvent posts one event and, when it is answered, acks it and posts
// the next one of the socket's queue. Reactor of s.
func (hk *hooked) sendEvent(s *loop.Socket, hs *hookSocket, body []byte, ack loop.Event) {
	hs.busy = true
	hk.c.Event(body, func(a hooks.EventAnswer, err error) {
		s.Do(func(s *loop.Socket) {
			switch {
			case errors.Is(err, hooks.ErrBusy):
				ackError(s, &ack, msgBusy)
			case err != nil:
				ackError(s, &ack, msgUnavailable)
			case a.Refusal != "":
				ackError(s, &ack, a.Refusal)
			default:
				s.Ack(&ack, a.Args, nil)
			}
			hs.busy = false
			if len(hs.queue) > 0 {
				next := hs.queue[0]
				hs.queue[0] = queuedEvent{}
				hs.queue = hs.queue[1:]
				hs.queuedBytes -= len(next.body)
				if len(hs.queue) == 0 {
					hs.queue = nil // let the backing array go
				}
				hk.sendEvent(s, hs, next.body, next.ack)
			}
		})
	})
}

// subscribe asks the subscribe hook which of names s may join, then joins
// them and acks with the socket's rooms. names passed the limits and
// mayJoin already. Reactor of s.
func (c *channels) subscribe(s *loop.Socket, ev *loop.Event, names []string) {
	ack := *ev
	ack.Name, ack.Args, ack.Attachments = nil, nil, nil
	req := &hooks.SubscribeRequest{ID: s.ID(), User: s.UserID, Namespace: s.Namespace().Name(), Data: dataOf(s), Channels: names}
	c.hk.c.Subscribe(req, func(a hooks.SubscribeAnswer, err error) {
		s.Do(func(s *loop.Socket) {
			switch {
			case errors.Is(err, hooks.ErrBusy):
				ackRefusal(s, &ack, msgBusy)
				return
			case err != nil:
				ackRefusal(s, &ack, msgUnavailable)
				return
			case a.Refused:
				msg := a.Message
				if msg == "" {
					msg = "subscribe refused by backend"
				}
				ackRefusal(s, &ack, msg)
				return
			}
			allowed := make(map[string]bool, len(a.Channels))
			for _, ch := range a.Channels {
				allowed[ch] = true
			}
			var join []string
			for _, ch := range names {
				if allowed[ch] {
					join = append(join, ch)
				}
			}
			// Other subscribes may have joined channels meanwhile.
			if msg := c.checkRoomLimit(s, join); msg != "" {
				ackRefusal(s, &ack, msg)
				return
			}
			for _, ch := range join {
				s.Join(ch)
			}
			ackRooms(s, &ack)
		})
	})
}
