package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// ---------------------------------------------------------------- asking

// Reach says how far a cluster-wide operation got: Servers is the number
// of servers of the namespace (PUBSUB NUMSUB of its request channel, this
// one included; 0 when Redis could not be asked) and Answered how many of
// them, this one included, are in the result.
type Reach struct {
	Servers  int `json:"servers"`
	Answered int `json:"answered"`
}

// Complete reports whether every server answered.
func (r Reach) Complete() bool { return r.Servers > 0 && r.Answered >= r.Servers }

// pending is a request of ours waiting for responses.
type pending struct {
	mu    sync.Mutex
	resps []response
	kick  chan struct{}
}

func (p *pending) add(r response) {
	p.mu.Lock()
	p.resps = append(p.resps, r)
	p.mu.Unlock()
	p.signal()
}

func (p *pending) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// onResponse hands a response to the request of ours that waits for it.
func (a *Adapter) onResponse(payload []byte) {
	var r response
	if err := a.codec.parseResponse(payload, &r); err != nil {
		a.malformed("response", "", err)
		return
	}
	a.deliver(r)
}

// deliver hands r to the request of ours that waits for it, if any.
func (a *Adapter) deliver(r response) {
	a.mu.Lock()
	p := a.pending[r.RequestID]
	a.mu.Unlock()
	if p != nil {
		p.add(r)
	}
}

// ownRequest reports whether id is one of our requests in flight.
func (a *Adapter) ownRequest(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending[id] != nil
}

// ServerCount returns the number of servers of namespace nsp, this one
// included: PUBSUB NUMSUB of its request channel, as RedisAdapter.serverCount,
// or with Streams of its public channel, as RedisStreamsAdapter.serverCount.
func (a *Adapter) ServerCount(ctx context.Context, nsp string) (int, error) {
	if a.sh != nil {
		n, err := a.sh.serverCount(ctx, nsp)
		if err != nil {
			a.noteError("shardnumsub", err)
		}
		return n, err
	}
	ch := RequestChannel(a.cfg.Key, nsp)
	if a.st != nil {
		ch = publicChannel(a.cfg.Key, nsp)
	}
	n, err := numSub(ctx, a.rdb, ch)
	if err != nil {
		a.noteError("numsub", err)
	}
	return n, err
}

// numSub returns PUBSUB NUMSUB of ch. On a Redis Cluster a subscription
// lives on the one node the subscriber is connected to, so the counts of
// every node are summed, as @socket.io/redis-adapter 8.3 does for an
// ioredis Cluster (serverCount: PUBSUB NUMSUB on each of nodes()).
func numSub(ctx context.Context, rdb redis.UniversalClient, ch string) (int, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		res, err := rdb.PubSubNumSub(ctx, ch).Result()
		return int(res[ch]), err
	}
	var sum atomic.Int64
	err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		res, err := c.PubSubNumSub(ctx, ch).Result()
		sum.Add(res[ch])
		return err
	})
	return int(sum.Load()), err
}

// ask publishes a request with a fresh requestId (set by body) and
// collects responses until done says so, timeout passes or ctx ends. It
// returns the responses gathered and ErrTimeout if done never said so.
// body returns the message on the request channel of nsp (pub/sub); with
// Streams, ask is askMsg.
func (a *Adapter) ask(ctx context.Context, nsp string, timeout time.Duration, body func(id string) ([]byte, error), done func([]response) bool) ([]response, error) {
	return a.askMsg(ctx, timeout, func(id string) (outMsg, error) {
		b, err := body(id)
		return outMsg{channel: RequestChannel(a.cfg.Key, nsp), payload: b, kind: kindRequest}, err
	}, done)
}

