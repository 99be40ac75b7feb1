package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sioloop/loop"
	"sioloop/loop/cluster"
	"sioloop/protocol/socketio"
)

// MaxChannels is the largest "channels" list POST /SendWebsocketEvent
// takes; a longer one is refused with 400.
const MaxChannels = 100

// MaxUsers is the longest "user" list a target may name (and the most
// "user" parameters of GET /sockets); a longer one is refused with 400.
const MaxUsers = MaxChannels

// sendBody is the JSON body of POST /SendWebsocketEvent. Every field is
// kept raw, so that payloads reach the clients byte for byte (object key
// order included) and type errors can name the field. A JSON null counts as
// absent, except for payload and data, where null is a value.
//
// Three forms name the events, exactly one per request:
//
//	{"channel":"news","payload":P}        event "news", data {"payload":P}
//	{"channels":["a","b"],"payload":P}    one such event per channel; with "payload":[P1,P2]
//	                                       the i-th payload goes with the i-th channel
//	{"event":"broadcast","data":D}        event "broadcast", data D (no data: no argument)
//
// and optional fields choose the recipients: "namespace" (default "/"),
// "rooms" and "except" (a room name or a list; a socket id is a room),
// "to" (a socket id, added to rooms), "user" (a user id or a list: the
// room of each user, loop.UserRoom, added to rooms), "volatile" and
// "local" (with REDIS_URL: this server only, not the whole cluster).
type sendBody struct {
	Channel   json.RawMessage `json:"channel"`
	Channels  json.RawMessage `json:"channels"`
	Payload   json.RawMessage `json:"payload"`
	Event     json.RawMessage `json:"event"`
	Data      json.RawMessage `json:"data"`
	Rooms     json.RawMessage `json:"rooms"`
	Except    json.RawMessage `json:"except"`
	To        json.RawMessage `json:"to"`
	User      json.RawMessage `json:"user"`
	Namespace json.RawMessage `json:"namespace"`
	Volatile  json.RawMessage `json:"volatile"`
	Ack       json.RawMessage `json:"ack"`
	Timeout   json.RawMessage `json:"timeout"`
	Local     json.RawMessage `json:"local"`
}

// Bounds of "timeout" for a broadcast with "ack": true.
const (
	DefaultAckTimeout = 5 * time.Second
	MaxAckTimeout     = 60 * time.Second
)

// sendPlan is a decoded POST /SendWebsocketEvent: the events to
// broadcast, in order, all to the same target.
type sendPlan struct {
	// target holds Namespace, Rooms, Except and Volatile; Event and Args
	// are set per event.
	target loop.Broadcast
	events []sendEvent
	// ack asks every recipient for an acknowledgement and waits up to
	// ackTimeout for them, as Node's io.timeout(ms).emitWithAck().
	ack        bool
	ackTimeout time.Duration
}

// sendEvent is one event: its name and the raw JSON of its arguments,
// comma separated without brackets, as loop.Broadcast.Args wants them.
type sendEvent struct {
	name string
	args []byte
}

// sendResponse is the body of a successful POST /SendWebsocketEvent.
type sendResponse struct {
	Status     string `json:"status"`
	EventsSent int    `json:"events_sent"`
	// Recipients is the number of sockets the target matched: every event
	// of a request has the same target, so it is the largest recipient
	// count of its broadcasts (a client receiving two events counts once).
	Recipients int    `json:"recipients"`
	Duration   string `json:"duration"` // milliseconds, "0.134ms"
	// With "ack": true, the acknowledgements received and how many
	// recipients did not answer in time.
	Responses []loop.AckResponse `json:"responses,omitempty"`
	Timeouts  *int               `json:"timeouts,omitempty"`
}

