package hooks

// The request and answer of each hook. README.md ("Backend hooks") shows
// them to backend authors; keep the two in step.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"sioloop/protocol/socketio"
)

// ConnectRequest is the body of a connect hook call.
type ConnectRequest struct {
	ID        string            `json:"id"`            // the socket id
	Namespace string            `json:"namespace"`     // e.g. "/"
	Auth      json.RawMessage   `json:"auth"`          // the CONNECT payload (socket.io-client's auth) as sent, or null
	Address   string            `json:"address"`       // the client's address (the TCP peer)
	Query     map[string]string `json:"query"`         // the handshake's query, the first value of each name
	Headers   map[string]string `json:"headers"`       // the HOOK_FORWARD_HEADERS the handshake sent, by lower-case name
	Sub       string            `json:"sub,omitempty"` // the JWT's sub, with JWT auth on
}

// ConnectAnswer is what the backend decided about a CONNECT.
type ConnectAnswer struct {
	// Accept is set by a 200; a 401 or 403 refuses.
	Accept bool
	// User (200) is the socket's user; "" for none.
	User string
	// Channels (200) are the channels the socket joins.
	Channels []string
	// Data (200) is kept with the socket and sent with its other hooks;
	// nil for none.
	Data json.RawMessage
	// Message and ErrData (401, 403) are the CONNECT_ERROR's message and
	// data (raw JSON, nil for none).
	Message string
	ErrData json.RawMessage
}

// DefaultRefusal is the CONNECT_ERROR message of a 401 or 403 without a
// message.
const DefaultRefusal = "refused by backend"

// Connect asks the connect hook about req and hands the answer to done,
// from another goroutine, or an *Error (counted and logged) when the
// backend could not be asked or answered anything but a 200, 401 or 403
// of the documented shape.
func (c *Client) Connect(req *ConnectRequest, done func(ConnectAnswer, error)) {
	body, err := json.Marshal(req)
	if err != nil {
		panic("BUG: hooks: connect request: " + err.Error())
	}
	c.goCall(Connect, body, func(status int, answer []byte, e *Error) {
		if e != nil {
			done(ConnectAnswer{}, e)
			return
		}
		switch status {
		case http.StatusOK:
			var a struct {
				User     *string         `json:"user"`
				Channels []string        `json:"channels"`
				Data     json.RawMessage `json:"data"`
			}
			if err := decodeObject(answer, &a); err != nil {
				done(ConnectAnswer{}, c.badAnswer(Connect, status, err))
				return
			}
			ca := ConnectAnswer{Accept: true, Channels: a.Channels, Data: nullToNil(a.Data)}
			if a.User != nil {
				ca.User = *a.User
			}
			done(ca, nil)
		case http.StatusUnauthorized, http.StatusForbidden:
			var a struct {
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			}
			// A refusal stands even when its body says nothing usable.
			_ = decodeObject(answer, &a)
			if a.Message == "" {
				a.Message = DefaultRefusal
			}
			done(ConnectAnswer{Message: a.Message, ErrData: nullToNil(a.Data)}, nil)
		default:
			done(ConnectAnswer{}, c.badStatus(Connect, status, answer))
		}
	})
}

// SubscribeRequest is the body of a subscribe hook call.
type SubscribeRequest struct {
	ID        string          `json:"id"`
	User      string          `json:"user"` // "" for none
	Namespace string          `json:"namespace"`
	Data      json.RawMessage `json:"data"`     // the connect hook's data, or null
	Channels  []string        `json:"channels"` // the channels asked for that the server allows (limits, JWT channels claim)
}

// SubscribeAnswer is what the backend allows of a subscribe.
type SubscribeAnswer struct {
	// Channels (200) are the allowed ones; the socket joins those that
	// it asked for.
	Channels []string
	// Refused is set by a 403 (or 401), with the backend's Message ("" for
	// none): nothing is joined.
	Refused bool
	Message string
}

// Subscribe asks the subscribe hook about req; done gets the answer or
// an *Error, from another goroutine.
func (c *Client) Subscribe(req *SubscribeRequest, done func(SubscribeAnswer, error)) {
	body, err := json.Marshal(req)
	if err != nil {
		panic("BUG: hooks: subscribe request: " + err.Error())
	}
	c.goCall(Subscribe, body, func(status int, answer []byte, e *Error) {
		if e != nil {
			done(SubscribeAnswer{}, e)
			return
		}
		switch status {
		case http.StatusOK:
			var a struct {
				Channels *[]string `json:"channels"`
			}
			if err := decodeObject(answer, &a); err != nil {
				done(SubscribeAnswer{}, c.badAnswer(Subscribe, status, err))
				return
			}
			if a.Channels == nil {
				done(SubscribeAnswer{}, c.badAnswer(Subscribe, status, errString(`no "channels" list`)))
				return
			}
			done(SubscribeAnswer{Channels: *a.Channels}, nil)
		case http.StatusUnauthorized, http.StatusForbidden:
			var a struct {
				Message string `json:"message"`
			}
			_ = decodeObject(answer, &a)
			done(SubscribeAnswer{Refused: true, Message: a.Message}, nil)
		default:
			done(SubscribeAnswer{}, c.badStatus(Subscribe, status, answer))
		}
	})
}

