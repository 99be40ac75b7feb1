package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// The reading of the stream, as RedisStreamsAdapter's defaults.
const (
	streamsReadCount = 100             // XREAD COUNT (readCount)
	streamsBlock     = 5 * time.Second // XREAD BLOCK (blockTimeInMs)
)

// streamsLagEvery is how often the reader asks XINFO STREAM how far
// behind it is (a variable for the tests; each adapter copies it when it
// is made).
var streamsLagEvery = 5 * time.Second

// streams is the state of an Adapter that speaks the protocol of
// @socket.io/redis-streams-adapter 0.3.1 (dist/adapter.js), which extends
// socket.io-adapter 2.5's ClusterAdapter:
//
//   - Broadcasts without acks and socketsJoin, socketsLeave and
//     disconnectSockets are XADDed to one stream (REDIS_STREAM_NAME,
//     MAXLEN ~ REDIS_STREAM_MAXLEN), fields uid, nsp, type, data.
//   - The ephemeral messages (broadcast with acks, fetchSockets,
//     serverSideEmit) are msgpack maps {type, data, uid, nsp} PUBLISHed on
//     "<key>#<nsp>#"; responses go to the requester's "<key>#<nsp>#<uid>#".
//     Every server SUBSCRIBEs both for each namespace, and PUBSUB NUMSUB of
//     the first is the server count.
//
// One reader goroutine (readLoop) XREADs the stream from the last ID it
// read, so a replica that loses Redis resumes where it stopped: what
// reached the stream meanwhile is delivered once Redis answers again, in
// order, once. The pub/sub half runs on the Adapter's goroutines.
type streams struct {
	a    *Adapter
	rdb  redis.UniversalClient // the reader's own connection, as Node's duplicate client
	name string
	key  string

	codec Codec  // the reader's
	last  string // last entry ID read; "" until the start position is known (reader only)

	up       atomic.Bool
	read     atomic.Uint64 // entries read
	errors   atomic.Uint64 // XREAD (and XINFO) failures
	lag      atomic.Int64  // entries behind, -1 while unknown
	anchor   int64         // entries-added - read when last caught up (reader only)
	anchored bool
	lagAt    time.Time
	lagEvery time.Duration
}

func newStreams(a *Adapter, rdb redis.UniversalClient) *streams {
	s := &streams{a: a, rdb: rdb, name: a.cfg.Stream, key: a.cfg.Key, lagEvery: streamsLagEvery}
	s.lag.Store(-1)
	return s
}

// channels returns what a server subscribes for nsp.
func (s *streams) channels(nsp string) []string {
	return []string{publicChannel(s.key, nsp), privateChannel(s.key, nsp, s.a.uid)}
}

// ---------------------------------------------------------------- reading the stream