// serveSend checks and reads the body, then broadcasts each event in turn.
// Every check happens before the first broadcast, so that a refused
// request sends nothing.
func (h *handler) serveSend(w http.ResponseWriter, r *http.Request, start time.Time) error {
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	p, err := parseSend(body, h.lim.NameBytes)
	if err != nil {
		return err
	}
	if !h.s.IO.Declared(p.target.Namespace) {
		return errorf(http.StatusBadRequest, "unknown namespace %q", p.target.Namespace)
	}
	// Once shutdown has begun the clients are being sent away, and a
	// stopped reactor would never run the broadcast.
	if h.s.Server.Draining() {
		return ErrShuttingDown
	}
	resp := sendResponse{Status: "success"}
	if p.ack {
		resp.Responses = []loop.AckResponse{}
		resp.Timeouts = new(int)
	}
	for _, ev := range p.events {
		b := p.target
		b.Event, b.Args = ev.name, ev.args
		if p.ack && h.s.Cluster != nil && !b.Local {
			answers, clients, err := h.clusterAck(r.Context(), &b, p.ackTimeout)
			if err != nil {
				return broadcastError(err, &b)
			}
			resp.EventsSent++
			resp.Recipients = max(resp.Recipients, clients)
			resp.Responses = append(resp.Responses, answers...)
			*resp.Timeouts += clients - len(answers)
			continue
		}
		if p.ack {
			answers, timeouts, err := h.s.IO.BroadcastWithAck(&b, p.ackTimeout)
			if err != nil {
				return broadcastError(err, &b)
			}
			resp.EventsSent++
			resp.Recipients = max(resp.Recipients, len(answers)+timeouts)
			resp.Responses = append(resp.Responses, answers...)
			*resp.Timeouts += timeouts
			continue
		}
		n, err := h.s.IO.Broadcast(&b)
		if err != nil {
			return broadcastError(err, &b)
		}
		resp.EventsSent++
		resp.Recipients = max(resp.Recipients, n)
	}
	resp.Duration = formatMillis(time.Since(start))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// clusterAck broadcasts b with acks on every server of the cluster. Each
// answer holds the first argument of the acknowledgement (all the
// protocols carry) and, for a socket of this server, its id.
func (h *handler) clusterAck(ctx context.Context, b *loop.Broadcast, timeout time.Duration) ([]loop.AckResponse, int, error) {
	acks, clients, _, err := h.s.Cluster.BroadcastWithAck(ctx, b, timeout)
	switch {
	case errors.Is(err, cluster.ErrClosed):
		return nil, 0, ErrShuttingDown
	case err != nil && !errors.Is(err, cluster.ErrRedisDown):
		return nil, 0, err
	}
	out := make([]loop.AckResponse, len(acks))
	for i, a := range acks {
		v := a.Value
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		out[i] = loop.AckResponse{ID: a.ID, Args: append(append(json.RawMessage{'['}, v...), ']')}
	}
	return out, max(clients, len(out)), nil
}

// formatMillis formats d as milliseconds with three decimals, "0.134ms",
// the old service's duration format.
func formatMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
}

// broadcastError maps an error of loop.SocketIO.Broadcast to a response.
func broadcastError(err error, b *loop.Broadcast) error {
	switch {
	case errors.Is(err, loop.ErrUnknownNamespace):
		return errorf(http.StatusBadRequest, "unknown namespace %q", b.Namespace)
	case errors.Is(err, loop.ErrReservedEvent):
		return errorf(http.StatusBadRequest, "event name %q is reserved", b.Event)
	}
	return err
}

// checkJSONType accepts application/json and the application/*+json types
// (RFC 6839 §3.1), with parameters; a charset, if any, must be UTF-8
// (RFC 8259 §8.1: "JSON text exchanged between systems that are not part
// of a closed ecosystem MUST be encoded using UTF-8").
//
// A missing Content-Type is refused too. A browser may POST
// cross-origin without a CORS preflight when the type is missing,
// text/plain or a form type (a "simple request"), so accepting those would
// let any web page a user visits trigger broadcasts on a server without
// ADMIN_TOKEN (the routes also answer on the client port, which browsers
// reach). Note that curl -d sends application/x-www-form-urlencoded: send
// -H 'Content-Type: application/json', as the old service's users do.
func checkJSONType(ct string) error {
	if ct == "" {
		return errorf(http.StatusUnsupportedMediaType, "missing Content-Type: want application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: want application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: JSON must be UTF-8", ct)
	}
	return nil
}

