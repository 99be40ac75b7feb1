package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// Subscription modes of the sharded protocol (Config.SubscriptionMode,
// the subscriptionMode option of createShardedAdapter).
const (
	// SubscribeStatic: every message of a namespace goes on its one
	// channel, "<key>#<nsp>#".
	SubscribeStatic = "static"
	// SubscribeDynamic: a broadcast to exactly one room (not a socket id)
	// goes on the room's channel, "<key>#<nsp>#<room>#", which only the
	// servers with a member of the room subscribe. The default.
	SubscribeDynamic = "dynamic"
	// SubscribeDynamicPrivate: as SubscribeDynamic, and a broadcast to one
	// socket id goes on that socket's own channel, which only its server
	// subscribes (one SSUBSCRIBE per socket, when it joins its namespace;
	// loop.SocketIO.PrivateRooms).
	SubscribeDynamicPrivate = "dynamic-private"
)

// sharded is the state of an Adapter that speaks the protocol of
// createShardedAdapter of @socket.io/redis-adapter 8.3
// (dist/sharded-adapter.js), Redis 7 sharded pub/sub. Its messages are
// socket.io-adapter 2.5's ClusterAdapter's, as with Streams (the
// Adapter's streams state builds and applies them), but every one goes
// through SPUBLISH:
//
//   - "<key>#<nsp>#": broadcasts, socketsJoin, socketsLeave,
//     disconnectSockets and the requests; every server SSUBSCRIBEs it,
//     and PUBSUB SHARDNUMSUB of it is the server count.
//   - "<key>#<nsp>#<uid>#": the responses to server uid's requests.
//   - "<key>#<nsp>#<room>#" (dynamic mode): the broadcasts without acks to
//     exactly that one room, unless the room is 20 characters long (a
//     socket id, looksLikeASocketId). A server SSUBSCRIBEs it while the
//     room has a member there (the "create-room" and "delete-room" events
//     of Node's adapter; loop.SocketIO.OnRoom and OnRoomRemoved here), so
//     a server without a member of the room receives nothing of it.
//
// A message is JSON ({type, data, uid, nsp}) unless its data holds
// binary values, then msgpack; Node reads either, as this adapter does
// (the requests built by the streams code are always msgpack).
//
// On a Redis Cluster a channel lives on the node of its hash slot, and
// SSUBSCRIBE and go-redis's resubscription take channels of one slot
// only, so there is one subscription connection per hash slot in use
// (slotSubs); on one Redis server, the Adapter's one PubSub.
type sharded struct {
	a       *Adapter
	dynamic bool // "dynamic" or "dynamic-private": rooms have channels
	private bool // "dynamic-private": socket id rooms too

	mu    sync.Mutex
	rooms map[nsRoom]int // reactors on which the room has members (OnRoom minus OnRoomRemoved)

	// slotSubs are the subscriptions on a Redis Cluster, by hash slot,
	// under subMu (not mu, which reactors take): the goroutine that
	// subscribes (Start, then subscribeLoop) adds to it, Close closes them.
	subMu    sync.Mutex
	slotSubs map[uint16]*redis.PubSub
}

type nsRoom struct{ nsp, room string }

func newSharded(a *Adapter) *sharded {
	mode := a.cfg.SubscriptionMode
	return &sharded{a: a, dynamic: mode == SubscribeDynamic || mode == SubscribeDynamicPrivate, private: mode == SubscribeDynamicPrivate,
		rooms: make(map[nsRoom]int), slotSubs: make(map[uint16]*redis.PubSub)}
}

// roomChannel returns the dynamic channel of room in nsp.
func (s *sharded) roomChannel(nsp, room string) string {
	return publicChannel(s.a.cfg.Key, nsp) + room + "#"
}

// looksLikeSocketID is the sharded adapter's looksLikeASocketId: a
// 20-character room is taken for a socket id, whose broadcasts go on the
// namespace's channel in dynamic mode.
func looksLikeSocketID(room string) bool { return len(room) == 20 }

// OnRoom is loop.SocketIO's OnRoom hook: in dynamic mode the room's
// channel is subscribed when the room first has a member on this server.
// It runs on a reactor and never blocks.
func (a *Adapter) OnRoom(nsp, room string) {
	if s := a.sh; s != nil && s.dynamic {
		s.mu.Lock()
		s.rooms[nsRoom{nsp, room}]++
		first := s.rooms[nsRoom{nsp, room}] == 1
		s.mu.Unlock()
		if first {
			a.queueChannel(nsp, s.roomChannel(nsp, room), true)
		}
	}
}

