package loop

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sioloop/protocol/wsframe"
)

// Connection state recovery, on the wire as socket.io 4.6+ does it
// (socket.ts, namespace.ts _createSocket, socket.io-adapter
// SessionAwareAdapter):
//
//   - The CONNECT reply carries a private session id next to the socket id:
//     {"sid":…,"pid":…}.
//   - Every replayable event (an EVENT without ack id that is not volatile,
//     broadcast or emitted to one socket) carries its offset, a string, as
//     its last argument; socket.io-client records the last one it saw.
//   - On a recoverable disconnect the socket's id, pid, rooms and user are
//     kept; a CONNECT whose auth is {pid, offset} within the window gets
//     the same socket id and rooms back, the events it missed (those that
//     targeted its rooms, its id or the whole namespace, in order), then
//     the CONNECT reply with the same pid, so the client sets recovered.
//
// Offsets here are a process-wide counter, so they are ordered: a client
// whose offset is older than every kept packet still recovers when nothing
// after its offset was dropped (Node looks the offset up and fails,
// socketio/socket.io#4733), and a session recovers any number of times
// (#4880). The history holds one reference per broadcast (the encoded
// broadcast every recipient got), bounded in bytes: the oldest go first.

// recoverableReasons are the disconnect reasons after which a session is
// kept (Node's RECOVERABLE_DISCONNECT_REASONS minus the server's own
// kicks): the client did not choose to leave, nor did the server send it
// away.
var recoverableReasons = map[string]bool{
	"transport close":      true,
	"transport error":      true,
	"ping timeout":         true,
	"server shutting down": true,
}

// Why a recovery failed, the index of recovery.refused.
const (
	recoverUnknownPID  = iota // no session with that pid (or another namespace or user)
	recoverExpired            // disconnected longer than the window
	recoverTooOld             // packets after the offset were dropped, or the offset is not one of ours
	recoverUnavailable        // the session store (SocketIO.Sessions) did not answer in time
	recoverRefusals
)

// RecoveryRefusalNames name the reasons of RecoveryStats.NotRecovered, by
// index.
var RecoveryRefusalNames = [recoverRefusals]string{"unknown_pid", "expired", "offset_too_old", "store_unavailable"}

// DefaultRecoveryBufferBytes bounds the packets kept for replay.
const DefaultRecoveryBufferBytes = 64 << 20

// recordOverhead is what one kept packet costs besides its bytes: the
// history entry, the encodedBroadcast and its room lists, roughly.
const recordOverhead = 160

// recovery is the state of connection state recovery of one SocketIO:
// the history of replayable packets and the kept sessions. Any goroutine;
// mu guards everything but the counters.
type recovery struct {
	window   int64 // longest recoverable disconnection, nanoseconds
	keepFor  int64 // age past which a packet is dropped: window plus a heartbeat
	maxBytes int64
	clock    *atomic.Int64 // the server's coarse monotonic clock
	// store, when set (SocketIO.Sessions), keeps the sessions and the
	// events instead (recovery_store.go); the history then only bridges
	// a restore.
	store SessionStore

	mu sync.Mutex
	// next is the last offset handed out; evicted is the newest offset
	// dropped from hist. Every offset in (evicted, next] is in hist.
	next, evicted uint64
	hist          []record // by offset
	bytes         int64
	sessions      map[string]*keptSession
	swept         int64 // when sessions were last swept

	recovered atomic.Uint64
	refused   [recoverRefusals]atomic.Uint64
	replayed  atomic.Uint64
	keptBytes atomic.Int64
	keptN     atomic.Int64
}

// record is one replayable packet of the history.
type record struct {
	eb   *encodedBroadcast
	at   int64
	size int64
}

// keptSession is a socket kept after a recoverable disconnect.
type keptSession struct {
	ns, id, pid string
	rooms       []string // own id first, as Socket.Rooms
	userID      string
	data        any
	since       uint64 // the last offset handed out when the socket first connected
	at          int64  // when it disconnected
}

