package loop

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Connection state recovery across servers (SocketIO.Sessions): the
// sessions and the replayable events live in a store shared by the
// servers of a cluster, the Redis stream of the Streams adapter
// (loop/cluster), as @socket.io/redis-streams-adapter keeps them:
//
//   - Every replayable event (broadcast or emit to one socket, without
//     ack, not volatile) is handed to the store first (XADD); the store
//     calls back with its offset, the stream entry ID, and only then do
//     the reactors deliver it, in the order the store answers. An event
//     read from another server's entry carries that entry's ID
//     (Broadcast.Offset). When the store cannot answer, the event is
//     delivered without offset, as Node does.
//   - Sessions are saved when the socket connects, when its rooms change
//     and on a recoverable disconnect; dropped on any other disconnect.
//   - A CONNECT with {pid, offset} asks the store for the session and the
//     events after offset (Restore), without blocking the reactor: the
//     CONNECT is pending meanwhile, as with UseAsync. Whatever the store
//     answers, the client gets an answer: its session, or a fresh one.
//
// Stream offsets are kept as numbers with the top bit set (see
// StreamOffset), so that the skip of events already replayed compares
// them as it compares the local counter's. The local history then only
// bridges the gap between the store's answer and the socket joining its
// rooms: events this server delivered meanwhile are replayed from it.

// SessionStore keeps connection state recovery in a store shared by the
// servers of a cluster. Every method may be called from any goroutine, a
// reactor included, and must not block.
type SessionStore interface {
	// Sequence hands b, a replayable event for the other servers, to the
	// store and calls deliver once with its offset ("" when it has none:
	// the store is unreachable), from one goroutine, in the order of the
	// calls. Sequence copies what it keeps of b before it returns.
	Sequence(b *Broadcast, deliver func(offset string))
	// Save records s; it replaces the session of the same pid.
	Save(s *StoredSession)
	// Forget drops the session pid: its socket left for good.
	Forget(pid string)
	// Restore takes the session pid out of the store and finds the
	// events of namespace ns after offset that its rooms received,
	// oldest first, with Broadcast.Offset set. It calls done once, from
	// any goroutine, within a bounded time: with the session, the events
	// and the offset of the last event it looked at; or with an error
	// (ErrSessionNotFound, ErrOffsetNotFound, or another when the store
	// cannot answer).
	Restore(ns, pid, offset string, done func(s *StoredSession, missed []Broadcast, last string, err error))
}

// StoredSession is a socket's state as a SessionStore keeps it.
type StoredSession struct {
	Namespace string
	ID, PID   string
	Rooms     []string // own id first, as Socket.Rooms
	UserID    string
	// Disconnected is set when the socket left with a recoverable reason:
	// the session is kept for the window. Otherwise it is live.
	Disconnected bool
}

// Errors of SessionStore.Restore that are the client's, not the store's.
var (
	// ErrSessionNotFound: no session with that pid (expired, taken, never saved).
	ErrSessionNotFound = errors.New("loop: session not found")
	// ErrOffsetNotFound: the offset is not one of the store's (malformed,
	// or trimmed from the stream).
	ErrOffsetNotFound = errors.New("loop: offset not found")
)

// streamOffBit marks an offset that is a stream entry ID.
const streamOffBit = 1 << 63

// Bits of a stream entry ID "<ms>-<seq>" packed into an offset: ms below
// 2^43 (the year 2248), seq below 2^20 (Redis counts the entries of one
// millisecond from 0).
const (
	streamSeqBits = 20
	streamMSBits  = 43
)

// StreamOffset packs a stream entry ID "<ms>-<seq>" into an ordered
// offset, or returns false when id is not one (or out of range).
func StreamOffset(id string) (uint64, bool) {
	msS, seqS, ok := cutDash(id)
	if !ok {
		return 0, false
	}
	ms, err1 := strconv.ParseUint(msS, 10, streamMSBits)
	seq, err2 := strconv.ParseUint(seqS, 10, streamSeqBits)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return streamOffBit | ms<<streamSeqBits | seq, true
}

func cutDash(s string) (a, b string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			return s[:i], s[i+1:], i > 0 && i < len(s)-1
		}
		if s[i] < '0' || s[i] > '9' {
			return "", "", false
		}
	}
	return "", "", false
}

// appendStreamOffset appends the entry ID of a packed stream offset.
func appendStreamOffset(buf []byte, off uint64) []byte {
	buf = strconv.AppendUint(buf, (off&^streamOffBit)>>streamSeqBits, 10)
	buf = append(buf, '-')
	return strconv.AppendUint(buf, off&(1<<streamSeqBits-1), 10)
}

// streamOff returns the packed offset of id, 0 when it is "" or not one.
func streamOff(id string) uint64 {
	off, _ := StreamOffset(id)
	return off
}

// storeKeep is the least time the history keeps events with a store:
// they bridge a Restore's answer and the socket's joining, which a
// middleware may delay up to ConnectTimeout (see SocketIO.recovery).
const storeKeep = int64(30e9)

