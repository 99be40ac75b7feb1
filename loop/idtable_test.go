package loop

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// idItem is an element of the test tables: several items may share an id.
type idItem struct{ id string }

func (x *idItem) tableID() string { return x.id }

// numberedItems returns n items with the ids id0, id1, …, each passed to
// add as it is made.
func numberedItems(n int, add func(*idItem)) []*idItem {
	items := make([]*idItem, n)
	for i := range items {
		items[i] = &idItem{"id" + strconv.Itoa(i)}
		add(items[i])
	}
	return items
}

// checkTable fails unless tb is well formed: a power-of-two array within
// the load bounds, n elements with distinct ids, each reachable from its
// home slot (no hole between the two).
func checkTable(t *testing.T, tb *idTable[*idItem]) {
	t.Helper()
	if err := loadError(tb); err != "" {
		t.Fatal(err)
	}
	mask := len(tb.slots) - 1
	n := 0
	ids := map[string]int{}
	for j, v := range tb.slots {
		if v == nil {
			continue
		}
		n++
		if k, dup := ids[v.id]; dup {
			t.Fatalf("id %q in slots %d and %d", v.id, k, j)
		}
		ids[v.id] = j
		for i := tb.home(v.id); i != j; i = (i + 1) & mask {
			if tb.slots[i] == nil {
				t.Fatalf("id %q in slot %d is cut off from its home slot %d by the empty slot %d", v.id, j, tb.home(v.id), i)
			}
		}
	}
	if n != tb.len() {
		t.Fatalf("len() = %d, the slots hold %d", tb.len(), n)
	}
}

// loadError describes how tb breaks the size and load bounds, or is "".
func loadError(tb *idTable[*idItem]) string {
	size, n := len(tb.slots), tb.n
	switch {
	case size == 0 && n == 0:
		return ""
	case size < idTableMin || size&(size-1) != 0:
		return fmt.Sprintf("%d slots: not a power of two of at least %d", size, idTableMin)
	case n*4 > size*3:
		return fmt.Sprintf("%d elements in %d slots: over 3/4", n, size)
	case size > idTableMin && n*8 < size:
		return fmt.Sprintf("%d elements in %d slots: under 1/8", n, size)
	}
	return ""
}