// maxDrain bounds how much of an oversized body is read and dropped
// before the 413 goes out.
const maxDrain = 16 << 20

// readBody reads the request body, refusing one longer than limit.
//
// An oversized body is read to its end (up to maxDrain) and dropped before
// the 413 is sent: a client still uploading when the server closes would
// get a TCP reset, and most HTTP clients then lose the response. A client
// that sent "Expect: 100-continue" has not started its upload and gets the
// 413 at once instead.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
	waits := strings.EqualFold(r.Header.Get("Expect"), "100-continue")
	drain := func() {
		if !waits {
			_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
		}
	}
	if r.ContentLength > limit {
		if r.ContentLength <= maxDrain {
			drain()
		}
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			drain()
			return nil, tooLarge
		}
		return nil, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	return body, nil
}

// parseSend decodes and checks a POST /SendWebsocketEvent body; a user id
// may have up to nameBytes bytes (MAX_NAME_BYTES). The returned plan owns
// its bytes (nothing aliases body).
func parseSend(body []byte, nameBytes int) (sendPlan, error) {
	var p sendPlan
	// The data goes out in WebSocket text frames. RFC 6455 §8.1: "When an
	// endpoint is to interpret a byte stream as UTF-8 but finds that the
	// byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST
	// _Fail the WebSocket Connection_." One bad byte would disconnect every
	// recipient.
	if !utf8.Valid(body) {
		return p, errorf(http.StatusBadRequest, "body is not valid UTF-8")
	}
	// Compact validates the JSON and drops insignificant whitespace, which
	// every recipient would otherwise receive; tokens and key order are
	// kept as sent.
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return p, errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if c := buf.Bytes(); len(c) == 0 || c[0] != '{' {
		return p, errorf(http.StatusBadRequest, "body must be a JSON object")
	}
	var sb sendBody
	if err := json.Unmarshal(buf.Bytes(), &sb); err != nil {
		return p, errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if err := p.parseTarget(&sb, nameBytes); err != nil {
		return p, err
	}
	forms := 0
	for _, f := range []json.RawMessage{sb.Channel, sb.Channels, sb.Event} {
		if present(f) {
			forms++
		}
	}
	var err error
	switch {
	case forms == 0:
		err = errorf(http.StatusBadRequest, `no event name: want "channel", "channels" or "event"`)
	case forms > 1:
		err = errorf(http.StatusBadRequest, `use only one of "channel", "channels" and "event"`)
	case present(sb.Event):
		err = p.parseEvent(&sb)
	default:
		err = p.parseChannels(&sb)
	}
	if err != nil {
		return p, err
	}
	for _, ev := range p.events {
		// socket.io-protocol v5: "connect", "connect_error", "disconnect",
		// "disconnecting", "newListener" and "removeListener" are reserved
		// and cannot be emitted.
		if socketio.IsReservedEvent([]byte(ev.name)) {
			return p, errorf(http.StatusBadRequest, "event name %q is reserved", ev.name)
		}
	}
	return p, nil
}

// parseTarget reads namespace, rooms, except, to, user and volatile.
// "to" and the rooms of "user" are added to rooms: the target is the
// union, as Node's io.to(a).to(b).
func (p *sendPlan) parseTarget(sb *sendBody, nameBytes int) error {
	ns, err := optString(sb.Namespace, "namespace")
	if err != nil {
		return err
	}
	// As Node's io.of("chat"): a namespace name without its leading '/'
	// gets one.
	if !strings.HasPrefix(ns, "/") {
		ns = "/" + ns
	}
	p.target.Namespace = ns
	if p.target.Rooms, err = optStrings(sb.Rooms, "rooms"); err != nil {
		return err
	}
	if p.target.Except, err = optStrings(sb.Except, "except"); err != nil {
		return err
	}
	to, err := optString(sb.To, "to")
	if err != nil {
		return err
	}
	if to != "" {
		p.target.Rooms = append(p.target.Rooms, to)
	}
	users, err := optUsers(sb.User, nameBytes)
	if err != nil {
		return err
	}
	p.target.Rooms = appendUserRooms(p.target.Rooms, users)
	if present(sb.Volatile) {
		if err := json.Unmarshal(sb.Volatile, &p.target.Volatile); err != nil {
			return typeError("volatile", "a boolean", sb.Volatile)
		}
	}
	// "local": with REDIS_URL, keep the broadcast on this server (Node's
	// io.local.emit); without a cluster every broadcast is local anyway.
	if present(sb.Local) {
		if err := json.Unmarshal(sb.Local, &p.target.Local); err != nil {
			return typeError("local", "a boolean", sb.Local)
		}
	}
	if present(sb.Ack) {
		if err := json.Unmarshal(sb.Ack, &p.ack); err != nil {
			return typeError("ack", "a boolean", sb.Ack)
		}
	}
	p.ackTimeout = DefaultAckTimeout
	if present(sb.Timeout) {
		d, err := parseTimeout(sb.Timeout)
		if err != nil {
			return err
		}
		p.ackTimeout = d
	}
	return nil
}

// parseTimeout reads "timeout": a duration string ("2s", "500ms") or a
// number of milliseconds, from 1ms to MaxAckTimeout.
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	var d time.Duration
	var s string
	var ms float64
	switch {
	case json.Unmarshal(raw, &s) == nil:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errorf(http.StatusBadRequest, `invalid "timeout" %q: want a duration like "2s" or milliseconds`, s)
		}
	case json.Unmarshal(raw, &ms) == nil:
		d = time.Duration(ms * float64(time.Millisecond))
	default:
		return 0, typeError("timeout", `a duration like "2s" or a number of milliseconds`, raw)
	}
	if d < time.Millisecond || d > MaxAckTimeout {
		return 0, errorf(http.StatusBadRequest, `invalid "timeout" %s: want from 1ms to %s`, raw, MaxAckTimeout)
	}
	return d, nil
}

