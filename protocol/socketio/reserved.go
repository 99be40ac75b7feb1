package socketio

// IsReservedEvent reports whether name (an unescaped event name) is one
// that clients reserve (socket.io-parser RESERVED_EVENTS), so a server must
// not emit it.
func IsReservedEvent(name []byte) bool {
	for _, r := range reservedEvents {
		if string(name) == r {
			return true
		}
	}
	return false
}
