package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// Connection state recovery across servers, as
// @socket.io/redis-streams-adapter 0.3.1 does it (dist/adapter.js
// persistSession, restoreSession), with the Adapter as the
// loop.SessionStore of its SocketIO:
//
//   - Offsets are stream entry IDs: a replayable event of this server is
//     XADDed through the publish queue and delivered once its ID is known
//     (Sequence); another server's entry is delivered with its own ID.
//   - A session is the base64 of the msgpack map {sid, pid, rooms, data}
//     at "sio:session:<pid>", SET with PX the window on a recoverable
//     disconnect, as Node. Beyond Node (socketio/socket.io-redis-streams-adapter#27),
//     it is also SET when the socket connects and when its rooms change,
//     with PX twice the window, and every live session is SET again every
//     half window: a server killed without a drain leaves sessions that
//     live at least the window after it died. A socket that leaves for good
//     has its key deleted. The writes are coalesced by pid and pipelined by
//     one goroutine (saveLoop) every sessionSaveEvery.
//   - A restore reads and deletes the session (MULTI GET DEL, as Node's
//     GETDEL for Redis < 6.2) and checks that the offset is still in the
//     stream (XRANGE offset offset), then walks the stream after it with
//     XRANGE, keeping the broadcasts (type 3) of the namespace that the
//     session's rooms received (shouldIncludePacket). Volatile broadcasts
//     are skipped (Node replays them; they never carried an offset).

// SessionKeyPrefix is the key prefix of the sessions (sessionKeyPrefix).
const SessionKeyPrefix = "sio:session:"

// Bounds of a restore.
const (
	// RestoreTimeout bounds a restore: past it, or at once while Redis is
	// known to be down, the client gets a fresh session.
	RestoreTimeout = 2 * time.Second
	// restorePage is the XRANGE COUNT of the walk, restoreMaxPages the most
	// pages (Node: RESTORE_SESSION_MAX_XRANGE_CALLS, 100, without COUNT).
	restorePage     = 1000
	restoreMaxPages = 100
	// maxRestores bounds the restores in progress at once: after a drain
	// thousands of clients come back together; the others wait for a
	// turn within RestoreTimeout.
	maxRestores = 64
)

// sessionSaveEvery is how often the saved sessions are written (a
// variable for the tests).
var sessionSaveEvery = 20 * time.Millisecond

// Why a restore failed, the index of Stats.SessionsFailed.
const (
	restoreNotFound    = iota // no session with that pid
	restoreBadOffset          // the offset is not <ms>-<seq>
	restoreOffsetGone         // the offset is not in the stream (trimmed, or never there)
	restoreBadSession         // the session does not decode
	restoreUnavailable        // Redis down or too slow
	restoreReasons
)

// RestoreFailureNames name the reasons of Stats.SessionsFailed, by index.
var RestoreFailureNames = [restoreReasons]string{"not_found", "bad_offset", "offset_not_found", "bad_session", "redis_unavailable"}

// sessions is the session store of an Adapter with Streams.
type sessions struct {
	a      *Adapter
	window time.Duration

	mu    sync.Mutex
	live  map[string]string // pid → blob of the connected sockets' sessions
	dirty map[string]sessOp // pid → the write to make
	kick  chan struct{}
	turns chan struct{} // maxRestores

	// The order of this server's events (ownorder): its XADDs, by ID,
	// that the reader has not reached yet.
	omu      sync.Mutex
	own      []ownEntry
	pos      uint64 // packed ID of the last entry the reader reached
	posKnown bool
	ownKick  chan struct{}

	persisted, restored, saveErrors atomic.Uint64
	failed                          [restoreReasons]atomic.Uint64
}

// sessOp is a pending write of one session key: SET blob PX px, or DEL
// when blob is "".
type sessOp struct {
	blob string
	px   time.Duration
	at   time.Time
}

