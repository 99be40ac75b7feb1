package loop

import "unsafe"

// timer is an intrusive entry of a reactor's timer heap. It is embedded in
// the object that owns it (a session, a Socket.IO client, a pending ack), so
// arming a timer allocates nothing and a million idle sockets cost no Go
// timers and no goroutines.
//
// A timer belongs to one reactor and may only be touched on that reactor.
type timer struct {
	when  int64 // unix nanoseconds at which it fires
	index int   // position in the heap, -1 when not armed
	// fire runs when the timer is due. nil marks a session's heartbeat,
	// the first field of its Session: run calls Session.onHeartbeat on
	// the session at the timer's address, which spares every session a
	// 16-byte method-value closure.
	fire func(now int64)
}

// armed reports whether t is in a heap.
func (t *timer) armed() bool { return t.index >= 0 }

// timerHeap is a binary min-heap of timers ordered by when. It is the
// per-reactor timing structure: the reactor pops what is due each time the
// ticker rings it. A heap rather than a wheel because every operation is
// O(log n) with no per-slot scanning, and heartbeats re-arm only once per
// ping interval per session.
type timerHeap struct {
	items []*timer
}

// set arms t to fire at when, moving it if it is already armed.
func (h *timerHeap) set(t *timer, when int64) {
	t.when = when
	if t.index >= 0 && t.index < len(h.items) && h.items[t.index] == t {
		if !h.down(t.index) {
			h.up(t.index)
		}
		return
	}
	t.index = len(h.items)
	h.items = append(h.items, t)
	h.up(t.index)
}

// stop disarms t; it is a no-op for a timer that is not armed.
func (h *timerHeap) stop(t *timer) {
	i := t.index
	if i < 0 || i >= len(h.items) || h.items[i] != t {
		t.index = -1
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	t.index = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// next returns the due time of the earliest timer, or 0 when none is armed.
func (h *timerHeap) next() int64 {
	if len(h.items) == 0 {
		return 0
	}
	return h.items[0].when
}

// run fires every timer due at or before now. A fired timer is disarmed
// before its callback runs, so the callback may re-arm it.
func (h *timerHeap) run(now int64) {
	for len(h.items) > 0 && h.items[0].when <= now {
		t := h.items[0]
		h.stop(t)
		if t.fire == nil {
			(*Session)(unsafe.Pointer(t)).onHeartbeat(now)
		} else {
			t.fire(now)
		}
	}
}

func (h *timerHeap) len() int { return len(h.items) }

func (h *timerHeap) less(i, j int) bool { return h.items[i].when < h.items[j].when }

func (h *timerHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = i
	h.items[j].index = j
}

func (h *timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *timerHeap) down(i0 int) bool {
	i, n := i0, len(h.items)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