// EventAnswer is the backend's answer to an event.
type EventAnswer struct {
	// Args (2xx) is the raw JSON of the ack's arguments, comma-separated
	// content of a JSON array as loop.Socket.Ack takes it: the answer
	// body, the one argument; empty for a 204 or an empty body (an ack
	// without arguments).
	Args []byte
	// Refusal (4xx) is the error the ack carries: the backend's "error"
	// (or "message") string, or "event refused by backend (HTTP 4xx)".
	Refusal string
}

// Event POSTs body, an event request the caller encoded (AppendEvent),
// to the event hook; done gets the answer or an *Error, from another
// goroutine.
func (c *Client) Event(body []byte, done func(EventAnswer, error)) {
	c.goCall(Event, body, func(status int, answer []byte, e *Error) {
		if e != nil {
			done(EventAnswer{}, e)
			return
		}
		switch {
		case status >= 200 && status < 300:
			answer = bytes.TrimSpace(answer)
			if len(answer) > 0 && !json.Valid(answer) {
				done(EventAnswer{}, c.badAnswer(Event, status, errString("not JSON")))
				return
			}
			done(EventAnswer{Args: answer}, nil)
		case status >= 400 && status < 500:
			var a struct {
				Error   string `json:"error"`
				Message string `json:"message"`
			}
			_ = decodeObject(answer, &a)
			msg := a.Error
			if msg == "" {
				msg = a.Message
			}
			if msg == "" {
				msg = "event refused by backend (HTTP " + strconv.Itoa(status) + ")"
			}
			done(EventAnswer{Refusal: msg}, nil)
		default:
			done(EventAnswer{}, c.badStatus(Event, status, answer))
		}
	})
}

// decodeObject decodes a JSON object answer into v; anything else (not
// JSON, another value, trailing data, a field of the wrong type) is an
// error that says what.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		if !json.Valid(b) {
			return errString("not JSON")
		}
		return errString("not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	return nil
}

func nullToNil(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

type errString string

func (e errString) Error() string { return string(e) }

// badAnswer counts and logs an answer of the wrong shape.
func (c *Client) badAnswer(h Hook, status int, err error) *Error {
	return c.Fail(&Error{Hook: h, Kind: KindBadAnswer, Status: status, Msg: "bad answer: " + err.Error()})
}

// badStatus counts and logs an unexpected status, with the start of its
// body.
func (c *Client) badStatus(h Hook, status int, answer []byte) *Error {
	if len(answer) > 200 {
		answer = answer[:200]
	}
	return c.Fail(&Error{Hook: h, Kind: KindStatus, Status: status, Msg: "unexpected HTTP status " + strconv.Itoa(status) + ": " + strconv.Quote(string(answer))})
}

// AppendEvent appends the body of an event hook call to dst:
//
//	{"id":…,"user":…,"namespace":…,"event":…,"args":[…],"attachments":["<base64>",…],"data":…,"ack":true}
//
// args is the event's raw JSON argument list content (loop.Event.Args,
// valid JSON already), with binary arguments as their placeholders
// {"_placeholder":true,"num":N}; attachments, present only when there are
// some, are those binary arguments in base64 (standard, padded), by num.
// data is the connect hook's data (raw JSON), nil for null. It is
// hand-built because it runs on the reactor for every event; it copies
// args and attachments, so the event's slices may die after it.
func AppendEvent(dst []byte, id, user, namespace, event string, args []byte, atts [][]byte, data []byte, ack bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = socketio.AppendJSONStringOf(dst, id)
	dst = append(dst, `,"user":`...)
	dst = socketio.AppendJSONStringOf(dst, user)
	dst = append(dst, `,"namespace":`...)
	dst = socketio.AppendJSONStringOf(dst, namespace)
	dst = append(dst, `,"event":`...)
	dst = socketio.AppendJSONStringOf(dst, event)
	dst = append(dst, `,"args":[`...)
	dst = append(dst, args...)
	dst = append(dst, ']')
	if len(atts) > 0 {
		dst = append(dst, `,"attachments":[`...)
		for i, a := range atts {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, a)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	if ack {
		dst = append(dst, `,"ack":true}`...)
	} else {
		dst = append(dst, `,"ack":false}`...)
	}
	return dst
}
