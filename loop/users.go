package loop

import (
	"strconv"
	"strings"
	"sync"
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

// userCounts counts the sockets of each user, for MaxUserConnections. A
// user with no socket has no entry. One lock for the process: it is
// taken once when a socket of a user connects and once when it leaves,
// never by a message or a broadcast.
type userCounts struct {
	mu sync.Mutex
	n  map[string]int32
}

// acquire counts one more socket for id unless it has max already.
func (u *userCounts) acquire(id string, max int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if int(u.n[id]) >= max {
		return false
	}
	if u.n == nil {
		u.n = make(map[string]int32)
	}
	u.n[id]++
	return true
}

// release counts one socket fewer for id.
func (u *userCounts) release(id string) {
	u.mu.Lock()
	if u.n[id] <= 1 {
		delete(u.n, id)
	} else {
		u.n[id]--
	}
	u.mu.Unlock()
}

// UserConnections returns the number of sockets of user id that count
// against MaxUserConnections now (0 when MaxUserConnections is off). Any
// goroutine.
func (io *SocketIO) UserConnections(id string) int {
	io.users.mu.Lock()
	defer io.users.mu.Unlock()
	return int(io.users.n[id])
}

// admitUser is the last step of a CONNECT that every middleware (and
// connection state recovery) accepted, right before the socket is added:
// a socket with a UserID takes one of its user's MaxUserConnections slots
// (given back by Socket.remove) and joins its user room. It returns the
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
	if max := io.MaxUserConnections; max > 0 {
		if !io.users.acquire(so.UserID, max) {
			io.srv.countRefusal(RefusedMaxUserConnections)
			return userLimitError(max)
		}
		so.userSlot = true
	}
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
