package uring

import "syscall"

// Completion is the outcome of one send: Res is the number of bytes sent,
// or a negated errno (-EAGAIN: the socket had no room at all).
type Completion struct {
	Tag uint64
	Res int32
}

// Err returns Res as an error, or nil when it is a byte count.
func (c Completion) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// MaxIovecs is how many buffers all the multi-buffer sends queued between
// two flushes may hold together.
const MaxIovecs = 4096

// MaxBufs is the most buffers one send may have (the kernel's IOV_MAX).
const MaxBufs = 1024
