package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sioloop/loop"
	"sioloop/protocol/socketio"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

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
