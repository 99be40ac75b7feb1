package main

import "testing"

func TestRoomAssignment(t *testing.T) {
	// 3 servers, 100 rooms, 15,000 clients: 150 members per room.
	const clients, rooms, servers = 15000, 100, 3
	members := make([]int, rooms)
	perServer := [2][servers]int{}
	roomServers := make([]map[int]bool, rooms)
	for i := range clients {
		k := RoomOf(i, rooms)
		members[k]++
		for a, aff := range []bool{false, true} {
			perServer[a][RoomTarget(i, rooms, servers, aff)]++
		}
		if roomServers[k] == nil {
			roomServers[k] = map[int]bool{}
		}
		roomServers[k][RoomTarget(i, rooms, servers, true)] = true
	}
	for k, m := range members {
		if m != 150 || RoomMembers(k, clients, rooms) != 150 {
			t.Fatalf("room %d: %d members, RoomMembers %d, want 150", k, m, RoomMembers(k, clients, rooms))
		}
		if len(roomServers[k]) != 1 {
			t.Fatalf("room %d on %d servers with affinity, want 1", k, len(roomServers[k]))
		}
	}
	if perServer[0] != [servers]int{5000, 5000, 5000} || perServer[1] != [servers]int{5100, 4950, 4950} {
		t.Fatalf("clients per server %v (in turn), %v (affinity)", perServer[0], perServer[1])
	}
	// Without affinity every server holds members of every room.
	seen := map[[2]int]bool{}
	for i := range clients {
		seen[[2]int{RoomOf(i, rooms), RoomTarget(i, rooms, servers, false)}] = true
	}
	if len(seen) != rooms*servers {
		t.Fatalf("%d (room, server) pairs in turn, want %d", len(seen), rooms*servers)
	}
}

func TestRoomMembers(t *testing.T) {
	f := func(k, clients, rooms, want int) {
		t.Helper()
		if got := RoomMembers(k, clients, rooms); got != want {
			t.Errorf("RoomMembers(%d, %d, %d) = %d, want %d", k, clients, rooms, got, want)
		}
	}
	f(0, 10, 3, 4)
	f(1, 10, 3, 3)
	f(2, 10, 3, 3)
	f(5, 3, 10, 0)
}

func TestExpectedRoomDeliveries(t *testing.T) {
	// 10 clients in 3 rooms (4, 3, 3); seqs 1..7 go to rooms 0,1,2,0,1,2,0;
	// seq 5 was not accepted.
	got := expectedRoomDeliveries(func(seq uint64) bool { return seq != 5 }, 7, 10, 3)
	if want := uint64(4 + 3 + 3 + 4 + 3 + 4); got != want {
		t.Fatalf("expected %d, want %d", got, want)
	}
	if RoomOfSeq(1, 3) != 0 || RoomOfSeq(3, 3) != 2 || RoomOfSeq(4, 3) != 0 {
		t.Fatal("RoomOfSeq")
	}
}

func TestAppendSubscribe(t *testing.T) {
	if got := string(AppendSubscribe(nil, "/", 42)); got != `42["subscribe","room-42"]` {
		t.Fatalf("got %s", got)
	}
	if got := string(AppendSubscribe(nil, "/chat", 0)); got != `42/chat,["subscribe","room-0"]` {
		t.Fatalf("got %s", got)
	}
	b := AppendBroadcastBody(nil, "bench", "/", 1, 2, "", 7)
	if got := string(b); got != `{"channel":"bench","rooms":["room-7"],"payload":{"seq":1,"ts":2,"pad":""}}` {
		t.Fatalf("got %s", got)
	}
}
