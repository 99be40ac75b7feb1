package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
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
//	GET  /sockets?namespace=/&room=a&room=b&except=c&user=42&limit=1000&cursor=…
//	     {"sockets":[{"id","namespace","rooms","address","transport","userId"}],
//	      "count":N,"next_cursor":"…","servers":S,"answered":A,"complete":true}
//	GET  /sockets?user=42&count=true
//	     {"count":N,"servers":S,"answered":A,"complete":true}
//	POST /sockets/join        {"room":"r" or ["r1","r2"], + target}
//	POST /sockets/leave       {"room":…, + target}
//	POST /sockets/disconnect  {"close":false, + target}
//	     {"status":"success","local_sockets":N,"published":true,"duration":"0.134ms"}
//
// The target fields are those of POST /SendWebsocketEvent: "namespace"
// (default "/"), "rooms" and "except" (a name or a list; a socket id is a
// room), "to" (a socket id) and "user" (a user id or a list: the sockets
// whose JWT "sub" is one of them, on every server). "to" and "user" add
// rooms: the target is every socket in any of rooms, to and the users'
// rooms ("user:<id>", loop.UserRoom), minus those in except, so
// {"rooms":"news","user":"42"} is news and user 42's sockets together (a
// union, as Node's io.to("news").to("user:42")). On GET the parameters
// room (or rooms), except, to and user repeat. A user room cannot be
// joined or left through /sockets/join and /sockets/leave: a socket is in
// its user's room exactly while it is connected.
//
// local_sockets counts the sockets of this server the operation reached;
// the other servers apply it without answering (fire and forget, as in
// Node), published says whether it was sent to them. GET /sockets waits
// for the other servers up to REDIS_REQUEST_TIMEOUT: servers is how many
// there are (PUBSUB NUMSUB), answered how many are in the list; complete
// is false when some did not answer or Redis is unreachable, and "error"
// then says why.
//
// GET /sockets pages: the sockets of every answering server are merged
// and sorted by socket id; an answer holds at most limit of them (default
// DefaultSocketsLimit, at most MaxSocketsLimit), those after cursor, and
// next_cursor, when more follow, is the cursor of the next page (opaque;
// absent on the last page). count is the number of sockets the target
// matched in all, whatever the page; len(sockets) is the page's. A socket
// that connects or leaves between two pages may be missed or seen once
// more, but no socket present throughout is lost or repeated: the order
// is by id, not by time. With count=true only the count comes back (no
// list, limit and cursor ignored). Paging bounds the answer, not the
// work: every server still sends its whole list for each page (Node's
// REMOTE_FETCH has no paging), so a page costs a full fetchSockets.
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
	User      json.RawMessage `json:"user"`
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

// Bounds of the limit parameter of GET /sockets.
const (
	DefaultSocketsLimit = 1000
	MaxSocketsLimit     = 10000
)

// fetchResponse is the body of GET /sockets.
type fetchResponse struct {
	Sockets []loop.SocketInfo `json:"sockets"`
	// NextCursor is the cursor of the next page; "" (absent) on the last.
	NextCursor string `json:"next_cursor,omitempty"`
	countResponse
}

// countResponse is the body of GET /sockets?count=true, and the fields
// after the list otherwise.
type countResponse struct {
	// Count is the number of sockets the target matched, on every page.
	Count    int    `json:"count"`
	Servers  int    `json:"servers"`
	Answered int    `json:"answered"`
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
}

// page is what GET /sockets asks of the list: a page, or only the count.
type page struct {
	limit int
	after string // the last socket id of the previous page; "" for the first
	count bool
}