// askMsg is ask for a body that makes the whole message.
func (a *Adapter) askMsg(ctx context.Context, timeout time.Duration, body func(id string) (outMsg, error), done func([]response) bool) ([]response, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	p := &pending{kick: make(chan struct{}, 1)}
	newReqID := newID
	if a.st != nil {
		newReqID = newHexID
	}
	var id string
	a.mu.Lock()
	for id = newReqID(); a.pending[id] != nil; id = newReqID() {
	}
	a.pending[id] = p
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, id)
		a.mu.Unlock()
	}()
	msg, err := body(id)
	if err != nil {
		return nil, err
	}
	a.enqueueMsg(msg)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		resps := p.resps
		p.mu.Unlock()
		if done(resps) {
			return resps, nil
		}
		select {
		case <-p.kick:
			if a.closed.Load() {
				return resps, ErrClosed
			}
		case <-timer.C:
			a.ctr.timeouts.Add(1)
			return resps, ErrTimeout
		case <-ctx.Done():
			return resps, ctx.Err()
		}
	}
}

// others returns the number of other servers of nsp to ask, and the Reach
// of an answer from this server alone.
func (a *Adapter) others(ctx context.Context, nsp string) (int, Reach, error) {
	n, err := a.ServerCount(ctx, nsp)
	if err != nil {
		return 0, Reach{Answered: 1}, ErrRedisDown
	}
	n = max(n, 1) // this server, even while its subscription is down
	return n - 1, Reach{Servers: n, Answered: 1}, nil
}

// jsonRequest returns a body function writing v with its requestId set by set.
func jsonRequest(v any, set func(id string)) func(string) ([]byte, error) {
	return func(id string) ([]byte, error) {
		set(id)
		return json.Marshal(v)
	}
}

// FetchSockets lists the sockets selected by t on every server of the
// cluster, as Node's fetchSockets(): this server's from loop, the others'
// through a REMOTE_FETCH request. On ErrRedisDown or ErrTimeout the
// sockets gathered so far are returned with the error.
func (a *Adapter) FetchSockets(ctx context.Context, t loop.Target) ([]loop.SocketInfo, Reach, error) {
	nsp := nsName(t.Namespace)
	local, err := a.local.FetchSockets(t)
	if err != nil {
		return nil, Reach{}, err
	}
	n, reach, err := a.others(ctx, nsp)
	if err != nil || n == 0 {
		return local, reach, err
	}
	var resps []response
	if a.st != nil {
		resps, err = a.askMsg(ctx, a.cfg.RequestTimeout, func(id string) (outMsg, error) {
			return a.st.fetchRequest(nsp, id, t)
		}, func(r []response) bool { return len(r) >= n })
	} else {
		req := struct {
			UID       string      `json:"uid"`
			RequestID string      `json:"requestId"`
			Type      RequestType `json:"type"`
			Opts      requestOpts `json:"opts"`
		}{UID: a.uid, Type: RemoteFetch, Opts: requestOpts{Rooms: t.Rooms, Except: t.Except}}
		resps, err = a.ask(ctx, nsp, a.cfg.RequestTimeout, jsonRequest(&req, func(id string) { req.RequestID = id }),
			func(r []response) bool { return len(r) >= n })
	}
	out := local
	for _, r := range resps {
		var list []remoteSocket
		if json.Unmarshal(r.Sockets, &list) != nil {
			continue
		}
		reach.Answered++
		for i := range list {
			out = append(out, fromRemote(nsp, &list[i]))
		}
	}
	return out, reach, err
}

// AllRooms lists the rooms of namespace nsp on every server (ALL_ROOMS),
// socket id rooms included, without duplicates, in no particular order.
// The Streams protocol has no such request: there it returns this
// server's rooms with ErrUnsupported.
func (a *Adapter) AllRooms(ctx context.Context, nsp string) ([]string, Reach, error) {
	nsp = nsName(nsp)
	local, err := a.local.AllRooms(nsp)
	if err != nil {
		return nil, Reach{}, err
	}
	if a.st != nil {
		return local, Reach{Answered: 1}, ErrUnsupported
	}
	n, reach, err := a.others(ctx, nsp)
	if err != nil || n == 0 {
		return local, reach, err
	}
	req := struct {
		UID       string      `json:"uid"`
		RequestID string      `json:"requestId"`
		Type      RequestType `json:"type"`
	}{UID: a.uid, Type: AllRooms}
	resps, err := a.ask(ctx, nsp, a.cfg.RequestTimeout, jsonRequest(&req, func(id string) { req.RequestID = id }),
		func(r []response) bool { return len(r) >= n })
	seen := make(map[string]bool, len(local))
	out := make([]string, 0, len(local))
	add := func(list []string) {
		for _, room := range list {
			if !seen[room] {
				seen[room] = true
				out = append(out, room)
			}
		}
	}
	add(local)
	for _, r := range resps {
		reach.Answered++
		add(r.Rooms)
	}
	return out, reach, err
}

