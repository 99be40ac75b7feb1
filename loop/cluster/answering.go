package cluster

import (
	"encoding/json"
	"net/url"
	"sync"
	"time"

	"sioloop/loop"
)

// ---------------------------------------------------------------- answering

// onRequest answers a request of another server (RedisAdapter.onrequest).
// It runs on the dispatch goroutine; only a broadcast with acks, which
// waits for clients, continues on a goroutine of its own.
func (a *Adapter) onRequest(nsp string, payload []byte) {
	var r request
	atts, err := a.codec.parseRequest(payload, &r)
	if err != nil {
		a.malformed("request", nsp, err)
		return
	}
	if r.UID == a.uid || !a.hasNamespace(nsp) {
		// Our own requests come back to us: we applied them locally.
		return
	}
	target := loop.Target{Namespace: nsp}
	if r.Opts != nil {
		target.Rooms, target.Except = r.Opts.Rooms, r.Opts.Except
	}
	switch r.Type {
	case Sockets:
		if r.RequestID == "" {
			return
		}
		list, _ := a.local.FetchSockets(loop.Target{Namespace: nsp, Rooms: r.Rooms})
		ids := make([]string, len(list))
		for i, s := range list {
			ids[i] = s.ID
		}
		a.respond(nsp, struct {
			RequestID string   `json:"requestId"`
			Sockets   []string `json:"sockets"`
		}{r.RequestID, ids})
	case AllRooms:
		if r.RequestID == "" {
			return
		}
		rooms, _ := a.local.AllRooms(nsp)
		a.respond(nsp, struct {
			RequestID string   `json:"requestId"`
			Rooms     roomList `json:"rooms"`
		}{r.RequestID, rooms})
	case RemoteJoin, RemoteLeave, RemoteDisconnect:
		a.onRemoteOp(nsp, &r, target)
	case RemoteFetch:
		if r.RequestID == "" {
			return
		}
		a.respond(nsp, struct {
			RequestID string         `json:"requestId"`
			Sockets   []remoteSocket `json:"sockets"`
		}{r.RequestID, a.localSockets(target)})
	case ServerSideEmit:
		a.onServerSideEmit(nsp, &r, atts)
	case BroadcastRequest:
		a.onBroadcastRequest(nsp, &r, atts)
	}
}

// localSockets describes this server's sockets selected by t as a
// REMOTE_FETCH (or FETCH_SOCKETS_RESPONSE) lists them.
func (a *Adapter) localSockets(t loop.Target) []remoteSocket {
	list, _ := a.local.FetchSockets(t)
	out := make([]remoteSocket, len(list))
	for i := range list {
		out[i] = toRemote(&list[i])
	}
	return out
}

// onRemoteOp applies REMOTE_JOIN, REMOTE_LEAVE and REMOTE_DISCONNECT. With
// opts they are fire-and-forget (adapter ≥ 7 and the emitter); the
// single-socket form of older adapters ({sid, room}) is answered by the
// server that has the socket.
func (a *Adapter) onRemoteOp(nsp string, r *request, target loop.Target) {
	rooms := []string(r.Rooms)
	if r.Opts == nil {
		if r.SID == "" {
			return
		}
		target.Rooms = []string{r.SID}
		rooms = []string{r.Room}
	}
	var n int
	switch r.Type {
	case RemoteJoin:
		n, _ = a.local.Join(target, rooms)
	case RemoteLeave:
		n, _ = a.local.Leave(target, rooms)
	default:
		n, _ = a.local.Disconnect(target, r.Close)
	}
	if r.Opts == nil && n > 0 && r.RequestID != "" {
		a.respond(nsp, struct {
			RequestID string `json:"requestId"`
		}{r.RequestID})
	}
}

// onServerSideEmit hands the event to OnServerSideEmit with an ack that
// answers {type: 6, requestId, data} once, when the sender asked for one.
func (a *Adapter) onServerSideEmit(nsp string, r *request, atts [][]byte) {
	var answer func(v []byte)
	if r.RequestID != "" {
		id := r.RequestID
		answer = func(v []byte) {
			a.respond(nsp, struct {
				Type      RequestType     `json:"type"`
				RequestID string          `json:"requestId"`
				Data      json.RawMessage `json:"data"`
			}{ServerSideEmit, id, v})
		}
	}
	a.serverSideEmitLocal(nsp, r.Data, atts, answer)
}

// serverSideEmitLocal hands the event data ([event, ...args]) to
// OnServerSideEmit, with an ack that calls answer once with a valid JSON
// value when answer is not nil (the sender waits for one).
func (a *Adapter) serverSideEmitLocal(nsp string, data []byte, atts [][]byte, answer func(v []byte)) {
	h := a.OnServerSideEmit
	if h == nil {
		return
	}
	ev, args, err := splitData(data)
	if err != nil {
		a.malformed("server-side emit", nsp, err)
		return
	}
	var ack func([]byte)
	if answer != nil {
		var once sync.Once
		ack = func(v []byte) {
			once.Do(func() {
				if !json.Valid(v) {
					v = []byte("null")
				}
				answer(v)
			})
		}
	}
	h(nsp, ev, args, atts, ack)
}

