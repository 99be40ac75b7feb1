package adminui

import (
	"errors"

	"sioloop/loop"
)

var (
	// ErrNoAuth is returned by New when neither credentials nor NoAuth
	// are set: an admin page open to anyone must be asked for.
	ErrNoAuth = errors.New("adminui: set a username and a bcrypt password hash, or NoAuth")
	// ErrNotBcrypt is returned by New for a PasswordHash that is not a
	// bcrypt hash.
	ErrNotBcrypt = errors.New("adminui: the password hash is not a bcrypt hash")
)

// errInvalid refuses a page's CONNECT with Node's message, which the page
// shows ("Invalid credentials").
var errInvalid = &loop.ConnectError{Message: "invalid credentials"}
