package main

import "strconv"

// Rooms of the fanout scenario (--rooms N): client i (counted over every
// process, in dial order) subscribes to "room-(i mod N)" once connected,
// through the server's "subscribe" event, and broadcast seq goes to
// "room-((seq-1) mod N)" only, the rooms taken in turn. With
// --room-affinity every client of a room dials the same server
// (room mod servers), as a sticky room-based routing would place them;
// without it clients take the servers in turn and every server holds
// members of every room.

// RoomOf returns the room of client i among rooms rooms.
func RoomOf(i, rooms int) int { return i % rooms }

// RoomOfSeq returns the room broadcast seq (from 1) targets.
func RoomOfSeq(seq uint64, rooms int) int { return int((seq - 1) % uint64(rooms)) }

// RoomMembers returns how many of the clients 0..clients-1 are in room k.
func RoomMembers(k, clients, rooms int) int {
	n := clients / rooms
	if k < clients%rooms {
		n++
	}
	return n
}

// RoomTarget returns the server (an index among servers) that client i
// dials: with affinity the server of its room, else the servers in turn.
func RoomTarget(i, rooms, servers int, affinity bool) int {
	if affinity && rooms > 0 {
		return RoomOf(i, rooms) % servers
	}
	return i % servers
}

// AppendRoomName appends "room-k".
func AppendRoomName(dst []byte, k int) []byte {
	return strconv.AppendInt(append(dst, "room-"...), int64(k), 10)
}

// AppendSubscribe appends the Engine.IO message of a subscribe EVENT to
// room k: 42[/nsp,]["subscribe","room-k"].
func AppendSubscribe(dst []byte, nsp string, k int) []byte {
	dst = append(dst, eioMessage, sioEvent)
	if nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	dst = append(dst, `["subscribe","`...)
	dst = AppendRoomName(dst, k)
	return append(dst, `"]`...)
}

// expectedRoomDeliveries returns the deliveries the accepted broadcasts
// owe to measured clients spread over rooms rooms: the members of each
// broadcast's room. It assumes the measured clients are the first
// measured in dial order, exact when every client connected.
func expectedRoomDeliveries(accepted func(seq uint64) bool, maxSeq uint64, measured, rooms int) uint64 {
	var n uint64
	for seq := uint64(1); seq <= maxSeq; seq++ {
		if accepted(seq) {
			n += uint64(RoomMembers(RoomOfSeq(seq, rooms), measured, rooms))
		}
	}
	return n
}