// collidingIDs returns k ids whose hashes in tb end in bits ones: they
// share their home slot, the last one, in every array of up to 1<<bits
// slots, so their run wraps around.
func collidingIDs(tb *idTable[*idItem], rnd *rand.Rand, k, bits int) []string {
	mask := uint64(1)<<bits - 1
	var ids []string
	for len(ids) < k {
		id := "c" + strconv.FormatUint(rnd.Uint64(), 36)
		if maphash.String(tb.seed, id)&mask == mask {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestIDTable(t *testing.T) {
	a, a2, b := &idItem{"a"}, &idItem{"a"}, &idItem{"b"}
	type op struct {
		do   string // "add", "del", "get"
		v    *idItem
		want *idItem // of get
		n    int     // len() after
	}
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"empty", []op{{"get", a, nil, 0}, {"del", a, nil, 0}}},
		{"add get del", []op{{"add", a, nil, 1}, {"get", a, a, 1}, {"get", b, nil, 1}, {"del", a, nil, 0}, {"get", a, nil, 0}}},
		{"add twice", []op{{"add", a, nil, 1}, {"add", a, nil, 1}, {"get", a, a, 1}}},
		{"replace", []op{{"add", a, nil, 1}, {"add", b, nil, 2}, {"add", a2, nil, 2}, {"get", a, a2, 2}, {"get", b, b, 2}}},
		{"del of the replaced", []op{{"add", a, nil, 1}, {"add", a2, nil, 1}, {"del", a, nil, 1}, {"get", a, a2, 1}, {"del", a2, nil, 0}}},
		{"del of a non-member", []op{{"add", a, nil, 1}, {"del", b, nil, 1}, {"get", a, a, 1}, {"get", b, nil, 1}}},
		{"del then add", []op{{"add", a, nil, 1}, {"del", a, nil, 0}, {"add", a2, nil, 1}, {"get", a, a2, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tb idTable[*idItem]
			for i, o := range tc.ops {
				switch o.do {
				case "add":
					tb.add(o.v)
				case "del":
					tb.del(o.v)
				case "get":
					if got := tb.get(o.v.id); got != o.want {
						t.Fatalf("op %d: get(%q) = %p, want %p", i, o.v.id, got, o.want)
					}
					if got := tb.getBytes([]byte(o.v.id)); got != o.want {
						t.Fatalf("op %d: getBytes(%q) = %p, want %p", i, o.v.id, got, o.want)
					}
				}
				if tb.len() != o.n {
					t.Fatalf("op %d (%s %q): len() = %d, want %d", i, o.do, o.v.id, tb.len(), o.n)
				}
				checkTable(t, &tb)
			}
		})
	}
}

// TestIDTableAgainstMap runs random adds, dels and gets on a table and on
// a Go map side by side, through growth and shrinking, with ids that
// collide in the table, ids that recur (replacements, dels of a replaced
// element) and ids never added.
func TestIDTableAgainstMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	var tb idTable[*idItem]
	tb.add(&idItem{"seed"}) // sets the seed collidingIDs needs
	tb.del(tb.get("seed"))
	pools := [][]string{collidingIDs(&tb, rnd, 300, 10), nil, nil}
	for i := range 40 {
		pools[1] = append(pools[1], "few"+strconv.Itoa(i))
	}
	for i := range 20000 {
		pools[2] = append(pools[2], "many"+strconv.Itoa(i))
	}

	m := map[string]*idItem{}
	var present []string // the keys of m, for picking one
	at := map[string]int{}
	maxSize, shrunk := 0, false
	for round := range 6 {
		growing := round%2 == 0
		for step := range 30000 {
			var id string
			if pool := pools[rnd.IntN(len(pools))]; len(present) > 0 && (!growing || rnd.IntN(4) == 0) && rnd.IntN(2) == 0 {
				id = present[rnd.IntN(len(present))]
			} else {
				id = pool[rnd.IntN(len(pool))]
			}
			cur := m[id]
			switch k := rnd.IntN(10); {
			case growing && k < 6 || !growing && k < 2: // add
				v := &idItem{id}
				tb.add(v)
				if cur == nil {
					at[id] = len(present)
					present = append(present, id)
				}
				m[id] = v
			case k < 8: // del of the element stored, or of another with its id
				if cur != nil && rnd.IntN(4) != 0 {
					tb.del(cur)
					i, last := at[id], present[len(present)-1]
					present[i], at[last] = last, i
					present = present[:len(present)-1]
					delete(at, id)
					delete(m, id)
				} else {
					tb.del(&idItem{id})
				}
			}
			if got := tb.get(id); got != m[id] {
				t.Fatalf("round %d step %d: get(%q) = %p, map has %p", round, step, id, got, m[id])
			}
			if tb.len() != len(m) {
				t.Fatalf("round %d step %d: len() = %d, map has %d", round, step, tb.len(), len(m))
			}
			if err := loadError(&tb); err != "" {
				t.Fatalf("round %d step %d: %s", round, step, err)
			}
			maxSize = max(maxSize, len(tb.slots))
			shrunk = shrunk || len(tb.slots) < maxSize
			if step%1000 == 0 {
				checkTable(t, &tb)
				compareAll(t, &tb, m)
			}
		}
		if !growing {
			// Drain what is left: the table shrinks back to its minimum.
			for _, v := range m {
				tb.del(v)
			}
			clear(m)
			present, at = present[:0], map[string]int{}
			checkTable(t, &tb)
			if len(tb.slots) != idTableMin {
				t.Fatalf("round %d: drained table has %d slots, want %d", round, len(tb.slots), idTableMin)
			}
		}
	}
	if maxSize < 4096 || !shrunk {
		t.Fatalf("the table grew to %d slots and shrank: %v; the test should take it past 4096 and back", maxSize, shrunk)
	}
}

// compareAll checks get and all against m for every id of m.
func compareAll(t *testing.T, tb *idTable[*idItem], m map[string]*idItem) {
	t.Helper()
	var got, want []*idItem
	for v := range tb.all() {
		got = append(got, v)
	}
	for id, v := range m {
		want = append(want, v)
		if x := tb.get(id); x != v {
			t.Fatalf("get(%q) = %p, map has %p", id, x, v)
		}
	}
	byID := func(a, b *idItem) int {
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	}
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if !slices.Equal(got, want) {
		t.Fatalf("all yields %d elements, the map holds %d (or others)", len(got), len(want))
	}
}

// TestIDTableCollisions deletes, in random order, from one long run of
// ids that share their home slot, the last of the array, so the run wraps
// around: every delete shifts back the rest of the run.
func TestIDTableCollisions(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	var tb idTable[*idItem]
	tb.add(&idItem{"seed"})
	tb.del(tb.get("seed"))
	ids := collidingIDs(&tb, rnd, 200, 12)
	items := make([]*idItem, len(ids))
	for i, id := range ids {
		items[i] = &idItem{id}
		tb.add(items[i])
	}
	checkTable(t, &tb)
	for _, i := range rnd.Perm(len(items)) {
		tb.del(items[i])
		items[i] = nil
		checkTable(t, &tb)
		for j, v := range items {
			if v != nil && tb.get(ids[j]) != v {
				t.Fatalf("after deleting %q, get(%q) misses", ids[i], ids[j])
			}
		}
	}
}

// TestIDTableAllocs checks that get, add and del allocate nothing once
// the array has its size.
func TestIDTableAllocs(t *testing.T) {
	var tb idTable[*idItem]
	items := numberedItems(1000, func(v *idItem) { tb.add(v) })
	hit, miss := []byte("id500"), []byte("nobody")
	other := &idItem{"id7"}
	for name, fn := range map[string]func(){
		"get":      func() { _ = tb.get("id500") },
		"getBytes": func() { _ = tb.getBytes(hit); _ = tb.getBytes(miss) },
		"add":      func() { tb.add(other); tb.add(items[7]) },
		"del, add": func() { tb.del(items[9]); tb.add(items[9]) },
		"del":      func() { tb.del(other) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %.1f allocs, want 0", name, n)
		}
	}
}

// TestIDTableMemory checks the load bounds all the way up to 10,000
// elements and back, and the bytes per element at 10,000, which the
// accounting of doc.go ("Memory per connection") counts on.
func TestIDTableMemory(t *testing.T) {
	var tb idTable[*idItem]
	items := numberedItems(10000, func(v *idItem) {
		tb.add(v)
		if err := loadError(&tb); err != "" {
			t.Fatalf("after %d adds: %s", tb.len(), err)
		}
	})
	if per := float64(len(tb.slots)*8) / float64(tb.len()); per > 16 {
		t.Errorf("%d slots for %d elements: %.1f bytes each, want at most 16", len(tb.slots), tb.len(), per)
	}
	for i, v := range items {
		tb.del(v)
		if err := loadError(&tb); err != "" {
			t.Fatalf("after %d dels: %s", i+1, err)
		}
	}
	if len(tb.slots) != idTableMin {
		t.Errorf("empty table keeps %d slots, want %d", len(tb.slots), idTableMin)
	}
}

// BenchmarkIDTableGet looks up ids of sessions in a table of 10,000,
// next to a Go map of the same (run with -benchmem).
func BenchmarkIDTableGet(b *testing.B) {
	_, r := testReactor(Config{})
	var tb idTable[*Session]
	m := map[string]*Session{}
	ids := make([][]byte, 10000)
	for i := range ids {
		s := &Session{id: r.newID()}
		tb.add(s)
		m[s.id] = s
		ids[i] = []byte(s.id)
	}
	b.Run("idTable", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if tb.getBytes(ids[i%len(ids)]) == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("map", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if m[string(ids[i%len(ids)])] == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
}
