package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sioloop/loop"
	"sioloop/loop/cluster"
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
