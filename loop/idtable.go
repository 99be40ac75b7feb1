package loop

import (
	"hash/maphash"
	"iter"
	"unsafe"
)

// idTable is a set of pointers keyed by their own id (tableID), for the
// tables that hold one entry per connected client: the session table and
// nsLocal.byID. A Go map there cost ~44 bytes per client at 10,000 (its
// slot holds the 16-byte string header besides the pointer) and never
// shrinks; here a slot is the pointer alone, the id being read through it.
//
// Open addressing with linear probing in a power-of-two array, grown at a
// load of 3/4 and halved below 1/8 (down to idTableMin slots): 11 to 21
// bytes per element as it grows, 13 at 10,000, and a connection storm
// gives its memory back as it drains. Deletion shifts the rest of the run
// back instead of leaving tombstones, so probes stay short under churn.
//
// Ids come from clients (a sid in a query, a room name in POST
// /SendWebsocketEvent), so they are hashed with a random seed per table:
// nobody can send ids that pile up in one run. get, add and del allocate
// nothing but the array on a resize. The zero value is an empty table;
// it is not safe for concurrent use.
type idTable[T idKeyed] struct {
	slots []T // nil: empty slot
	n     int
	seed  maphash.Seed
}

// idKeyed is what an idTable holds: pointers that know their id, which
// must not change while they are in a table.
type idKeyed interface {
	comparable
	tableID() string
}

// idTableMin is the smallest array (64 bytes): there is one nsLocal per
// namespace on each reactor, most holding a few sockets.
const idTableMin = 8

func (t *idTable[T]) len() int { return t.n }

// get returns the element with id, or nil.
func (t *idTable[T]) get(id string) T {
	var zero T
	if t.n == 0 {
		return zero // also before the seed is set
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		if v := t.slots[i]; v == zero || v.tableID() == id {
			return v
		}
	}
}

// getBytes is get for an id read from a request. get keeps no reference
// to the string, so it may share id's bytes.
func (t *idTable[T]) getBytes(id []byte) T {
	return t.get(unsafe.String(unsafe.SliceData(id), len(id)))
}

// add puts v in the table, in place of the element with the same id if
// there is one.
func (t *idTable[T]) add(v T) {
	var zero T
	if t.slots == nil {
		t.seed = maphash.MakeSeed()
		t.slots = make([]T, idTableMin)
	}
	id := v.tableID()
	mask := len(t.slots) - 1
	i := t.home(id)
	for ; t.slots[i] != zero; i = (i + 1) & mask {
		if t.slots[i].tableID() == id {
			t.slots[i] = v
			return
		}
	}
	t.n++
	if t.n*4 > len(t.slots)*3 {
		t.resize(len(t.slots) * 2)
		t.put(v)
		return
	}
	t.slots[i] = v
}

// del removes v, if v is the element stored under its id: a session or
// socket that was replaced must not remove its successor.
func (t *idTable[T]) del(v T) {
	var zero T
	if t.n == 0 {
		return
	}
	id := v.tableID()
	mask := len(t.slots) - 1
	i := t.home(id)
	for {
		x := t.slots[i]
		if x == zero || x.tableID() == id {
			if x != v {
				return
			}
			break
		}
		i = (i + 1) & mask
	}
	// Shift back every later entry of the run that the hole at i would
	// cut off from its home slot h: those with i in [h, j).
	for j := (i + 1) & mask; t.slots[j] != zero; j = (j + 1) & mask {
		h := t.home(t.slots[j].tableID())
		if (i-h)&mask < (j-h)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = zero
	t.n--
	if len(t.slots) > idTableMin && t.n < len(t.slots)/8 {
		t.resize(len(t.slots) / 2)
	}
}

// all yields every element once, in no particular order. The loop body
// must not add or delete.
func (t *idTable[T]) all() iter.Seq[T] {
	return func(yield func(T) bool) {
		var zero T
		for _, v := range t.slots {
			if v != zero && !yield(v) {
				return
			}
		}
	}
}

// home is the slot where the probe for id starts.
func (t *idTable[T]) home(id string) int {
	return int(maphash.String(t.seed, id) & uint64(len(t.slots)-1))
}

// resize moves the elements to an array of size slots.
func (t *idTable[T]) resize(size int) {
	old := t.slots
	t.slots = make([]T, size)
	var zero T
	for _, v := range old {
		if v != zero {
			t.put(v)
		}
	}
}

// put stores v, whose id is not in the table, in the first free slot of
// its probe.
func (t *idTable[T]) put(v T) {
	var zero T
	mask := len(t.slots) - 1
	i := t.home(v.tableID())
	for t.slots[i] != zero {
		i = (i + 1) & mask
	}
	t.slots[i] = v
}