// readLoop reads the stream from where it stopped, forever: XREAD BLOCK
// from the last ID read, never "$" (the start position is the last entry
// when Redis first answers, read with XREVRANGE). A failure is counted and
// retried with backoff from the same ID.
func (s *streams) readLoop() {
	defer s.a.wg.Done()
	ctx := s.a.ctx
	backoff := 100 * time.Millisecond
	fail := func(op string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		s.errors.Add(1)
		s.a.noteError(op, err)
		if s.up.Swap(false) {
			s.a.log.Warn("redis streams adapter: cannot read the stream, retrying from the last entry read", "stream", s.name, "last", s.last, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		return true
	}
	for ctx.Err() == nil {
		if s.last == "" {
			id, err := s.startID(ctx)
			if err != nil {
				if !fail("xrevrange", err) {
					return
				}
				continue
			}
			s.last = id
			if ss := s.a.ss; ss != nil {
				ss.start(id)
			}
		}
		block := streamsBlock
		if !s.up.Load() {
			// Not known to be reachable: a read that does not block, so
			// that Up turns true as soon as Redis answers.
			block = -1
		}
		res, err := s.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{s.name, s.last},
			Count:   streamsReadCount,
			Block:   block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if !fail("xread", err) {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		if !s.up.Swap(true) {
			s.a.log.Info("redis streams adapter reading", "stream", s.name, "from", s.last)
		}
		for _, st := range res {
			for i := range st.Messages {
				x := &st.Messages[i]
				s.last = x.ID
				s.read.Add(1)
				if ss := s.a.ss; ss != nil {
					uid, _ := x.Values["uid"].(string)
					ss.reached(x.ID, uid == s.a.uid)
				}
				s.onEntry(x)
			}
		}
		if time.Since(s.lagAt) >= s.lagEvery {
			s.measureLag(ctx)
		}
	}
}

// startID returns the ID of the stream's last entry, or "0-0" when it has
// none: reading starts after it.
func (s *streams) startID(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.name, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// measureLag sets the lag from XINFO STREAM's entries-added (Redis ≥ 7):
// when the last ID read is the last generated one the reader is caught
// up, and entries-added minus the entries read is the anchor the lag is
// counted from later.
func (s *streams) measureLag(ctx context.Context) {
	s.lagAt = time.Now()
	info, err := s.rdb.XInfoStream(ctx, s.name).Result()
	if err != nil {
		if !strings.Contains(err.Error(), "no such key") {
			s.errors.Add(1)
		}
		return
	}
	if info.EntriesAdded == 0 {
		return // Redis < 7: unknown
	}
	read := int64(s.read.Load())
	if info.LastGeneratedID == s.last {
		s.anchor, s.anchored = info.EntriesAdded-read, true
	}
	if s.anchored {
		s.lag.Store(max(0, info.EntriesAdded-s.anchor-read))
	}
}

// onEntry applies one stream entry of another server. Entries of this
// server, of namespaces it does not serve and without nsp are skipped, as
// by Node's reader and ClusterAdapter.onMessage; malformed ones are counted.
func (s *streams) onEntry(x *redis.XMessage) {
	a := s.a
	field := func(k string) string { v, _ := x.Values[k].(string); return v }
	if field("uid") == a.uid || field("nsp") == "" {
		return // Node's reader skips an entry without nsp too
	}
	var m clusterMessage
	atts, err := s.codec.ParseEntry(field("uid"), field("nsp"), field("type"), field("data"), &m)
	if err != nil {
		a.malformed("stream entry", x.ID, err)
		return
	}
	if !a.hasNamespace(m.Nsp) {
		return
	}
	s.apply(&m, atts, x.ID, x.ID)
}

// ---------------------------------------------------------------- pub/sub

// onPubSub handles a message on a public or private channel (on the
// dispatch goroutine): msgpack {type, data, uid, nsp}.
func (s *streams) onPubSub(ch string, payload []byte) {
	a := s.a
	var m clusterMessage
	atts, err := a.codec.parseClusterMessage(payload, &m)
	if err != nil {
		a.malformed("message", ch, err)
		return
	}
	if m.UID == a.uid || !a.hasNamespace(m.Nsp) {
		return
	}
	s.apply(&m, atts, ch, "")
}

// apply handles a message of another server, from the stream or pub/sub,
// as ClusterAdapter.onMessage and onResponse do. where names the entry ID
// or channel for the log; offset is the entry ID of a stream entry, the
// offset of its event for connection state recovery.
func (s *streams) apply(m *clusterMessage, atts [][]byte, where, offset string) {
	a := s.a
	var d clusterData
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &d); err != nil {
			a.malformed("message data", where, ErrInvalidJSON)
			return
		}
	}
	nsp := m.Nsp
	target := loop.Target{Namespace: nsp}
	if d.Opts != nil {
		target.Rooms, target.Except = d.Opts.Rooms, d.Opts.Except
	}
	switch m.Type {
	case MsgInitialHeartbeat, MsgHeartbeat, MsgAdapterClose:
		// ClusterAdapterWithHeartbeat's (other adapters on the same
		// channels): nothing to do here.
	case MsgBroadcast:
		if d.RequestID != "" {
			a.ctr.received[kindRequest].Add(1)
			s.onBroadcastRequest(m, &d, atts)
			return
		}
		a.ctr.received[kindBroadcast].Add(1)
		var p packet
		if err := json.Unmarshal(d.Packet, &p); err != nil || (p.Type != packetEvent && p.Type != packetBinaryEvent) {
			a.malformed("broadcast", where, ErrNotBroadcast)
			return
		}
		ev, args, err := splitData(p.Data)
		if err != nil {
			a.malformed("broadcast", where, err)
			return
		}
		b := loop.Broadcast{Namespace: nsp, Rooms: target.Rooms, Except: target.Except, Local: true,
			Event: ev, Args: args, Attachments: atts, Offset: offset}
		if d.Opts != nil && d.Opts.Flags != nil {
			b.Volatile = d.Opts.Flags.Volatile
		}
		if _, err := a.local.Broadcast(&b); err != nil && !errors.Is(err, loop.ErrServerClosed) {
			a.malformed("broadcast", where, err)
		}
	case MsgSocketsJoin:
		a.ctr.received[kindRequest].Add(1)
		_, _ = a.local.Join(target, d.Rooms)
	case MsgSocketsLeave:
		a.ctr.received[kindRequest].Add(1)
		_, _ = a.local.Leave(target, d.Rooms)
	case MsgDisconnectSockets:
		a.ctr.received[kindRequest].Add(1)
		_, _ = a.local.Disconnect(target, d.Close)
	case MsgFetchSockets:
		a.ctr.received[kindRequest].Add(1)
		if d.RequestID == "" {
			return
		}
		s.respond(nsp, m.UID, MsgFetchSocketsResponse, marshal(struct {
			RequestID string         `json:"requestId"`
			Sockets   []remoteSocket `json:"sockets"`
		}{d.RequestID, a.localSockets(target)}), nil)
	case MsgServerSideEmit:
		a.ctr.received[kindRequest].Add(1)
		var answer func([]byte)
		if id, to := d.RequestID, m.UID; id != "" {
			answer = func(v []byte) {
				s.respond(nsp, to, MsgServerSideEmitResponse, marshal(struct {
					RequestID string          `json:"requestId"`
					Packet    json.RawMessage `json:"packet"`
				}{id, v}), nil)
			}
		}
		a.serverSideEmitLocal(nsp, d.Packet, atts, answer)
	case MsgFetchSocketsResponse, MsgServerSideEmitResponse, MsgBroadcastClientCount, MsgBroadcastAck:
		a.ctr.received[kindResponse].Add(1)
		r := response{RequestID: d.RequestID, Sockets: d.Sockets, ClientCount: d.ClientCount, atts: atts}
		switch m.Type {
		case MsgServerSideEmitResponse:
			r.Type, r.Data = ServerSideEmit, d.Packet
		case MsgBroadcastClientCount:
			r.Type = BroadcastClientCount
		case MsgBroadcastAck:
			r.Type, r.Packet = BroadcastAck, d.Packet
		case MsgFetchSocketsResponse:
			r.Type = RemoteFetch
			if len(r.Sockets) == 0 {
				r.Sockets = json.RawMessage("[]")
			}
		}
		a.deliver(r)
	default:
		a.malformed("message", where, errUnknownType(m.Type))
	}
}

// errUnknownType is the error logged for a message type no adapter sends.
func errUnknownType(t MessageType) error {
	return errors.New("cluster: unknown message type " + strconv.Itoa(int(t)))
}

// onBroadcastRequest runs another server's broadcast with acks and
// answers BROADCAST_ACK for each acknowledgement, then
// BROADCAST_CLIENT_COUNT (Node's requester counts them in either order).
func (s *streams) onBroadcastRequest(m *clusterMessage, d *clusterData, atts [][]byte) {
	a := s.a
	if a.ownRequest(d.RequestID) {
		return
	}
	nsp, to, id := m.Nsp, m.UID, d.RequestID
	a.broadcastWithAckLocal(nsp, d.Packet, d.Opts, atts, func(c *Codec, resps []loop.AckResponse, missing int) {
		for _, ar := range resps {
			v := firstArg(ar.Args)
			if n, err := c.scanList(v, 0); err != nil || n != 1 {
				// No value, or binary values of the client, which the
				// pub/sub protocol drops too: answer null.
				v = []byte("null")
			}
			s.respond(nsp, to, MsgBroadcastAck, marshal(struct {
				RequestID string          `json:"requestId"`
				Packet    json.RawMessage `json:"packet"`
			}{id, v}), nil)
		}
		s.respond(nsp, to, MsgBroadcastClientCount, marshal(struct {
			RequestID   string `json:"requestId"`
			ClientCount int    `json:"clientCount"`
		}{id, len(resps) + missing}), nil)
	})
}

// respond publishes a response (data: JSON) to server to's private channel.
func (s *streams) respond(nsp, to string, typ MessageType, data []byte, atts [][]byte) {
	a := s.a
	c := a.codecs.Get().(*Codec)
	msg, err := c.appendClusterMessage(nil, typ, data, atts, a.uid, nsp)
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing response", nsp, err)
		return
	}
	a.enqueue(privateChannel(s.key, nsp, to), msg, kindResponse)
}

// ---------------------------------------------------------------- publishing

// publish queues the XADD of broadcast b (the loop.Adapter hook).
func (s *streams) publish(b *loop.Broadcast) {
	a := s.a
	c := a.codecs.Get().(*Codec)
	data, err := c.AppendEntryData(b)
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing broadcast", b.Event, err)
		return
	}
	a.enqueueMsg(outMsg{channel: s.name, kind: kindBroadcast,
		entry: &entry{uid: a.uid, nsp: nsName(b.Namespace), typ: strconv.Itoa(int(MsgBroadcast)), data: data}})
}