// OnRoomRemoved is loop.SocketIO's OnRoomRemoved hook: in dynamic mode
// the room's channel is unsubscribed once the room has no member left on
// this server. It runs on a reactor and never blocks.
func (a *Adapter) OnRoomRemoved(nsp, room string) {
	if s := a.sh; s != nil && s.dynamic {
		k := nsRoom{nsp, room}
		s.mu.Lock()
		s.rooms[k]--
		last := s.rooms[k] <= 0
		if last {
			delete(s.rooms, k)
		}
		s.mu.Unlock()
		if last {
			a.queueChannel(nsp, s.roomChannel(nsp, room), false)
		}
	}
}

// channel returns the channel of a broadcast without acks to rooms in
// nsp: computeChannel of the sharded adapter.
func (s *sharded) channel(nsp string, rooms []string) string {
	if s.dynamic && len(rooms) == 1 && (s.private || !looksLikeSocketID(rooms[0])) {
		return s.roomChannel(nsp, rooms[0])
	}
	return publicChannel(s.a.cfg.Key, nsp)
}

// publish queues the SPUBLISH of broadcast b (the loop.Adapter hook).
func (s *sharded) publish(b *loop.Broadcast) {
	a := s.a
	c := a.codecs.Get().(*Codec)
	data, err := c.appendBroadcastData(nil, b, "", 0)
	var msg []byte
	if err == nil {
		msg, err = s.message(c, MsgBroadcast, data, b.Attachments, nsName(b.Namespace))
	}
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing broadcast", b.Event, err)
		return
	}
	a.enqueueMsg(outMsg{channel: s.channel(nsName(b.Namespace), b.Rooms), payload: msg, kind: kindBroadcast})
}

// message returns the message {type, data, uid, nsp} as the sharded
// adapter's encode writes it: JSON (JSON.stringify of the object made by
// ClusterAdapter.publish: type, data, uid, nsp in that order), or msgpack
// when atts holds binary values.
func (s *sharded) message(c *Codec, typ MessageType, data []byte, atts [][]byte, nsp string) ([]byte, error) {
	if len(atts) > 0 {
		return c.appendClusterMessage(nil, typ, data, atts, s.a.uid, nsp)
	}
	return marshal(struct {
		Type MessageType     `json:"type"`
		Data json.RawMessage `json:"data"`
		UID  string          `json:"uid"`
		Nsp  string          `json:"nsp"`
	}{typ, data, s.a.uid, nsp}), nil
}

// fromEntry turns a stream entry the streams code made (socketsJoin,
// socketsLeave, disconnectSockets: JSON data, never binary) into the
// message on the namespace's channel.
func (s *sharded) fromEntry(m outMsg) outMsg {
	e := m.entry
	typ, _ := strconv.Atoi(e.typ)
	c := s.a.codecs.Get().(*Codec)
	msg, _ := s.message(c, MessageType(typ), []byte(e.data), nil, e.nsp)
	s.a.codecs.Put(c)
	m.channel, m.payload, m.entry = publicChannel(s.a.cfg.Key, e.nsp), msg, nil
	return m
}

// onMessage handles a message of any of the channels (on the dispatch
// goroutine): JSON when it starts with '{', else msgpack, as
// onRawMessage.
func (s *sharded) onMessage(ch string, payload []byte) {
	a := s.a
	if len(payload) == 0 || payload[0] != '{' {
		a.st.onPubSub(ch, payload)
		return
	}
	var m clusterMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		a.malformed("message", ch, ErrInvalidJSON)
		return
	}
	if m.UID == a.uid || !a.hasNamespace(m.Nsp) {
		return
	}
	a.st.apply(&m, nil, ch, "")
}

// serverCount returns PUBSUB SHARDNUMSUB of nsp's channel, asked of the
// node of its slot on a Redis Cluster.
func (s *sharded) serverCount(ctx context.Context, nsp string) (int, error) {
	return s.numSub(ctx, publicChannel(s.a.cfg.Key, nsp))
}