// socketRec is the recovery state of a socket, nil when recovery is off.
type socketRec struct {
	pid string
	// since is the last offset handed out when the socket's session began:
	// a client that saw no offset yet missed everything after it.
	since uint64
	// floor is the newest offset replayed on recovery: a queued broadcast
	// at or below it was replayed already and is skipped.
	floor uint64
	// live is set once the socket is connected: with a store, its
	// session is saved again when its rooms change.
	live bool
}

func newRecovery(window time.Duration, maxBytes int, heartbeat time.Duration, clock *atomic.Int64) *recovery {
	if maxBytes <= 0 {
		maxBytes = DefaultRecoveryBufferBytes
	}
	return &recovery{window: int64(window), keepFor: int64(window + heartbeat), maxBytes: int64(maxBytes),
		clock: clock, sessions: make(map[string]*keptSession)}
}

// appendOffset ends an encoded EVENT "…]" with its offset as one more
// argument, "…,"<off>"]": the event name is always there, so a comma
// always goes before it.
func appendOffset(buf []byte, off uint64) []byte {
	buf = append(buf[:len(buf)-1], ',', '"')
	if off&streamOffBit != 0 {
		buf = appendStreamOffset(buf, off)
	} else {
		buf = strconv.AppendUint(buf, off, 10)
	}
	return append(buf, '"', ']')
}

// record encodes b with the next offset, keeps it in the history and
// calls enqueue while still holding the lock, so that every reactor's
// outbox receives the replayable packets in offset order: a client then
// sees offsets only grow, and "after its offset" is exactly what it
// missed.
func (rc *recovery) record(ns *Namespace, b *Broadcast, enqueue func(eb *encodedBroadcast)) *encodedBroadcast {
	now := rc.clock.Load()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.next++
	eb := encodeEvent(ns, b, false, 0, rc.next)
	size := int64(len(eb.frames)) + recordOverhead
	if len(b.Attachments) > 0 {
		size += int64(len(eb.poll))
	}
	for _, s := range eb.rooms {
		size += int64(len(s))
	}
	rc.hist = append(rc.hist, record{eb: eb, at: now, size: size})
	rc.bytes += size
	k := 0
	for k < len(rc.hist)-1 && (rc.bytes > rc.maxBytes || now-rc.hist[k].at > rc.keepFor) {
		rc.bytes -= rc.hist[k].size
		rc.evicted = rc.hist[k].eb.off
		rc.hist[k] = record{}
		k++
	}
	if k > 0 {
		rc.hist = rc.hist[k:]
	}
	rc.keptBytes.Store(rc.bytes)
	enqueue(eb)
	return eb
}

// persist keeps ks for the window, and drops the sessions that expired.
func (rc *recovery) persist(ks *keptSession) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ks.since = min(ks.since, rc.next)
	rc.sessions[ks.pid] = ks
	// A coarse sweep, at most once per window: no timer per session.
	if ks.at-rc.swept >= rc.window {
		rc.swept = ks.at
		for pid, s := range rc.sessions {
			if ks.at-s.at > rc.window {
				delete(rc.sessions, pid)
			}
		}
	}
	rc.keptN.Store(int64(len(rc.sessions)))
}

// restore takes the session pid of namespace ns out of the kept ones and
// returns it with the packets it missed after offset off (after the
// session's start when hasOff is false: the client saw no offset yet) and
// the newest offset handed out, or the reason it cannot.
func (rc *recovery) restore(pid, ns, off string, hasOff bool) (*keptSession, []*encodedBroadcast, uint64, int) {
	now := rc.clock.Load()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ks := rc.sessions[pid]
	if ks == nil || ks.ns != ns {
		return nil, nil, 0, recoverUnknownPID
	}
	if now-ks.at > rc.window {
		delete(rc.sessions, pid)
		rc.keptN.Store(int64(len(rc.sessions)))
		return nil, nil, 0, recoverExpired
	}
	from := ks.since
	if hasOff {
		o, err := strconv.ParseUint(off, 10, 64)
		if err != nil || o > rc.next {
			return nil, nil, 0, recoverTooOld
		}
		from = o
	}
	if from < rc.evicted {
		return nil, nil, 0, recoverTooOld
	}
	delete(rc.sessions, pid)
	rc.keptN.Store(int64(len(rc.sessions)))
	var missed []*encodedBroadcast
	i := sort.Search(len(rc.hist), func(i int) bool { return rc.hist[i].eb.off > from })
	for _, h := range rc.hist[i:] {
		if h.eb.ns.name == ns && Receives(ks.rooms, h.eb.rooms, h.eb.except) {
			missed = append(missed, h.eb)
		}
	}
	return ks, missed, rc.next, -1
}

