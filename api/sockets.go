package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sioloop/loop"
	"sioloop/loop/cluster"
)

// The socket management routes work on the whole cluster when REDIS_URL
// is set, as Node's fetchSockets(), socketsJoin(), socketsLeave() and
// disconnectSockets() do with @socket.io/redis-adapter; "local":true (or
// ?local=true) keeps them on this server.
//
//	GET  /sockets?namespace=/&room=a&room=b&except=c
//	     {"sockets":[{"id","namespace","rooms","address","transport","userId"}],
//	      "count":N,"servers":S,"answered":A,"complete":true}
//	POST /sockets/join        {"room":"r" or ["r1","r2"], + target}
//	POST /sockets/leave       {"room":…, + target}
//	POST /sockets/disconnect  {"close":false, + target}
//	     {"status":"success","local_sockets":N,"published":true,"duration":"0.134ms"}
//
// The target fields are those of POST /SendWebsocketEvent: "namespace"
// (default "/"), "rooms" and "except" (a name or a list; a socket id is a
// room) and "to" (a socket id). local_sockets counts the sockets of this
// server the operation reached; the other servers apply it without
// answering (fire and forget, as in Node), published says whether it was
// sent to them. GET /sockets waits for the other servers up to
// REDIS_REQUEST_TIMEOUT: servers is how many there are (PUBSUB NUMSUB),
// answered how many are in the list; complete is false when some did not
// answer or Redis is unreachable, and "error" then says why.
const (
	routeSockets    = "/sockets"
	routeJoin       = "/sockets/join"
	routeLeave      = "/sockets/leave"
	routeDisconnect = "/sockets/disconnect"
)

// socketsBody is the JSON body of the POST /sockets/… routes.
type socketsBody struct {
	Namespace json.RawMessage `json:"namespace"`
	Rooms     json.RawMessage `json:"rooms"`
	Except    json.RawMessage `json:"except"`
	To        json.RawMessage `json:"to"`
	Room      json.RawMessage `json:"room"`
	Close     json.RawMessage `json:"close"`
	Local     json.RawMessage `json:"local"`
}

// socketsResponse is the body of a successful POST /sockets/….
type socketsResponse struct {
	Status       string `json:"status"`
	LocalSockets int    `json:"local_sockets"`
	Published    bool   `json:"published"`
	Duration     string `json:"duration"`
}

// fetchResponse is the body of GET /sockets.
type fetchResponse struct {
	Sockets  []loop.SocketInfo `json:"sockets"`
	Count    int               `json:"count"`
	Servers  int               `json:"servers"`
	Answered int               `json:"answered"`
	Complete bool              `json:"complete"`
	Error    string            `json:"error,omitempty"`
}

