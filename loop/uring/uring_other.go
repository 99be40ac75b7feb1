//go:build !linux

// Package uring sends to many sockets with one system call through an
// io_uring. io_uring is Linux only: elsewhere New fails and callers write
// with write(2).
package uring

import "errors"

// Ring is not available on this system.
type Ring struct{}

// New fails: io_uring is Linux only.
func New(entries int) (*Ring, error) { return nil, errors.ErrUnsupported }

func (r *Ring) Fd() int                                     { return -1 }
func (r *Ring) Cap() int                                    { return 0 }
func (r *Ring) Queued() int                                 { return 0 }
func (r *Ring) Send(fd int, bufs [][]byte, tag uint64) bool { return false }
func (r *Ring) Flush() ([]Completion, error)                { return nil, nil }
func (r *Ring) Close() error                                { return nil }