// publishOp queues the XADD of SOCKETS_JOIN, SOCKETS_LEAVE or
// DISCONNECT_SOCKETS for the other servers.
func (s *streams) publishOp(typ RequestType, t loop.Target, rooms []string, close bool) {
	opts := streamsOpts{Rooms: t.Rooms, Except: t.Except}
	var mt MessageType
	var data []byte
	switch typ {
	case RemoteJoin, RemoteLeave:
		mt = MsgSocketsJoin
		if typ == RemoteLeave {
			mt = MsgSocketsLeave
		}
		data = marshal(struct {
			Opts  streamsOpts `json:"opts"`
			Rooms roomList    `json:"rooms"`
		}{opts, rooms})
	default:
		mt = MsgDisconnectSockets
		data = marshal(struct {
			Opts  streamsOpts `json:"opts"`
			Close bool        `json:"close"`
		}{opts, close})
	}
	s.a.enqueueMsg(outMsg{channel: s.name, kind: kindRequest,
		entry: &entry{uid: s.a.uid, nsp: nsName(t.Namespace), typ: strconv.Itoa(int(mt)), data: string(data)}})
}

// ephemeral returns the pub/sub message of type typ with data (JSON,
// placeholders for atts) on nsp's public channel.
func (s *streams) ephemeral(nsp string, typ MessageType, data []byte, atts [][]byte) (outMsg, error) {
	c := s.a.codecs.Get().(*Codec)
	msg, err := c.appendClusterMessage(nil, typ, data, atts, s.a.uid, nsp)
	s.a.codecs.Put(c)
	return outMsg{channel: publicChannel(s.key, nsp), payload: msg, kind: kindRequest}, err
}