// numSub returns PUBSUB SHARDNUMSUB of ch.
func (s *sharded) numSub(ctx context.Context, ch string) (int, error) {
	var c redis.UniversalClient = s.a.rdb
	if cc, ok := c.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, ch)
		if err != nil {
			return 0, err
		}
		c = node
	}
	res, err := c.PubSubShardNumSub(ctx, ch).Result()
	return int(res[ch]), err
}

// subscribe SSUBSCRIBEs (add) or SUNSUBSCRIBEs chans: on the Adapter's
// PubSub on one server, on the connection of each channel's hash slot on
// a Redis Cluster. Subscriber goroutine only.
func (s *sharded) subscribe(ctx context.Context, chans []string, add bool) error {
	a := s.a
	cc, ok := a.rdb.(*redis.ClusterClient)
	if !ok {
		if add {
			return a.ps.SSubscribe(ctx, chans...)
		}
		return a.ps.SUnsubscribe(ctx, chans...)
	}
	var first error
	for _, ch := range chans {
		slot := hashSlot(ch)
		var err error
		s.subMu.Lock()
		ps := s.slotSubs[slot]
		if ps == nil && add && a.ctx.Err() == nil {
			// Subscribe before anything reads: a read first would connect
			// to a random node, which answers the SSUBSCRIBE with MOVED
			// (a reply, not a broken connection: no reconnection). Once
			// the channel is recorded go-redis reconnects to its slot's
			// node.
			ps = cc.SSubscribe(a.ctx)
			err = ps.SSubscribe(ctx, ch)
			s.slotSubs[slot] = ps
			a.wg.Add(1)
			go s.forward(ps)
			s.subMu.Unlock()
		} else {
			s.subMu.Unlock()
			switch {
			case ps == nil:
				continue
			case add:
				err = ps.SSubscribe(ctx, ch)
			default:
				err = ps.SUnsubscribe(ctx, ch)
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("cluster: SSUBSCRIBE %s (slot %d): %w", ch, slot, err)
		}
	}
	if first == nil && add {
		// The confirmations come on the slots' connections, which
		// receiveLoop does not read: every channel asked is subscribed.
		a.setSubUp(true, nil)
	}
	return first
}

// forward hands the messages of one slot's subscription to the
// dispatcher until the adapter closes. go-redis's Channel reconnects and
// subscribes again by itself, to the node that holds the slot then.
func (s *sharded) forward(ps *redis.PubSub) {
	a := s.a
	defer a.wg.Done()
	ch := ps.Channel(redis.WithChannelSize(4096))
	for {
		select {
		case <-a.ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			select {
			case a.in <- m:
			case <-a.ctx.Done():
				return
			}
		}
	}
}

// close closes the slot subscriptions.
func (s *sharded) close() {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, ps := range s.slotSubs {
		_ = ps.Close()
	}
}

// CheckVersion returns an error when Redis answers and is older than 7,
// which has no sharded pub/sub (SPUBLISH, SSUBSCRIBE); nil when it is
// recent enough, cannot be asked, or the adapter does not use sharded
// pub/sub. It asks INFO server of one node, within ctx.
func (a *Adapter) CheckVersion(ctx context.Context) error {
	if a.sh == nil {
		return nil
	}
	var info string
	var err error
	if cc, ok := a.rdb.(*redis.ClusterClient); ok {
		var node *redis.Client
		if node, err = cc.MasterForKey(ctx, publicChannel(a.cfg.Key, "/")); err == nil {
			info, err = node.Info(ctx, "server").Result()
		}
	} else {
		info, err = a.rdb.Info(ctx, "server").Result()
	}
	if err != nil {
		return nil
	}
	return checkVersionInfo(info)
}

// checkVersionInfo returns ErrNoShardedPubSub when INFO server's
// redis_version is older than 7.
func checkVersionInfo(info string) error {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			if n, err := strconv.Atoi(major); err == nil && n < 7 {
				return fmt.Errorf("%w: Redis %s", ErrNoShardedPubSub, v)
			}
		}
	}
	return nil
}

// hashSlot returns the Redis Cluster hash slot of key: CRC16 (XMODEM) of
// key, or of its hash tag (the part between the first "{" and the next
// "}" when not empty), modulo 16384 (Redis Cluster specification, "Keys
// distribution model").
func hashSlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