// giveBack returns a session restore took to the kept ones, when the
// CONNECT that took it was refused.
func (rc *recovery) giveBack(ks *keptSession) {
	if rc.store != nil {
		rc.store.Save(&StoredSession{Namespace: ks.ns, ID: ks.id, PID: ks.pid, Rooms: ks.rooms, UserID: ks.userID, Disconnected: true})
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.sessions[ks.pid] == nil {
		rc.sessions[ks.pid] = ks
	}
	rc.keptN.Store(int64(len(rc.sessions)))
}

// Receives reports whether a socket in rooms (its own id included) is a
// recipient of a broadcast to the rooms to except those in except
// (socket.io-adapter shouldIncludePacket): what a replay keeps of the
// packets a session missed.
func Receives(rooms, to, except []string) bool {
	in := len(to) == 0
	for _, r := range rooms {
		for _, e := range except {
			if r == e {
				return false
			}
		}
		for _, t := range to {
			if r == t {
				in = true
			}
		}
	}
	return in
}

// recoveryAuth reads {pid, offset} from the auth of a CONNECT (both must
// be strings for Node; a missing offset is taken as "saw none yet").
func recoveryAuth(auth []byte) (pid, off string, hasOff, ok bool) {
	if len(auth) == 0 {
		return "", "", false, false
	}
	var a struct {
		PID    any `json:"pid"`
		Offset any `json:"offset"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return "", "", false, false
	}
	pid, ok = a.PID.(string)
	if !ok || pid == "" {
		return "", "", false, false
	}
	if a.Offset == nil {
		return pid, "", false, true
	}
	off, hasOff = a.Offset.(string)
	return pid, off, hasOff, hasOff
}

// RecoveryStats are the counters of connection state recovery.
type RecoveryStats struct {
	// Recovered counts the sockets restored with their id and rooms.
	Recovered uint64
	// NotRecovered counts the CONNECTs that asked to recover and got a new
	// session, by reason (see RecoveryRefusalNames).
	NotRecovered [recoverRefusals]uint64
	// Replayed counts the packets sent again on recovery.
	Replayed uint64
	// KeptBytes is what the history of replayable packets holds now.
	KeptBytes int64
	// KeptSessions is the number of sessions kept for recovery now.
	KeptSessions int64
}

// RecoveryStats returns the recovery counters; ok is false when recovery
// is off. Any goroutine.
func (io *SocketIO) RecoveryStats() (st RecoveryStats, ok bool) {
	rc := io.recovery()
	if rc == nil {
		return st, false
	}
	st.Recovered = rc.recovered.Load()
	for i := range st.NotRecovered {
		st.NotRecovered[i] = rc.refused[i].Load()
	}
	st.Replayed = rc.replayed.Load()
	st.KeptBytes = rc.keptBytes.Load()
	st.KeptSessions = rc.keptN.Load()
	return st, true
}

// recovery returns io's recovery state, made on first use from the
// configuration, or nil when recovery is off.
func (io *SocketIO) recovery() *recovery {
	io.recOnce.Do(func() {
		if io.Recovery > 0 {
			cfg := io.srv.cfg
			io.rec = newRecovery(io.Recovery, io.RecoveryBufferBytes, cfg.PingInterval+cfg.PingTimeout, &io.srv.clock)
			if io.rec.store = io.Sessions; io.rec.store != nil {
				io.rec.keepFor = max(storeKeep, int64(io.ConnectTimeout)+restoreBound)
			}
		}
	})
	return io.rec
}

// last returns the newest offset handed out.
func (rc *recovery) last() uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.next
}

// broadcastRecorded is Broadcast for a replayable event with recovery on:
// the same delivery, with the offset and the history.
func (io *SocketIO) broadcastRecorded(rc *recovery, ns *Namespace, b *Broadcast) (int, error) {
	// The history keeps the room lists past the return: the caller may
	// reuse its own.
	cp := *b
	cp.Rooms, cp.Except = slices.Clone(b.Rooms), slices.Clone(b.Except)
	io.srv.broadcasts.Add(1)
	reactors := *io.srv.reactors.Load()
	whole := len(b.Rooms) == 0 && len(b.Except) == 0
	if me := io.srv.onReactor(); me != nil {
		direct := false
		eb := rc.record(ns, &cp, func(eb *encodedBroadcast) {
			eb.toReactors(len(reactors))
			direct = me.canDeliverNow()
			for _, r := range reactors {
				if r != me || !direct {
					r.enqueue(job{eb: eb})
				}
			}
		})
		n := 0
		if direct {
			n = me.deliverNow(eb)
		}
		if whole {
			n = ns.connected()
		}
		return n, nil
	}
	if whole {
		release := io.holdSlot(len(reactors))
		n := ns.connected()
		rc.record(ns, &cp, func(eb *encodedBroadcast) {
			eb.toReactors(len(reactors))
			for _, r := range reactors {
				r.enqueue(job{eb: eb, done: release})
			}
		})
		return n, nil
	}
	var wg sync.WaitGroup
	wg.Add(len(reactors))
	eb := rc.record(ns, &cp, func(eb *encodedBroadcast) {
		eb.toReactors(len(reactors))
		for _, r := range reactors {
			r.enqueue(job{eb: eb, done: wg.Done})
		}
	})
	wg.Wait()
	return int(eb.recipients.Load()), nil
}

// emitRecorded is Socket.Emit with recovery on: Node routes an emit to
// one socket through the adapter, so it gets an offset and is kept for
// replay like a broadcast to the socket's id room.
func (so *Socket) emitRecorded(rc *recovery, name string, args []byte, atts [][]byte) {
	r := so.c.sess().r
	b := Broadcast{Namespace: so.ns.name, Rooms: []string{so.id}, Event: name, Args: args, Attachments: atts}
	direct := false
	eb := rc.record(so.ns, &b, func(eb *encodedBroadcast) {
		direct = r.canDeliverNow()
		if !direct {
			r.enqueue(job{eb: eb})
		}
	})
	if direct {
		r.sendEncoded(so, eb)
		observeSent(so, eb)
	}
}

// canDeliverNow reports whether a replayable packet may be written to r's
// sockets at once, in a handler, and keep the offsets each client sees
// growing: not while r delivers or drains its outbox (the rest of the
// drained jobs may hold older offsets), nor while its outbox holds jobs
// (they do). Otherwise the packet is queued behind them. Reactor only,
// with the history lock held (no older offset can be queued meanwhile).
func (r *reactor) canDeliverNow() bool {
	if r.delivering || r.draining {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) == 0
}

// sendEncoded writes one encoded event to so (a replayed packet, or an
// emit to one socket). Reactor only.
func (r *reactor) sendEncoded(so *Socket, eb *encodedBroadcast) {
	s := so.c.sess()
	if s.closed || s.closing || so.gone {
		return
	}
	c := so.ctr()
	c.eventsOut.Add(1)
	c.bytesOut.Add(uint64(len(eb.poll)))
	if ws := s.ws; ws != nil {
		_, err := ws.Write(eb.frames)
		if err == nil && !s.closed && ws.OutboundBuffered() > r.srv.cfg.MaxOutboundBytes {
			s.terminate("slow consumer", wsframe.ClosePolicyViolation)
		}
		return
	}
	s.enqueueEncoded(eb.poll)
}

// replayed reports whether the packet at offset off was replayed to so
// when it recovered, so that a copy still queued is not sent twice.
func (so *Socket) replayed(off uint64) bool {
	return so.rec != nil && off <= so.rec.floor
}