// parseEvent reads the {"event":E,"data":D} form.
func (p *sendPlan) parseEvent(sb *sendBody) error {
	name, err := eventName(sb.Event, "event")
	if err != nil {
		return err
	}
	if sb.Payload != nil && sb.Data == nil {
		return errorf(http.StatusBadRequest, `"payload" goes with "channel"; with "event", send "data"`)
	}
	p.events = []sendEvent{{name: name, args: bytes.Clone(sb.Data)}}
	return nil
}

// parseChannels reads the {"channel":C,"payload":P} and
// {"channels":[…],"payload":P} forms.
func (p *sendPlan) parseChannels(sb *sendBody) error {
	if sb.Payload == nil {
		if sb.Data != nil {
			return errorf(http.StatusBadRequest, `"data" goes with "event"; with "channel", send "payload"`)
		}
		return errorf(http.StatusBadRequest, `missing "payload"`)
	}
	if present(sb.Channel) {
		name, err := eventName(sb.Channel, "channel")
		if err != nil {
			return err
		}
		p.events = []sendEvent{{name: name, args: payloadArgs(sb.Payload)}}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(sb.Channels, &raw); err != nil {
		return typeError("channels", "an array of strings", sb.Channels)
	}
	switch {
	case len(raw) == 0:
		return errorf(http.StatusBadRequest, `"channels" is empty`)
	case len(raw) > MaxChannels:
		return errorf(http.StatusBadRequest, `%d channels: at most %d per request`, len(raw), MaxChannels)
	}
	names := make([]string, len(raw))
	for i, r := range raw {
		name, err := eventName(r, "channels["+strconv.Itoa(i)+"]")
		if err != nil {
			return err
		}
		names[i] = name
	}
	payloads := []json.RawMessage{sb.Payload}
	if sb.Payload[0] == '[' {
		// An array pairs its i-th element with the i-th channel, up to
		// the shorter of the two lists.
		payloads = nil
		_ = json.Unmarshal(sb.Payload, &payloads) // valid: checked by Compact
		if len(payloads) == 0 {
			return errorf(http.StatusBadRequest, `"payload" is an empty array: no payload for any channel`)
		}
		names = names[:min(len(names), len(payloads))]
	}
	p.events = make([]sendEvent, len(names))
	for i, name := range names {
		pl := payloads[0]
		if len(payloads) > 1 {
			pl = payloads[i]
		}
		p.events[i] = sendEvent{name: name, args: payloadArgs(pl)}
	}
	return nil
}

// payloadArgs returns the arguments {"payload":P}, P kept byte for byte.
func payloadArgs(pl json.RawMessage) []byte {
	b := make([]byte, 0, len(`{"payload":}`)+len(pl))
	b = append(b, `{"payload":`...)
	b = append(b, pl...)
	return append(b, '}')
}

// eventName reads a non-empty event name.
func eventName(raw json.RawMessage, field string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", typeError(field, "a string", raw)
	}
	if s == "" {
		return "", errorf(http.StatusBadRequest, "%q is empty: want an event name", field)
	}
	return s, nil
}