// keep appends eb (offset off, a stream one) to the history and calls
// enqueue while holding the lock, as record does: at a socket's
// recovery, what the history holds was queued before it, what follows
// is queued after.
func (rc *recovery) keep(eb *encodedBroadcast, enqueue func()) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if eb.off != 0 {
		now := rc.clock.Load()
		size := int64(len(eb.frames)+len(eb.poll)) + recordOverhead
		rec := record{eb: eb, at: now, size: size}
		// By offset: the stream's order, in which the reader delivers,
		// but for an event whose XADD the reader had passed already.
		if n := len(rc.hist); n == 0 || rc.hist[n-1].eb.off < eb.off {
			rc.hist = append(rc.hist, rec)
		} else {
			i := sort.Search(n, func(i int) bool { return rc.hist[i].eb.off > eb.off })
			rc.hist = slices.Insert(rc.hist, i, rec)
		}
		rc.bytes += size
		k := 0
		for k < len(rc.hist)-1 && (rc.bytes > rc.maxBytes || now-rc.hist[k].at > rc.keepFor) {
			rc.bytes -= rc.hist[k].size
			rc.hist[k] = record{}
			k++
		}
		if k > 0 {
			rc.hist = rc.hist[k:]
		}
		rc.keptBytes.Store(rc.bytes)
	}
	enqueue()
}

// sinceStored returns the events of the history after offset floor that a
// socket of ns in rooms received, by offset, and the newest offset of the
// history (kept by offset: a binary search, then the events after). The
// reactor calls it as the socket joins its rooms: the events queued after
// are delivered to it, those before that the store did not return are
// here.
func (rc *recovery) sinceStored(ns string, rooms []string, floor uint64) ([]*encodedBroadcast, uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*encodedBroadcast
	top := floor
	if n := len(rc.hist); n > 0 {
		top = max(top, rc.hist[n-1].eb.off)
	}
	i := sort.Search(len(rc.hist), func(i int) bool { return rc.hist[i].eb.off > floor })
	for _, h := range rc.hist[i:] {
		if eb := h.eb; eb.ns.name == ns && Receives(rooms, eb.rooms, eb.except) {
			out = append(out, eb)
		}
	}
	return out, top
}

// broadcastStored is Broadcast of a replayable event with a store: an
// event of this server goes to the store first and is delivered with the
// offset it answers; one read from the store (Local) carries its own.
func (io *SocketIO) broadcastStored(rc *recovery, ns *Namespace, b *Broadcast) (int, error) {
	io.srv.broadcasts.Add(1)
	whole := len(b.Rooms) == 0 && len(b.Except) == 0
	onReactor := io.srv.onReactor() != nil
	var wg *sync.WaitGroup
	if !whole && !onReactor {
		wg = new(sync.WaitGroup)
	}
	var eb *encodedBroadcast
	deliver := func(cp *Broadcast, offset string) {
		eb = encodeEvent(ns, cp, false, 0, streamOff(offset))
		reactors := *io.srv.reactors.Load()
		var release func()
		if whole && io.srv.onReactor() == nil {
			// The stream reader or the publisher: bounded as any
			// namespace-wide broadcast from off the reactors (Broadcast).
			release = io.holdSlot(len(reactors))
		}
		rc.keep(eb, func() {
			eb.toReactors(len(reactors))
			for _, r := range reactors {
				j := job{eb: eb, done: release}
				if wg != nil {
					wg.Add(1)
					j.done = wg.Done
				}
				r.enqueue(j)
			}
		})
	}
	if b.Local {
		// Encoded at once: only the room lists outlive the call.
		cp := *b
		cp.Rooms, cp.Except = slices.Clone(b.Rooms), slices.Clone(b.Except)
		deliver(&cp, b.Offset)
	} else {
		cp := copyBroadcast(b)
		if wg != nil {
			wg.Add(1) // until deliver has queued the jobs
		}
		rc.store.Sequence(cp, func(offset string) {
			deliver(cp, offset)
			if wg != nil {
				wg.Done()
			}
		})
	}
	switch {
	case whole:
		return ns.connected(), nil
	case wg == nil:
		return 0, nil // delivered later: the recipients are not known here
	}
	wg.Wait()
	return int(eb.recipients.Load()), nil
}

// copyBroadcast returns a copy of b that shares nothing with it: the
// event is encoded later, after the caller may have reused its buffers.
func copyBroadcast(b *Broadcast) *Broadcast {
	cp := *b
	cp.Rooms, cp.Except = slices.Clone(b.Rooms), slices.Clone(b.Except)
	cp.Args = slices.Clone(b.Args)
	if len(b.Attachments) > 0 {
		cp.Attachments = make([][]byte, len(b.Attachments))
		for i, a := range b.Attachments {
			cp.Attachments[i] = slices.Clone(a)
		}
	}
	return &cp
}