func newSessions(a *Adapter, window time.Duration) *sessions {
	return &sessions{a: a, window: window, live: make(map[string]string), dirty: make(map[string]sessOp),
		kick: make(chan struct{}, 1), ownKick: make(chan struct{}, 1), turns: make(chan struct{}, maxRestores)}
}

// sessionData is what a session's msgpack map holds, as Node's
// Socket._onclose builds it: {sid, pid, rooms, data}. socket.data holds
// userId, as for fetchSockets.
type sessionData struct {
	SID   string          `json:"sid"`
	PID   string          `json:"pid"`
	Rooms []string        `json:"rooms"`
	Data  json.RawMessage `json:"data"`
}

// encodeSession returns the value of a session key: base64 of msgpack.
func (c *Codec) encodeSession(s *loop.StoredSession) (string, error) {
	data := json.RawMessage("{}")
	if s.UserID != "" {
		data = marshal(map[string]string{"userId": s.UserID})
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	mp, err := c.AppendMsgpack(nil, marshal(sessionData{SID: s.ID, PID: s.PID, Rooms: rooms, Data: data}), nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(mp), nil
}

// decodeSession reads the value of a session key, Node's or ours.
func (c *Codec) decodeSession(v string) (*loop.StoredSession, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, ErrMsgpack
	}
	js, _, n, err := c.AppendJSON(nil, raw, nil)
	if err != nil {
		return nil, err
	}
	if n != len(raw) {
		return nil, ErrMsgpack
	}
	var d sessionData
	if err := json.Unmarshal(js, &d); err != nil || d.SID == "" || d.PID == "" {
		return nil, ErrInvalidJSON
	}
	s := &loop.StoredSession{ID: d.SID, PID: d.PID, Rooms: d.Rooms}
	var u struct {
		UserID any `json:"userId"`
	}
	if json.Unmarshal(d.Data, &u) == nil {
		s.UserID, _ = u.UserID.(string)
	}
	return s, nil
}

// ---------------------------------------------------------------- loop.SessionStore

// Sequence implements loop.SessionStore: it queues the XADD of b and has
// the publisher call deliver with the entry's ID. While Redis is known to
// be unreachable deliver is called at once without offset (as Node
// delivers when its XADD fails), and the XADD still waits for Redis, for
// the other servers, up to PublishRetry.
func (a *Adapter) Sequence(b *loop.Broadcast, deliver func(offset string)) {
	if a.closed.Load() || a.st == nil {
		deliver("")
		return
	}
	c := a.codecs.Get().(*Codec)
	data, err := c.AppendEntryData(b)
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing broadcast", b.Event, err)
		deliver("")
		return
	}
	m := outMsg{channel: a.st.name, kind: kindBroadcast,
		entry: &entry{uid: a.uid, nsp: nsName(b.Namespace), typ: strconv.Itoa(int(MsgBroadcast)), data: data}}
	if a.Up() {
		m.deliver = deliver
	} else {
		deliver("")
	}
	a.enqueueMsg(m)
}

// Save implements loop.SessionStore: the session is written by the next
// round of saveLoop.
func (a *Adapter) Save(s *loop.StoredSession) {
	ss := a.ss
	if ss == nil {
		return
	}
	c := a.codecs.Get().(*Codec)
	blob, err := c.encodeSession(s)
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing session", s.PID, err)
		return
	}
	op := sessOp{blob: blob, px: ss.window, at: time.Now()}
	ss.mu.Lock()
	if s.Disconnected {
		delete(ss.live, s.PID)
	} else {
		ss.live[s.PID] = blob
		op.px = 2 * ss.window
	}
	ss.dirty[s.PID] = op
	ss.mu.Unlock()
	ss.poke()
}

// Forget implements loop.SessionStore: the session's key is deleted.
func (a *Adapter) Forget(pid string) {
	ss := a.ss
	if ss == nil {
		return
	}
	ss.mu.Lock()
	delete(ss.live, pid)
	ss.dirty[pid] = sessOp{at: time.Now()}
	ss.mu.Unlock()
	ss.poke()
}