// optString reads an optional string field ("" when absent or null).
func optString(raw json.RawMessage, field string) (string, error) {
	if !present(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", typeError(field, "a string", raw)
	}
	return s, nil
}

// optStrings reads an optional list of room names: a string or an array of
// non-empty strings, as Node's io.to(room) and io.to([rooms]) take.
func optStrings(raw json.RawMessage, field string) ([]string, error) {
	if !present(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		raw = append(append(json.RawMessage{'['}, raw...), ']')
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, typeError(field, "a string or an array of strings", raw)
	}
	list := make([]string, len(elems))
	for i, e := range elems {
		el := field + "[" + strconv.Itoa(i) + "]"
		if err := json.Unmarshal(e, &list[i]); err != nil {
			return nil, typeError(el, "a string", e)
		}
		if list[i] == "" {
			return nil, errorf(http.StatusBadRequest, "%q is empty: want a room name or socket id", el)
		}
	}
	return list, nil
}

// optUsers reads the optional "user" field: a user id or an array of
// them, each non-empty and at most nameBytes long, at most MaxUsers.
func optUsers(raw json.RawMessage, nameBytes int) ([]string, error) {
	if !present(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, typeError("user", "a string or an array of strings", raw)
		}
		return []string{id}, checkUserID("user", id, nameBytes)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, typeError("user", "a user id or an array of user ids", raw)
	}
	switch {
	case len(elems) == 0:
		return nil, errorf(http.StatusBadRequest, `"user" is an empty array: want at least one user id`)
	case len(elems) > MaxUsers:
		return nil, errorf(http.StatusBadRequest, `"user" lists %d user ids: at most %d per request`, len(elems), MaxUsers)
	}
	ids := make([]string, len(elems))
	for i, e := range elems {
		el := "user[" + strconv.Itoa(i) + "]"
		if err := json.Unmarshal(e, &ids[i]); err != nil {
			return nil, typeError(el, "a string", e)
		}
		if err := checkUserID(el, ids[i], nameBytes); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// checkUserID refuses an empty user id and one longer than nameBytes
// (MAX_NAME_BYTES); field names where it came from.
func checkUserID(field, id string, nameBytes int) error {
	switch {
	case id == "":
		return errorf(http.StatusBadRequest, "%q is empty: want a user id (the JWT \"sub\")", field)
	case len(id) > nameBytes:
		return errorf(http.StatusBadRequest, "%q %q is %d bytes, longer than MAX_NAME_BYTES (%d)", field, clip(id), len(id), nameBytes)
	}
	return nil
}

// appendUserRooms appends the user room of each id to rooms.
func appendUserRooms(rooms, ids []string) []string {
	for _, id := range ids {
		rooms = append(rooms, loop.UserRoom(id))
	}
	return rooms
}

// clip shortens a value quoted in an error message to 40 bytes and "…".
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// present reports whether a raw field was sent with a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// typeError says which field had which JSON type instead of want.
func typeError(field, want string, raw json.RawMessage) error {
	return errorf(http.StatusBadRequest, "%q must be %s, got %s", field, want, jsonKind(raw))
}

// jsonKind names the JSON type of a valid raw value.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
