package api

import (
	"fmt"
	"net/http"
)

// Error is an admin request the handler refused. Status is the HTTP status
// of the response and Msg the text of its body, {"error": Msg}.
type Error struct {
	Status int
	Msg    string
}

// Error returns the message prefixed with the package name.
func (e *Error) Error() string { return "api: " + e.Msg }

// Is reports whether target is an *Error with the same status, so that
// errors.Is(err, ErrBadRequest) holds for every 400, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// The sentinels below stand for each status the admin routes answer with;
// the errors actually returned carry a message that says what was wrong
// and match the sentinel of their status with errors.Is.
var (
	// ErrBadRequest (400) is a body that is not valid UTF-8 JSON, names no
	// event, has a field of the wrong type, or targets an unknown namespace.
	ErrBadRequest = &Error{http.StatusBadRequest, "bad request"}
	// ErrUnauthorized (401) is a request to a protected route without
	// "Authorization: Bearer <ADMIN_TOKEN>" while ADMIN_TOKEN is set.
	ErrUnauthorized = &Error{http.StatusUnauthorized, "missing or wrong bearer token"}
	// ErrForbidden (403) is a socket management route (GET /sockets, POST
	// /sockets/join, /sockets/leave, /sockets/disconnect) requested on the
	// client port while ADMIN_TOKEN is unset: the public reaches that port,
	// so these routes are served there only behind the token.
	ErrForbidden = &Error{http.StatusForbidden, "route served on the client port only when ADMIN_TOKEN is set"}
	// ErrNotFound (404) is a path that is no admin route.
	ErrNotFound = &Error{http.StatusNotFound, "not found"}
	// ErrMethodNotAllowed (405) is a method the route does not serve.
	ErrMethodNotAllowed = &Error{http.StatusMethodNotAllowed, "method not allowed"}
	// ErrBodyTooLarge (413) is a request body larger than MaxBodyBytes.
	ErrBodyTooLarge = &Error{http.StatusRequestEntityTooLarge, "request body too large"}
	// ErrUnsupportedMediaType (415) is a POST whose Content-Type is not
	// JSON, or is missing.
	ErrUnsupportedMediaType = &Error{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	// ErrShuttingDown (503) is a POST /SendWebsocketEvent received once
	// graceful shutdown has begun.
	ErrShuttingDown = &Error{http.StatusServiceUnavailable, "server is shutting down"}
)

// errorf returns an *Error with status and a formatted message.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}