// Join makes the sockets selected by t on every server join rooms: this
// server's at once (the count is theirs), the others' through a
// fire-and-forget REMOTE_JOIN, as Node's socketsJoin.
func (a *Adapter) Join(t loop.Target, rooms []string) (int, error) {
	n, err := a.local.Join(t, rooms)
	if err != nil {
		return n, err
	}
	a.publishOp(RemoteJoin, t, rooms, false)
	return n, nil
}

// Leave is Join for socketsLeave (REMOTE_LEAVE).
func (a *Adapter) Leave(t loop.Target, rooms []string) (int, error) {
	n, err := a.local.Leave(t, rooms)
	if err != nil {
		return n, err
	}
	a.publishOp(RemoteLeave, t, rooms, false)
	return n, nil
}

// Disconnect is Join for disconnectSockets(close) (REMOTE_DISCONNECT).
func (a *Adapter) Disconnect(t loop.Target, close bool) (int, error) {
	n, err := a.local.Disconnect(t, close)
	if err != nil {
		return n, err
	}
	a.publishOp(RemoteDisconnect, t, nil, close)
	return n, nil
}

// publishOp publishes a fire-and-forget REMOTE_JOIN, REMOTE_LEAVE or
// REMOTE_DISCONNECT in RedisAdapter's JSON shape.
func (a *Adapter) publishOp(typ RequestType, t loop.Target, rooms []string, close bool) {
	if a.st != nil {
		a.st.publishOp(typ, t, rooms, close)
		return
	}
	req := struct {
		UID   string      `json:"uid"`
		Type  RequestType `json:"type"`
		Opts  requestOpts `json:"opts"`
		Rooms *roomList   `json:"rooms,omitempty"`
		Close *bool       `json:"close,omitempty"`
	}{UID: a.uid, Type: typ, Opts: requestOpts{Rooms: t.Rooms, Except: t.Except}}
	if typ == RemoteDisconnect {
		req.Close = &close
	} else {
		rl := roomList(rooms)
		req.Rooms = &rl
	}
	b, _ := json.Marshal(&req)
	a.enqueue(RequestChannel(a.cfg.Key, nsName(t.Namespace)), b, kindRequest)
}

// ServerSideEmit sends event with args (JSON list content) to the other
// servers of nsp (SERVER_SIDE_EMIT); it returns at once.
func (a *Adapter) ServerSideEmit(nsp, event string, args []byte) error {
	data, err := eventData(event, args)
	if err != nil {
		return err
	}
	if a.st != nil {
		m, err := a.st.serverSideEmit(nsName(nsp), "", data)
		if err == nil {
			a.enqueueMsg(m)
		}
		return err
	}
	b, _ := json.Marshal(struct {
		UID  string          `json:"uid"`
		Type RequestType     `json:"type"`
		Data json.RawMessage `json:"data"`
	}{a.uid, ServerSideEmit, data})
	a.enqueue(RequestChannel(a.cfg.Key, nsName(nsp)), b, kindRequest)
	return nil
}

// ServerSideEmitWithAck sends event to the other servers of nsp and waits
// for each one's answer (serverSideEmitWithAck): the JSON values they
// acknowledged with, in arrival order.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, nsp, event string, args []byte) ([]json.RawMessage, Reach, error) {
	nsp = nsName(nsp)
	data, err := eventData(event, args)
	if err != nil {
		return nil, Reach{}, err
	}
	n, reach, err := a.others(ctx, nsp)
	if err != nil || n == 0 {
		return nil, reach, err
	}
	var resps []response
	if a.st != nil {
		resps, err = a.askMsg(ctx, a.cfg.RequestTimeout, func(id string) (outMsg, error) {
			return a.st.serverSideEmit(nsp, id, data)
		}, func(r []response) bool { return len(r) >= n })
	} else {
		req := struct {
			UID       string          `json:"uid"`
			RequestID string          `json:"requestId"`
			Type      RequestType     `json:"type"`
			Data      json.RawMessage `json:"data"`
		}{UID: a.uid, Type: ServerSideEmit, Data: data}
		resps, err = a.ask(ctx, nsp, a.cfg.RequestTimeout, jsonRequest(&req, func(id string) { req.RequestID = id }),
			func(r []response) bool { return len(r) >= n })
	}
	out := make([]json.RawMessage, 0, len(resps))
	for _, r := range resps {
		reach.Answered++
		out = append(out, r.Data)
	}
	return out, reach, err
}

