package loop

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// checkRooms verifies the room indexes of l both ways: every room a
// socket holds lists it at the recorded position, and every member of a
// room holds that room.
func checkRooms(t *testing.T, l *nsLocal) {
	t.Helper()
	for _, so := range l.sockets {
		holes := 0
		for i, ref := range so.rooms {
			if ref.set == nil {
				holes++
				continue
			}
			if l.rooms[ref.name] != ref.set || ref.set.members[ref.idx] != so || so.roomIx[ref.name] != i {
				t.Fatalf("socket %s: room %q at %d is not indexed right", so.id, ref.name, i)
			}
		}
		if holes != int(so.holes) || len(so.roomIx) != so.RoomCount() {
			t.Fatalf("socket %s: %d holes counted %d; %d indexed, %d rooms", so.id, holes, so.holes, len(so.roomIx), so.RoomCount())
		}
	}
	for name, set := range l.rooms {
		if len(set.members) == 0 {
			t.Fatalf("room %q is empty but indexed", name)
		}
		for _, so := range set.members {
			if !so.inRoom(name) {
				t.Fatalf("room %q lists %s, which is not in it", name, so.id)
			}
		}
	}
}

// TestRoomsJoinLeaveMany: 100k rooms joined and left in random order by
// one socket, while two others share some of them (so leaving moves other
// members and fixes their positions), takes about a second: each step is
// O(1). Before rooms were a set this took minutes.
func TestRoomsJoinLeaveMany(t *testing.T) {
	io, r := testIO(t)
	var socks []*Socket
	for range 3 {
		cl := newSIOClient(t, r, io)
		cl.send(1, "40")
		cl.read()
		socks = append(socks, cl.s.sio.sockets[0])
	}
	const n = 100_000
	names := make([]string, n)
	for i := range names {
		names[i] = "room-" + strconv.Itoa(i)
	}
	for i, name := range names {
		if i%10 == 0 {
			socks[1].Join(name)
		}
		if i%7 == 0 {
			socks[2].Join(name)
		}
	}
	start := time.Now()
	for _, name := range names {
		socks[0].Join(name)
	}
	took := time.Since(start)
	socks[0].Join(names[5]) // again: no-op
	if got := socks[0].RoomCount(); got != n {
		t.Fatalf("RoomCount = %d, want %d", got, n)
	}
	l := r.peek(io.Namespace("/"))
	checkRooms(t, l)
	rnd := rand.New(rand.NewPCG(1, 2))
	order := rnd.Perm(n)
	start = time.Now()
	for _, i := range order[:n/3] {
		socks[0].Leave(names[i])
	}
	took += time.Since(start)
	checkRooms(t, l)
	start = time.Now()
	for _, i := range order[n/3:] {
		socks[0].Leave(names[i])
	}
	socks[0].Leave("never-joined")
	took += time.Since(start)
	checkRooms(t, l)
	if got := socks[0].Rooms(); len(got) != 1 || got[0] != socks[0].id {
		t.Fatalf("Rooms() after leaving all = %d names", len(got))
	}
	if len(l.rooms) != n/10+n/7+1-n/70-1 { // rooms still held by the others
		t.Fatalf("%d rooms left on the reactor", len(l.rooms))
	}
	// A guard against quadratic steps (minutes), not a speed goal: the
	// bound leaves room for -race on a loaded 2-core machine.
	if took > 30*time.Second {
		t.Fatalf("joining and leaving %d rooms took %v: a step is no longer O(1)", n, took)
	}
	t.Logf("%d rooms joined and left in %v", n, took)
}

// TestRoomsOrder: Rooms lists the own id first, then the joined rooms in
// join order, across leaves from the middle and the compactions they cause.
func TestRoomsOrder(t *testing.T) {
	io, r := testIO(t)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.read()
	so := cl.s.sio.sockets[0]
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		so.Join(name)
	}
	so.Leave("b")
	so.Leave("d")
	so.Join("b")
	so.Leave("c") // three holes of six slots: compaction
	so.Leave("a")
	so.Join("z")
	got := so.Rooms()
	want := []string{so.id, "e", "b", "z"}
	if len(got) != len(want) {
		t.Fatalf("Rooms() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Rooms() = %q, want %q", got, want)
		}
	}
	checkRooms(t, r.peek(io.Namespace("/")))
	cl.send(1, "41")
	if so.RoomCount() != 0 || len(r.peek(io.Namespace("/")).rooms) != 0 {
		t.Fatal("a socket that left its namespace keeps rooms")
	}
}

// TestPrivateRooms: with PrivateRooms, OnRoom and OnRoomRemoved report a
// socket's own id room when it joins and leaves its namespace; without it
// they never do.
func TestPrivateRooms(t *testing.T) {
	for _, private := range []bool{true, false} {
		io, r := testIO(t)
		var mu sync.Mutex
		var got []string
		io.OnRoom = func(ns, room string) { mu.Lock(); got = append(got, "+"+ns+" "+room); mu.Unlock() }
		io.OnRoomRemoved = func(ns, room string) { mu.Lock(); got = append(got, "-"+ns+" "+room); mu.Unlock() }
		io.PrivateRooms = private
		cl := newSIOClient(t, r, io)
		cl.send(1, "40")
		cl.read()
		so := cl.s.sio.sockets[0]
		so.Disconnect(false)
		var want []string
		if private {
			want = []string{"+/ " + so.id, "-/ " + so.id}
		}
		mu.Lock()
		if !slices.Equal(got, want) {
			t.Errorf("PrivateRooms %v: hooks saw %q, want %q", private, got, want)
		}
		mu.Unlock()
	}
}