// onBroadcastRequest runs a broadcast with acks of another server on this
// server's sockets, then answers with the client count (BROADCAST_CLIENT_COUNT)
// and every acknowledgement (BROADCAST_ACK, msgpack).
//
// loop.SocketIO.BroadcastWithAck returns once every client answered or the
// timeout passed, so the answers go out together at the end, acks first
// (the requester counts them whichever comes first). The local wait is cut
// short of the requester's timeout so that they arrive before it gives up.
func (a *Adapter) onBroadcastRequest(nsp string, r *request, atts [][]byte) {
	if r.RequestID == "" || a.ownRequest(r.RequestID) {
		return
	}
	id := r.RequestID
	a.broadcastWithAckLocal(nsp, r.Packet, r.Opts, atts, func(c *Codec, resps []loop.AckResponse, missing int) {
		for _, ar := range resps {
			msg, err := c.appendBroadcastAck(nil, id, firstArg(ar.Args))
			if err != nil {
				msg, _ = c.appendBroadcastAck(nil, id, nil)
			}
			a.enqueue(ResponseChannel(a.cfg.Key, nsp), msg, kindResponse)
		}
		a.respond(nsp, struct {
			Type        RequestType `json:"type"`
			RequestID   string      `json:"requestId"`
			ClientCount int         `json:"clientCount"`
		}{BroadcastClientCount, id, len(resps) + missing})
	})
}

// broadcastWithAckLocal runs another server's broadcast with acks (pkt:
// the packet {type, data, nsp}, binary values as placeholders for atts)
// on this server's sockets, on a goroutine of its own, and hands the
// acknowledgements and the number of clients that did not answer to
// answer, with a Codec to encode them.
//
// loop.SocketIO.BroadcastWithAck returns once every client answered or the
// timeout passed, so the answers go out together at the end. The local
// wait is cut short of the requester's timeout so that they arrive before
// it gives up.
func (a *Adapter) broadcastWithAckLocal(nsp string, pkt []byte, opts *requestOpts, atts [][]byte, answer func(c *Codec, resps []loop.AckResponse, missing int)) {
	var p packet
	if err := json.Unmarshal(pkt, &p); err != nil {
		a.malformed("broadcast request", nsp, err)
		return
	}
	ev, args, err := splitData(p.Data)
	if err != nil {
		a.malformed("broadcast request", nsp, err)
		return
	}
	b := &loop.Broadcast{Namespace: nsp, Local: true, Event: ev, Args: args, Attachments: atts}
	timeout := a.cfg.RequestTimeout
	if opts != nil {
		b.Rooms, b.Except = opts.Rooms, opts.Except
		if f := opts.Flags; f != nil {
			b.Volatile = f.Volatile
			if f.Timeout > 0 {
				timeout = time.Duration(f.Timeout * float64(time.Millisecond))
			}
		}
	}
	// Leave the answers time to travel: a tenth of the timeout, at most 200ms.
	timeout -= min(timeout/10, 200*time.Millisecond)
	go func() {
		resps, missing, err := a.local.BroadcastWithAck(b, timeout)
		if err != nil {
			return
		}
		c := a.codecs.Get().(*Codec)
		answer(c, resps, missing)
		a.codecs.Put(c)
	}()
}

// respond publishes v as JSON on the namespace's response channel.
func (a *Adapter) respond(nsp string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cluster: cannot encode response: " + err.Error())
	}
	a.enqueue(ResponseChannel(a.cfg.Key, nsp), b, kindResponse)
}

// toRemote describes a local socket as RedisAdapter's REMOTE_FETCH
// response does ({id, handshake, rooms, data}), with the handshake fields
// sioloop knows and socket.data holding userId.
func toRemote(s *loop.SocketInfo) remoteSocket {
	data := json.RawMessage("{}")
	if s.UserID != "" {
		data, _ = json.Marshal(map[string]string{"userId": s.UserID})
	}
	q := map[string]string{}
	if vals, err := url.ParseQuery(s.Query); err == nil {
		for k, v := range vals {
			q[k] = v[0]
		}
	}
	if s.Transport != "" && q["transport"] == "" {
		q["transport"] = s.Transport
	}
	hs := handshake{Address: s.Address, Headers: map[string]string{}, Query: q, Auth: map[string]any{}, Issued: s.Issued}
	if s.Issued > 0 {
		hs.Time = time.UnixMilli(s.Issued).UTC().Format(time.RFC1123)
	}
	return remoteSocket{
		ID:        s.ID,
		Handshake: hs,
		Rooms:     s.Rooms,
		Data:      data,
	}
}

// fromRemote is the inverse of toRemote for any server's answer: the
// address of the handshake, the transport of its query and socket.data.userId.
func fromRemote(nsp string, r *remoteSocket) loop.SocketInfo {
	info := loop.SocketInfo{ID: r.ID, Namespace: nsp, Rooms: r.Rooms, Address: r.Handshake.Address,
		Transport: r.Handshake.Query["transport"]}
	if info.Rooms == nil {
		info.Rooms = []string{}
	}
	var d struct {
		UserID any `json:"userId"`
	}
	if json.Unmarshal(r.Data, &d) == nil {
		if s, ok := d.UserID.(string); ok {
			info.UserID = s
		}
	}
	return info
}