// AckResult is one client's acknowledgement of a broadcast with acks: the
// first argument it acknowledged with, as Node's broadcast ack callback
// receives it (JSON, binary values as placeholders for Attachments).
type AckResult struct {
	// ID is the socket id for a socket of this server; the protocols do
	// not carry it for the others' ("").
	ID          string
	Value       json.RawMessage
	Attachments [][]byte
}

// BroadcastWithAck broadcasts b on every server of the cluster and waits
// up to timeout for the acknowledgement of every client it reached, as
// Node's io.timeout(ms).emitWithAck(). It returns the acknowledgements and
// the number of clients that received the broadcast; fewer acks than
// clients means some did not answer in time (or some server's count never
// came, see Reach).
func (a *Adapter) BroadcastWithAck(ctx context.Context, b *loop.Broadcast, timeout time.Duration) ([]AckResult, int, Reach, error) {
	nsp := nsName(b.Namespace)
	type localResult struct {
		resps   []loop.AckResponse
		missing int
		err     error
	}
	lc := make(chan localResult, 1)
	lb := *b
	lb.Local = true
	go func() {
		r, m, err := a.local.BroadcastWithAck(&lb, timeout)
		lc <- localResult{r, m, err}
	}()
	var acks []AckResult
	clients := 0
	n, reach, err := a.others(ctx, nsp)
	if err == nil && n > 0 {
		c := a.codecs.Get().(*Codec)
		body := func(id string) (outMsg, error) {
			if a.st != nil {
				return a.st.broadcastRequest(c, nsp, id, b, timeout.Milliseconds())
			}
			msg, err := c.appendBroadcastRequest(nil, a.uid, id, b, timeout.Milliseconds())
			return outMsg{channel: RequestChannel(a.cfg.Key, nsp), payload: msg, kind: kindRequest}, err
		}
		counts := func(rs []response) (servers, expected, got int) {
			for _, r := range rs {
				switch r.Type {
				case BroadcastClientCount:
					servers++
					expected += r.ClientCount
				case BroadcastAck:
					got++
				}
			}
			return
		}
		// The other servers answer a little before timeout (see
		// onBroadcastRequest); a Node server answers right at it.
		resps, e := a.askMsg(ctx, timeout+min(timeout/10, 200*time.Millisecond), body, func(rs []response) bool {
			servers, expected, got := counts(rs)
			return servers >= n && got >= expected
		})
		a.codecs.Put(c)
		servers, expected, _ := counts(resps)
		reach.Answered += servers
		clients += expected
		for _, r := range resps {
			if r.Type == BroadcastAck {
				acks = append(acks, AckResult{Value: r.Packet, Attachments: r.atts})
			}
		}
		if e != nil && !errors.Is(e, ErrTimeout) {
			err = e
		}
	}
	l := <-lc
	if l.err != nil {
		return nil, 0, reach, l.err
	}
	clients += len(l.resps) + l.missing
	for _, r := range l.resps {
		acks = append(acks, AckResult{ID: r.ID, Value: firstArg(r.Args)})
	}
	return acks, clients, reach, err
}

// eventData returns the JSON array [event, ...args].
func eventData(event string, args []byte) (json.RawMessage, error) {
	ev, _ := json.Marshal(event)
	data := append([]byte{'['}, ev...)
	if len(args) > 0 {
		data = append(append(data, ','), args...)
	}
	data = append(data, ']')
	if !json.Valid(data) {
		return nil, ErrInvalidJSON
	}
	return data, nil
}

func nsName(ns string) string {
	if ns == "" {
		return "/"
	}
	return ns
}