// emitStored is Socket.Emit with a store: Node routes an emit to one
// socket through the adapter, which XADDs it like a broadcast to the
// socket's id room; it is delivered once the store answers. Reactor only.
func (so *Socket) emitStored(rc *recovery, name string, args []byte, atts [][]byte) {
	r := so.c.sess().r
	cp := copyBroadcast(&Broadcast{Namespace: so.ns.name, Rooms: []string{so.id}, Event: name, Args: args, Attachments: atts})
	rc.store.Sequence(cp, func(offset string) {
		eb := encodeEvent(so.ns, cp, false, 0, streamOff(offset))
		rc.keep(eb, func() { r.enqueue(job{eb: eb}) })
	})
}

// storedSession returns the session of so as the store keeps it.
// Reactor only.
func (so *Socket) storedSession(disconnected bool) *StoredSession {
	return &StoredSession{Namespace: so.ns.name, ID: so.id, PID: so.rec.pid, Rooms: so.Rooms(),
		UserID: so.UserID, Disconnected: disconnected}
}

// saveRooms saves the session of a connected socket whose rooms changed.
// Reactor only.
func (so *Socket) saveRooms() {
	if so.rec != nil && so.rec.live && !so.gone {
		if rc := so.ns.io.recovery(); rc != nil && rc.store != nil {
			rc.store.Save(so.storedSession(false))
		}
	}
}

// restoreStored starts the restore of the session a CONNECT's auth asks
// for from the store, and reports whether it did: the CONNECT is then
// pending until the store answers (finishRestore). Otherwise so gets a
// fresh pid. Reactor only.
func (c *client) restoreStored(rc *recovery, p *joining, auth []byte) bool {
	r := c.sess().r
	so := p.so
	pid, off, hasOff, ok := recoveryAuth(auth)
	so.rec = &socketRec{pid: r.newID()}
	if !ok || !hasOff {
		// Node restores only with both pid and offset: a client that saw
		// no event yet has no offset to resume from.
		if ok {
			rc.refused[recoverTooOld].Add(1)
		}
		return false
	}
	auth = slices.Clone(auth) // dies with the callback
	p.restoring = true
	c.pend(p)
	p.timer = timer{index: -1, fire: func(int64) { c.restoreTimedOut(p, auth) }}
	r.timers.set(&p.timer, r.now()+int64(restoreBound))
	ns := so.ns.name
	rc.store.Restore(ns, pid, off, func(s *StoredSession, missed []Broadcast, last string, err error) {
		r.post(func(*reactor) { c.finishRestore(p, auth, s, missed, last, err) })
	})
	return true
}

// restoreBound is how long a CONNECT waits for the store before the
// client gets a fresh session; the store bounds its own answer first.
const restoreBound = 5e9

// restoreTimedOut gives a CONNECT whose store did not answer in time a
// fresh session. Reactor only.
func (c *client) restoreTimedOut(p *joining, auth []byte) {
	if p.abandoned || !p.restoring {
		return
	}
	c.unpend(p)
	p.restoring = false
	p.rc.refused[recoverUnavailable].Add(1)
	c.middleware(p, auth)
}

// finishRestore continues a CONNECT once the store answered: with the
// session, the socket takes its id, pid, user and rooms and will get the
// missed events; otherwise it keeps its fresh session. Reactor only.
func (c *client) finishRestore(p *joining, auth []byte, s *StoredSession, missed []Broadcast, last string, err error) {
	rc := p.rc
	if p.abandoned || !p.restoring {
		if s != nil {
			s.Disconnected = true
			rc.store.Save(s) // nobody took it: back to the store
		}
		return
	}
	c.unpend(p)
	p.restoring = false
	so := p.so
	switch {
	case err == nil && s != nil:
		so.id, so.UserID = s.ID, s.UserID
		so.rec = &socketRec{pid: s.PID, floor: streamOff(last)}
		p.ks = &keptSession{ns: so.ns.name, id: s.ID, pid: s.PID, rooms: s.Rooms, userID: s.UserID}
		for i := range missed {
			p.missed = append(p.missed, encodeEvent(so.ns, &missed[i], false, 0, streamOff(missed[i].Offset)))
		}
	case errors.Is(err, ErrSessionNotFound):
		rc.refused[recoverUnknownPID].Add(1)
	case errors.Is(err, ErrOffsetNotFound):
		rc.refused[recoverTooOld].Add(1)
	default:
		rc.refused[recoverUnavailable].Add(1)
	}
	c.middleware(p, auth)
}

// replayStored completes the recovery of a socket with a store as it
// joins its rooms: the events the store returned (up to the offset of
// the last one it looked at, so.rec.floor), then those this server queued
// after that and before now (the history), each once; the floor then
// skips the copies still queued. Reactor only.
func (r *reactor) replayStored(rc *recovery, so *Socket, ks *keptSession, missed []*encodedBroadcast) int {
	gap, top := rc.sinceStored(so.ns.name, ks.rooms, so.rec.floor)
	for _, eb := range missed {
		r.sendEncoded(so, eb)
	}
	for _, eb := range gap {
		r.sendEncoded(so, eb)
	}
	so.rec.floor = max(so.rec.floor, top)
	return len(missed) + len(gap)
}
