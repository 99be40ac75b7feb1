package cluster

import (
	"time"

	"sioloop/loop"
)

// Stream order. The events of this server get their offset from the
// XADD reply (on the publisher goroutine) and those of the others from
// the reader: delivered by each as it learns them, a client could see a
// newer offset before an older one, and recover from the older, getting
// the newer again. So with sessions every event is delivered in the
// stream's order, by the reader: the publisher registers the ID of each
// XADD of this server (sequenced), with the event to deliver or none,
// and the reader delivers it when it reaches that entry (reached),
// before the next entry of another server.
//
// An XADD whose reply was lost (the entry is in the stream but the
// publisher saw a failure and delivered it without offset) is never
// registered: the reader waits ownWait for it, then goes on. An entry
// the reader never reads (trimmed before it got there) is delivered when
// the reader reaches a newer one, or when the adapter closes.

// ownWait bounds the wait of the reader for the registration of an entry
// of this server (normally microseconds: the XADD reply is on its way).
const ownWait = 200 * time.Millisecond

// maxOwn bounds the registered entries the reader has not reached; past
// it the oldest is delivered at once.
const maxOwn = 10000

// ownEntry is an XADD of this server the reader has not reached: deliver
// (nil for entries without an event) is called with id when it does.
type ownEntry struct {
	off     uint64
	id      string
	deliver func(string)
}

// sequenced registers the entry id of this server (publisher goroutine).
func (ss *sessions) sequenced(id string, deliver func(string)) {
	off, ok := loop.StreamOffset(id)
	ss.omu.Lock()
	if !ok || (ss.posKnown && off <= ss.pos) {
		// The reader is past it (or cannot order it): now.
		ss.omu.Unlock()
		if deliver != nil {
			deliver(id)
		}
		return
	}
	ss.own = append(ss.own, ownEntry{off: off, id: id, deliver: deliver})
	var late []ownEntry
	if len(ss.own) > maxOwn {
		late, ss.own = ss.own[:1], ss.own[1:]
	}
	ss.omu.Unlock()
	run(late)
	select {
	case ss.ownKick <- struct{}{}:
	default:
	}
}

// start records the reader's start position: entries up to it are never
// read, so those registered are delivered now (reader goroutine).
func (ss *sessions) start(id string) {
	off, ok := loop.StreamOffset(id)
	if !ok {
		return
	}
	ss.omu.Lock()
	ss.pos, ss.posKnown = off, true
	late := ss.upTo(off)
	ss.omu.Unlock()
	run(late)
}

// upTo takes the registered entries up to off. ss.omu held.
func (ss *sessions) upTo(off uint64) []ownEntry {
	n := 0
	for n < len(ss.own) && ss.own[n].off <= off {
		n++
	}
	if n == 0 {
		return nil
	}
	out := append([]ownEntry(nil), ss.own[:n]...)
	ss.own = ss.own[n:]
	return out
}

// reached delivers the events of this server up to entry id, which the
// reader is about to apply; own says id is this server's, which the
// reader then waits for (up to ownWait) if it is not registered yet.
func (ss *sessions) reached(id string, own bool) {
	off, ok := loop.StreamOffset(id)
	if !ok {
		return
	}
	var timeout <-chan time.Time
	for {
		ss.omu.Lock()
		late := ss.upTo(off)
		found := len(late) > 0 && late[len(late)-1].off == off
		if found || !own {
			ss.pos, ss.posKnown = off, true
			ss.omu.Unlock()
			run(late)
			return
		}
		ss.omu.Unlock()
		run(late)
		if timeout == nil {
			timeout = time.After(ownWait)
		}
		select {
		case <-ss.ownKick:
			continue
		case <-timeout:
		case <-ss.a.ctx.Done():
		}
		ss.omu.Lock()
		ss.pos, ss.posKnown = off, true
		late = ss.upTo(off)
		ss.omu.Unlock()
		run(late)
		return
	}
}

// deliverOwn delivers every registered entry (on Close).
func (ss *sessions) deliverOwn() {
	ss.omu.Lock()
	late := ss.own
	ss.own = nil
	ss.omu.Unlock()
	run(late)
}

func run(list []ownEntry) {
	for _, e := range list {
		if e.deliver != nil {
			e.deliver(e.id)
		}
	}
}