// pageParams reads limit, cursor and count.
func pageParams(q url.Values) (page, error) {
	p := page{limit: DefaultSocketsLimit}
	var err error
	if p.count, err = boolParam(q, "count"); err != nil {
		return p, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSocketsLimit {
			return p, errorf(http.StatusBadRequest, "limit=%q: want a whole number from 1 to %d", clip(v), MaxSocketsLimit)
		}
		p.limit = n
	}
	if v := q.Get("cursor"); v != "" {
		id, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(id) == 0 {
			return p, errorf(http.StatusBadRequest, "cursor=%q: want the next_cursor of a previous answer", clip(v))
		}
		p.after = string(id)
	}
	return p, nil
}

// cut sorts all by socket id and returns the page of it p asks for, and
// the cursor of the next page ("" when it is the last).
func (p page) cut(all []loop.SocketInfo) ([]loop.SocketInfo, string) {
	slices.SortFunc(all, func(a, b loop.SocketInfo) int { return strings.Compare(a.ID, b.ID) })
	from := 0
	if p.after != "" {
		from = sort.Search(len(all), func(i int) bool { return all[i].ID > p.after })
	}
	out := all[from:]
	if len(out) <= p.limit {
		return out, ""
	}
	out = out[:p.limit]
	return out, base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].ID))
}

// serveSockets lists the sockets of the target on every server.
func (h *handler) serveSockets(w http.ResponseWriter, r *http.Request, _ time.Time) error {
	q := r.URL.Query()
	t, err := queryTarget(q, h.lim.NameBytes)
	if err != nil {
		return err
	}
	pg, err := pageParams(q)
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
	cr := countResponse{Servers: 1, Answered: 1, Complete: true}
	var all []loop.SocketInfo
	if c := h.s.Cluster; c != nil && !local {
		ctx, cancel := context.WithTimeout(r.Context(), c.Config().RequestTimeout+time.Second)
		defer cancel()
		var reach cluster.Reach
		all, reach, err = c.FetchSockets(ctx, t)
		cr.Servers, cr.Answered, cr.Complete = reach.Servers, reach.Answered, reach.Complete()
		switch {
		case errors.Is(err, cluster.ErrRedisDown), errors.Is(err, cluster.ErrTimeout):
			cr.Error = err.Error()
		case err != nil:
			return opError(err, t.Namespace)
		}
	} else if all, err = h.s.IO.FetchSockets(t); err != nil {
		return opError(err, t.Namespace)
	}
	cr.Count = len(all)
	if pg.count {
		writeJSON(w, http.StatusOK, cr)
		return nil
	}
	resp := fetchResponse{countResponse: cr}
	resp.Sockets, resp.NextCursor = pg.cut(all)
	if resp.Sockets == nil {
		resp.Sockets = []loop.SocketInfo{}
	}
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
	t, err := bodyTarget(&sb, h.lim.NameBytes)
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
		for _, room := range rooms {
			if loop.IsUserRoom(room) {
				return errorf(http.StatusBadRequest, `"room" %q is reserved: a socket is in its user's room while it is connected; target a user with "user"`, clip(room))
			}
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

// bodyTarget reads namespace, rooms, except, to and user, as parseTarget
// does for POST /SendWebsocketEvent.
func bodyTarget(sb *socketsBody, nameBytes int) (loop.Target, error) {
	var p sendPlan
	err := p.parseTarget(&sendBody{Namespace: sb.Namespace, Rooms: sb.Rooms, Except: sb.Except, To: sb.To, User: sb.User}, nameBytes)
	return loop.Target{Namespace: p.target.Namespace, Rooms: p.target.Rooms, Except: p.target.Except}, err
}

// queryTarget reads the target of GET /sockets: namespace, and room,
// except, to and user, each repeatable; a user id may have up to
// nameBytes bytes.
func queryTarget(q url.Values, nameBytes int) (loop.Target, error) {
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
	users := q["user"]
	if len(users) > MaxUsers {
		return t, errorf(http.StatusBadRequest, `%d "user" parameters: at most %d per request`, len(users), MaxUsers)
	}
	for _, id := range users {
		if err := checkUserID("user", id, nameBytes); err != nil {
			return t, err
		}
	}
	t.Rooms = appendUserRooms(t.Rooms, users)
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
