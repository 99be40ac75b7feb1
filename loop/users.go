package loop

import (
	"math"
	"strconv"
	"strings"
)

// Users. Every socket whose UserID is set (by the namespace middleware,
// the JWT "sub" in the service) is in the reserved room UserRoom(UserID)
// for as long as it is connected, so "the sockets of user 42 on every
// server" is a plain room target that the cluster adapters carry
// unchanged, and a Node server of a mixed cluster can join the same room
// name. With MaxUserConnections set, the sockets of one user are also
// counted, process-wide.

// UserRoomPrefix starts the name of every user room. Rooms with it are
// reserved: the service lets no client subscribe to one or leave it.
const UserRoomPrefix = "user:"

// UserRoom returns the room every socket of user id is in: "user:" + id.
func UserRoom(id string) string { return UserRoomPrefix + id }

// IsUserRoom reports whether name is a user room (starts with
// UserRoomPrefix).
func IsUserRoom(name string) bool { return strings.HasPrefix(name, UserRoomPrefix) }

// UserConnections returns the number of sockets of user id connected to
// io now, all namespaces together (what MaxUserConnections bounds). In
// an OnDisconnect hook the leaving socket no longer counts. Any
// goroutine.
func (io *SocketIO) UserConnections(id string) int {
	return io.users.get(id)
}

// admitUser is the last step of a CONNECT that every middleware (and
// connection state recovery) accepted, right before the socket is added:
// a socket with a UserID is counted for its user (given back by
// Socket.remove), within MaxUserConnections when set, and joins its user
// room. It returns the
// CONNECT_ERROR the client gets when the user has MaxUserConnections
// sockets already; nothing was taken then. A recovered socket counts like
// a new one, and joins the room again (its kept rooms hold it too: Join
// does nothing the second time). Reactor of so.
//
// A CONNECT whose reply is sent later (an asynchronous middleware) must
// call it where that reply is finally sent, not before: a socket counts
// from the moment it is admitted.
func (io *SocketIO) admitUser(so *Socket) *ConnectError {
	if so.UserID == "" {
		return nil
	}
	max := io.MaxUserConnections
	if max <= 0 {
		max = math.MaxInt32
	}
	if !io.users.acquire(so.UserID, max) {
		io.srv.countRefusal(RefusedMaxUserConnections)
		return userLimitError(max)
	}
	so.userSlot = true
	so.Join(UserRoom(so.UserID))
	return nil
}

// userLimitError is the CONNECT_ERROR of a socket past
// MaxUserConnections; socket.io-client hands it to connect_error as
// err.message and err.data.
func userLimitError(max int) *ConnectError {
	n := strconv.Itoa(max)
	return &ConnectError{
		Message: "too many connections for this user: MAX_USER_CONNECTIONS (" + n + ")",
		Data:    []byte(`{"limit":"MAX_USER_CONNECTIONS","max":` + n + `}`),
	}
}