// serveSockets lists the sockets of the target on every server.
func (h *handler) serveSockets(w http.ResponseWriter, r *http.Request, _ time.Time) error {
	q := r.URL.Query()
	t, err := queryTarget(q)
	if err != nil {
		return err
	}
	if err := h.checkNamespace(t.Namespace); err != nil {
		return err
	}
	local, err := boolParam(q, "local")
	if err != nil {
		return err
	}
	resp := fetchResponse{Servers: 1, Answered: 1, Complete: true}
	if c := h.s.Cluster; c != nil && !local {
		ctx, cancel := context.WithTimeout(r.Context(), c.Config().RequestTimeout+time.Second)
		defer cancel()
		var reach cluster.Reach
		resp.Sockets, reach, err = c.FetchSockets(ctx, t)
		resp.Servers, resp.Answered, resp.Complete = reach.Servers, reach.Answered, reach.Complete()
		switch {
		case errors.Is(err, cluster.ErrRedisDown), errors.Is(err, cluster.ErrTimeout):
			resp.Error = err.Error()
		case err != nil:
			return opError(err, t.Namespace)
		}
	} else if resp.Sockets, err = h.s.IO.FetchSockets(t); err != nil {
		return opError(err, t.Namespace)
	}
	if resp.Sockets == nil {
		resp.Sockets = []loop.SocketInfo{}
	}
	resp.Count = len(resp.Sockets)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// serveJoin, serveLeave and serveDisconnect apply one operation to the
// target on every server.
func (h *handler) serveJoin(w http.ResponseWriter, r *http.Request, start time.Time) error {
	return h.serveOp(w, r, start, routeJoin)
}

func (h *handler) serveLeave(w http.ResponseWriter, r *http.Request, start time.Time) error {
	return h.serveOp(w, r, start, routeLeave)
}

func (h *handler) serveDisconnect(w http.ResponseWriter, r *http.Request, start time.Time) error {
	return h.serveOp(w, r, start, routeDisconnect)
}

func (h *handler) serveOp(w http.ResponseWriter, r *http.Request, start time.Time, route string) error {
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	var sb socketsBody
	if err := decodeObject(body, &sb); err != nil {
		return err
	}
	t, err := bodyTarget(&sb)
	if err != nil {
		return err
	}
	if err := h.checkNamespace(t.Namespace); err != nil {
		return err
	}
	local, err := optBool(sb.Local, "local")
	if err != nil {
		return err
	}
	var rooms []string
	var closeConn bool
	if route == routeDisconnect {
		if closeConn, err = optBool(sb.Close, "close"); err != nil {
			return err
		}
	} else {
		if rooms, err = optStrings(sb.Room, "room"); err != nil {
			return err
		}
		if len(rooms) == 0 {
			return errorf(http.StatusBadRequest, `missing "room": want the room (or list of rooms) to %s`, strings.TrimPrefix(route, "/sockets/"))
		}
	}
	if h.s.Server.Draining() {
		return ErrShuttingDown
	}
	type ops interface {
		Join(loop.Target, []string) (int, error)
		Leave(loop.Target, []string) (int, error)
		Disconnect(loop.Target, bool) (int, error)
	}
	var o ops = h.s.IO
	published := false
	if h.s.Cluster != nil && !local {
		o, published = h.s.Cluster, true
	}
	var n int
	switch route {
	case routeJoin:
		n, err = o.Join(t, rooms)
	case routeLeave:
		n, err = o.Leave(t, rooms)
	default:
		n, err = o.Disconnect(t, closeConn)
	}
	if err != nil {
		return opError(err, t.Namespace)
	}
	writeJSON(w, http.StatusOK, socketsResponse{Status: "success", LocalSockets: n, Published: published,
		Duration: formatMillis(time.Since(start))})
	return nil
}

// checkNamespace refuses a namespace this server does not know, as POST
// /SendWebsocketEvent does.
func (h *handler) checkNamespace(ns string) error {
	if !h.s.IO.Declared(ns) {
		return errorf(http.StatusBadRequest, "unknown namespace %q", ns)
	}
	return nil
}

// opError maps an error of the server-side operations to a response.
func opError(err error, ns string) error {
	switch {
	case errors.Is(err, loop.ErrUnknownNamespace):
		return errorf(http.StatusBadRequest, "unknown namespace %q", ns)
	case errors.Is(err, loop.ErrServerClosed), errors.Is(err, cluster.ErrClosed):
		return ErrShuttingDown
	}
	return err
}

// decodeObject checks that body is one UTF-8 JSON object and decodes it.
func decodeObject(body []byte, v any) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if c := buf.Bytes(); len(c) == 0 || c[0] != '{' {
		return errorf(http.StatusBadRequest, "body must be a JSON object")
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	return nil
}

// bodyTarget reads namespace, rooms, except and to, as parseTarget does
// for POST /SendWebsocketEvent.
func bodyTarget(sb *socketsBody) (loop.Target, error) {
	var p sendPlan
	err := p.parseTarget(&sendBody{Namespace: sb.Namespace, Rooms: sb.Rooms, Except: sb.Except, To: sb.To})
	return loop.Target{Namespace: p.target.Namespace, Rooms: p.target.Rooms, Except: p.target.Except}, err
}

// queryTarget reads the target of GET /sockets: namespace, and room,
// except and to, each repeatable.
func queryTarget(q url.Values) (loop.Target, error) {
	ns := q.Get("namespace")
	if ns == "" {
		ns = "/"
	} else if !strings.HasPrefix(ns, "/") {
		ns = "/" + ns
	}
	t := loop.Target{Namespace: ns}
	for _, k := range []string{"room", "rooms", "to"} {
		for _, v := range q[k] {
			if v == "" {
				return t, errorf(http.StatusBadRequest, "empty %q parameter: want a room name or socket id", k)
			}
			t.Rooms = append(t.Rooms, v)
		}
	}
	for _, v := range q["except"] {
		if v == "" {
			return t, errorf(http.StatusBadRequest, `empty "except" parameter: want a room name or socket id`)
		}
		t.Except = append(t.Except, v)
	}
	return t, nil
}

// optBool reads an optional boolean field (false when absent or null).
func optBool(raw json.RawMessage, field string) (bool, error) {
	if !present(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, typeError(field, "a boolean", raw)
	}
	return b, nil
}

// boolParam reads an optional boolean query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch v := q.Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, errorf(http.StatusBadRequest, "%s=%q: want true or false", name, v)
	}
}
