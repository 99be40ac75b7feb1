package api

// The events clients send: message echo and channel subscriptions.

import (
	"encoding/json"
	"slices"
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"

	"sioloop/api/hooks"
	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// Limits bound what one subscribe or unsubscribe request may ask. A zero
// field means its default.
type Limits struct {
	// SubscribeNames is the most channel names in one request
	// (MAX_SUBSCRIBE_NAMES). Default 100.
	SubscribeNames int
	// NameBytes is the longest channel name (MAX_NAME_BYTES). Default 256.
	NameBytes int
	// RoomsPerSocket is the most channels one socket may be in
	// (MAX_ROOMS_PER_SOCKET). Default 128.
	RoomsPerSocket int
}

// Defaults of Limits, and of the settings that set them.
const (
	DefaultMaxSubscribeNames = 100
	DefaultMaxNameBytes      = loop.DefaultMaxNameBytes
	DefaultMaxRoomsPerSocket = 128
)

func (l Limits) resolve() Limits {
	if l.SubscribeNames <= 0 {
		l.SubscribeNames = DefaultMaxSubscribeNames
	}
	if l.NameBytes <= 0 {
		l.NameBytes = DefaultMaxNameBytes
	}
	if l.RoomsPerSocket <= 0 {
		l.RoomsPerSocket = DefaultMaxRoomsPerSocket
	}
	return l
}

// Subscribe and unsubscribe requests refused by Limits, by reason. They
// are rare, so they are plain counters of VictoriaMetrics' default set,
// which metrics.Set writes with the rest.
var (
	refusedTooManyNames = vm.NewCounter(`sioloop_subscribe_refused_total{reason="too_many_names"}`)
	refusedNameTooLong  = vm.NewCounter(`sioloop_subscribe_refused_total{reason="name_too_long"}`)
	refusedRoomLimit    = vm.NewCounter(`sioloop_subscribe_refused_total{reason="room_limit"}`)
)

// Install declares the service's event handlers on each namespace. auth, when not
// nil, checks every CONNECT (with a JWKS as UseAsync, since a new kid
// waits for a fetch) and keeps the token's exp for the life of the socket
// (tokens.go); lim bounds subscriptions; hk, when not nil, calls the
// backend's hooks (hooks.go).
func Install(nss []*loop.Namespace, auth *JWTAuth, lim Limits, hk *hooks.Client) {
	ch := &channels{lim: lim.resolve()}
	var hd *hooked
	if hk != nil && hk.Config().On() {
		hd = &hooked{c: hk, lim: ch.lim, jwt: auth != nil}
	}
	for _, ns := range nss {
		switch {
		case auth == nil:
			ns.On(RefreshEvent, onRefreshOff)
		case auth.jwks != nil:
			ns.UseAsync = auth.MiddlewareAsync
		default:
			ns.Use = auth.Middleware
		}
		if auth != nil {
			ns.OnConnect = onConnect
			ns.On(RefreshEvent, auth.onRefresh)
		}
		ns.On("message", onMessage)
		ns.On("subscribe", ch.onSubscribe)
		ns.On("unsubscribe", ch.onUnsubscribe)
		if hd != nil {
			hd.install(ns, ch)
		}
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

// channels handles subscribe and unsubscribe within its limits.
type channels struct {
	lim Limits
	hk  *hooked // with SUBSCRIBE_HOOK_URL, asked before joining; nil otherwise
}

// onSubscribe joins the channels named by the first argument (a string or
// an array of strings) and acks with the socket's rooms (Socket.Rooms, as
// Node's socket.rooms: its id room, its user room "user:<sub>" when it has
// a user, then its channels). A request over a limit joins nothing and
// acks {"error":…,"rooms":[…]}. Names it may not join (mayJoin) are
// skipped, the others joined; with the subscribe hook, only those the
// backend allows, and the ack comes once it answered.
func (c *channels) onSubscribe(s *loop.Socket, ev *loop.Event) {
	names, msg := c.names("subscribe", ev.Args)
	if msg == "" {
		msg = c.checkRoomLimit(s, names)
	}
	if msg != "" {
		ackRefusal(s, ev, msg)
		return
	}
	if c.hk != nil {
		var ask []string
		for _, ch := range names {
			if mayJoin(s, ch) && !s.InRoom(ch) && !slices.Contains(ask, ch) {
				ask = append(ask, ch)
			}
		}
		if len(ask) > 0 {
			c.subscribe(s, ev, ask)
			return
		}
	}
	for _, ch := range names {
		if mayJoin(s, ch) {
			s.Join(ch)
		}
	}
	ackRooms(s, ev)
}

// onUnsubscribe leaves the channels named by the first argument.
func (c *channels) onUnsubscribe(s *loop.Socket, ev *loop.Event) {
	names, msg := c.names("unsubscribe", ev.Args)
	if msg != "" {
		ackRefusal(s, ev, msg)
		return
	}
	for _, ch := range names {
		if ch != s.ID() && !loop.IsUserRoom(ch) {
			s.Leave(ch)
		}
	}
	ackRooms(s, ev)
}

// names reads the channel names of a request, or says (and counts) which
// limit it breaks.
func (c *channels) names(event string, args []byte) ([]string, string) {
	names, count := channelArgs(args, c.lim.SubscribeNames)
	if count > c.lim.SubscribeNames {
		refusedTooManyNames.Inc()
		return nil, event + " lists " + strconv.Itoa(count) + " names, more than MAX_SUBSCRIBE_NAMES (" + strconv.Itoa(c.lim.SubscribeNames) + ")"
	}
	for _, ch := range names {
		if len(ch) > c.lim.NameBytes {
			refusedNameTooLong.Inc()
			return nil, event + ": a channel name of " + strconv.Itoa(len(ch)) + " bytes is longer than MAX_NAME_BYTES (" + strconv.Itoa(c.lim.NameBytes) + ")"
		}
	}
	return names, ""
}

// checkRoomLimit says (and counts) if joining names would put s in more
// than RoomsPerSocket rooms; its user room (loop.UserRoom) is not a
// channel and does not count.
func (c *channels) checkRoomLimit(s *loop.Socket, names []string) string {
	have, max := channelCount(s), c.lim.RoomsPerSocket
	if have+len(names) <= max {
		return "" // the common case: no need to look for duplicates
	}
	seen := make(map[string]struct{}, len(names))
	for _, ch := range names {
		if _, dup := seen[ch]; !dup && mayJoin(s, ch) && !s.InRoom(ch) {
			seen[ch] = struct{}{}
		}
	}
	if n := have + len(seen); n > max {
		refusedRoomLimit.Inc()
		return "subscribe would put the socket in " + strconv.Itoa(n) + " channels, more than MAX_ROOMS_PER_SOCKET (" + strconv.Itoa(max) + ")"
	}
	return ""
}

// channelCount is the number of channels s subscribed to: its rooms but
// its own id room and its user room.
func channelCount(s *loop.Socket) int {
	n := s.RoomCount()
	if s.UserID != "" && s.InRoom(loop.UserRoom(s.UserID)) {
		n--
	}
	return n
}

// mayJoin refuses other sockets' id rooms, every user room (a socket is in
// its own user's room from its CONNECT on, and no other user's may be
// read) and, with JWT auth, channels the token's "channels" claim does not
// allow. unsubscribe leaves neither id nor user rooms.
func mayJoin(s *loop.Socket, ch string) bool {
	if ch == "" || ch == s.ID() || loop.IsSocketID(ch) || loop.IsUserRoom(ch) {
		return false
	}
	allowed := claimsOf(s)
	return allowed == nil || allowed.AllowsChannel(ch)
}

func ackRooms(s *loop.Socket, ev *loop.Event) {
	if !ev.HasAck {
		return
	}
	s.Ack(ev, jsonStrings(nil, s.Rooms()), nil)
}

// ackRefusal acks a refused request, when the client asked for an ack,
// with one object: {"error":msg,"rooms":[the socket's rooms]}.
func ackRefusal(s *loop.Socket, ev *loop.Event, msg string) {
	if !ev.HasAck {
		return
	}
	b := append([]byte(nil), `{"error":`...)
	b = socketio.AppendJSONStringOf(b, msg)
	b = append(b, `,"rooms":`...)
	b = jsonStrings(b, s.Rooms())
	s.Ack(ev, append(b, '}'), nil)
}

// jsonStrings appends names to b as a JSON array, escaped as
// JSON.stringify does.
func jsonStrings(b []byte, names []string) []byte {
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = socketio.AppendJSONStringOf(b, n)
	}
	return append(b, ']')
}

// channelArgs reads the first argument of args (valid JSON list content,
// as Parse checked it) as a channel name or an array of them. count is the
// number of names given; when it is over max, names is nil and nothing
// was decoded, so a huge list costs one scan and no allocation. Names are
// nil for a first argument of any other shape.
func channelArgs(args []byte, max int) (names []string, count int) {
	i := skipSpace(args, 0)
	if i >= len(args) {
		return nil, 0
	}
	end, elems := scanValue(args, i)
	if end < 0 {
		return nil, 0
	}
	switch args[i] {
	case '"':
		var one string
		if json.Unmarshal(args[i:end], &one) != nil {
			return nil, 0
		}
		return []string{one}, 1
	case '[':
		if elems > max {
			return nil, elems
		}
		var many []string
		if json.Unmarshal(args[i:end], &many) != nil {
			return nil, 0
		}
		return many, len(many)
	}
	return nil, 0
}

// scanValue returns the end of the JSON string, array or object that
// starts at b[i], and for an array the number of its elements; end is -1
// when the value does not close. It counts only: what it scans is checked
// by the decoder later, if at all.
func scanValue(b []byte, i int) (end, elems int) {
	depth := 0
	for j := i; j < len(b); j++ {
		c := b[j]
		if depth == 1 && elems == 0 && c != ']' && !isSpace(c) {
			elems = 1 // the first element of the outer array
		}
		switch c {
		case '"':
			k := j + 1
			for k < len(b) && b[k] != '"' {
				if b[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(b) {
				return -1, 0
			}
			j = k
			if depth == 0 {
				return j + 1, 0
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return j + 1, elems
			}
		case ',':
			if depth == 1 {
				elems++
			}
		}
		if depth == 0 {
			return -1, 0 // not a string, array or object
		}
	}
	return -1, 0
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