func (ss *sessions) poke() {
	select {
	case ss.kick <- struct{}{}:
	default:
	}
}

// Restore implements loop.SessionStore, on a goroutine of its own.
func (a *Adapter) Restore(ns, pid, offset string, done func(*loop.StoredSession, []loop.Broadcast, string, error)) {
	ss := a.ss
	fail := func(why int, err error) {
		if ss != nil {
			ss.failed[why].Add(1)
		}
		done(nil, nil, "", err)
	}
	switch {
	case ss == nil || a.closed.Load():
		fail(restoreUnavailable, ErrClosed)
		return
	case !validOffset(offset):
		fail(restoreBadOffset, loop.ErrOffsetNotFound)
		return
	case !a.Up():
		fail(restoreUnavailable, errors.New("cluster: redis unreachable"))
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(a.ctx, RestoreTimeout)
		defer cancel()
		select {
		case ss.turns <- struct{}{}:
			defer func() { <-ss.turns }()
		case <-ctx.Done():
			fail(restoreUnavailable, ctx.Err())
			return
		}
		s, missed, last, why, err := ss.restore(ctx, ns, pid, offset)
		if err != nil {
			fail(why, err)
			return
		}
		ss.restored.Add(1)
		done(s, missed, last, nil)
	}()
}

// validOffset reports whether offset is a stream entry ID <ms>-<seq>, as
// restoreSession checks it (/^[0-9]+-[0-9]+$/), and fits loop's offsets.
func validOffset(offset string) bool {
	_, ok := loop.StreamOffset(offset)
	return ok
}

// restore does the Redis part of Restore.
func (ss *sessions) restore(ctx context.Context, ns, pid, offset string) (*loop.StoredSession, []loop.Broadcast, string, int, error) {
	a := ss.a
	key := SessionKeyPrefix + pid
	var get *redis.StringCmd
	var at *redis.XMessageSliceCmd
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		p.Del(ctx, key)
		at = p.XRangeN(ctx, a.st.name, offset, offset, 1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, "", restoreUnavailable, err
	}
	blob, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil, "", restoreNotFound, loop.ErrSessionNotFound
	}
	if err != nil {
		return nil, nil, "", restoreUnavailable, err
	}
	var c Codec
	s, err := c.decodeSession(blob)
	if err != nil {
		a.malformed("session", key, err)
		return nil, nil, "", restoreBadSession, loop.ErrSessionNotFound
	}
	s.Namespace = ns
	if len(at.Val()) == 0 {
		return nil, nil, "", restoreOffsetGone, loop.ErrOffsetNotFound
	}
	var missed []loop.Broadcast
	last := offset
	for range restoreMaxPages {
		entries, err := a.rdb.XRangeN(ctx, a.st.name, "("+last, "+", restorePage).Result()
		if err != nil {
			// The session was taken: give it back for another try.
			s.Disconnected = true
			a.Save(s)
			return nil, nil, "", restoreUnavailable, err
		}
		for i := range entries {
			x := &entries[i]
			last = x.ID
			if b, ok := ss.missedEvent(&c, ns, s.Rooms, x); ok {
				missed = append(missed, b)
			}
		}
		if len(entries) < restorePage {
			break
		}
	}
	return s, missed, last, 0, nil
}