// fetchRequest returns the FETCH_SOCKETS request id for target t.
func (s *streams) fetchRequest(nsp, id string, t loop.Target) (outMsg, error) {
	return s.ephemeral(nsp, MsgFetchSockets, marshal(struct {
		Opts      streamsOpts `json:"opts"`
		RequestID string      `json:"requestId"`
	}{streamsOpts{Rooms: t.Rooms, Except: t.Except}, id}), nil)
}

// serverSideEmit returns the SERVER_SIDE_EMIT of data ([event, ...args]),
// waiting for answers when id is set.
func (s *streams) serverSideEmit(nsp, id string, data []byte) (outMsg, error) {
	return s.ephemeral(nsp, MsgServerSideEmit, marshal(struct {
		RequestID string          `json:"requestId,omitempty"`
		Packet    json.RawMessage `json:"packet"`
	}{id, data}), nil)
}

// broadcastRequest returns the BROADCAST with requestId of a broadcast
// with acks.
func (s *streams) broadcastRequest(c *Codec, nsp, id string, b *loop.Broadcast, timeoutMS int64) (outMsg, error) {
	data, err := c.appendBroadcastData(nil, b, id, timeoutMS)
	if err != nil {
		return outMsg{}, err
	}
	return s.ephemeral(nsp, MsgBroadcast, data, b.Attachments)
}