// missedEvent returns the event of entry x if it is a broadcast of
// namespace ns that a socket in rooms received, as restoreSession keeps
// it: type 3, nsp, shouldIncludePacket. Malformed entries are counted and
// skipped.
func (ss *sessions) missedEvent(c *Codec, ns string, rooms []string, x *redis.XMessage) (loop.Broadcast, bool) {
	field := func(k string) string { v, _ := x.Values[k].(string); return v }
	if field("nsp") != ns || field("type") != "3" {
		return loop.Broadcast{}, false
	}
	var m clusterMessage
	atts, err := c.ParseEntry(field("uid"), ns, "3", field("data"), &m)
	var d clusterData
	if err == nil {
		err = json.Unmarshal(m.Data, &d)
	}
	var p packet
	if err == nil {
		err = json.Unmarshal(d.Packet, &p)
	}
	if err != nil || d.RequestID != "" || (p.Type != packetEvent && p.Type != packetBinaryEvent) {
		ss.a.malformed("stream entry", x.ID, ErrNotBroadcast)
		return loop.Broadcast{}, false
	}
	b := loop.Broadcast{Namespace: ns, Offset: x.ID, Local: true}
	if d.Opts != nil {
		if d.Opts.Flags != nil && d.Opts.Flags.Volatile {
			return b, false
		}
		b.Rooms, b.Except = d.Opts.Rooms, d.Opts.Except
	}
	if !loop.Receives(rooms, b.Rooms, b.Except) {
		return b, false
	}
	ev, args, err := splitData(p.Data)
	if err != nil {
		ss.a.malformed("stream entry", x.ID, err)
		return b, false
	}
	b.Event, b.Args = ev, append([]byte(nil), args...)
	for _, at := range atts {
		b.Attachments = append(b.Attachments, append([]byte(nil), at...))
	}
	return b, true
}

// ---------------------------------------------------------------- writing

// saveLoop writes the saved sessions every sessionSaveEvery, and every
// live one again every half window.
func (ss *sessions) saveLoop() {
	a := ss.a
	defer a.wg.Done()
	tick := time.NewTicker(sessionSaveEvery)
	defer tick.Stop()
	refresh := time.NewTicker(max(ss.window/2, time.Second))
	defer refresh.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-refresh.C:
			ss.refresh()
		case <-tick.C:
		}
		ss.flush(a.ctx)
	}
}

// refresh marks every live session to be written again.
func (ss *sessions) refresh() {
	now := time.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for pid, blob := range ss.live {
		if _, ok := ss.dirty[pid]; !ok {
			ss.dirty[pid] = sessOp{blob: blob, px: 2 * ss.window, at: now}
		}
	}
}

// flushNow writes what is pending, within d (on Close: the sessions of
// the drain).
func (ss *sessions) flushNow(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ss.flush(ctx)
}

// flush writes the pending session keys in pipelines. A failed write is
// tried again on the next round until it is PublishRetry old.
func (ss *sessions) flush(ctx context.Context) {
	a := ss.a
	ss.mu.Lock()
	if len(ss.dirty) == 0 {
		ss.mu.Unlock()
		return
	}
	batch := ss.dirty
	ss.dirty = make(map[string]sessOp, len(batch))
	ss.mu.Unlock()
	pids := make([]string, 0, len(batch))
	for pid := range batch {
		pids = append(pids, pid)
	}
	for len(pids) > 0 {
		n := min(len(pids), 1000)
		part := pids[:n]
		pids = pids[n:]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cmds, err := a.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
			for _, pid := range part {
				if op := batch[pid]; op.blob == "" {
					p.Del(cctx, SessionKeyPrefix+pid)
				} else {
					p.Set(cctx, SessionKeyPrefix+pid, op.blob, op.px)
				}
			}
			return nil
		})
		cancel()
		if err == nil {
			ss.persisted.Add(uint64(n))
			continue
		}
		a.noteError("session", err)
		ss.mu.Lock()
		for i, pid := range part {
			op := batch[pid]
			switch {
			case i < len(cmds) && cmds[i].Err() == nil:
				ss.persisted.Add(1)
			case time.Since(op.at) < a.cfg.PublishRetry && ctx.Err() == nil:
				if _, newer := ss.dirty[pid]; !newer {
					ss.dirty[pid] = op
				}
			default:
				ss.saveErrors.Add(1)
			}
		}
		ss.mu.Unlock()
	}
}
