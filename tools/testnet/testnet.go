// Package testnet holds the helpers the tests of every package share to run
// real servers: a free loopback port, a loopback listener, a wait for an
// address to accept connections, and a Buffer for what they print. It is
// for tests only; nothing the server runs imports it.
package testnet

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago and that
// this process has not handed out before. Another process could take it
// before the server under test binds it; where that matters, use Listen
// and hand the listener over, or retry the start on "address already in use".
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreePorts returns n distinct FreePorts. The listeners that found them stay
// open until all n are chosen: closing each before asking for the next lets
// the kernel hand the same port out twice (a server then started with
// PORT and ADMIN_ADDR on one port fails to bind).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testnet: no free port: %v", err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if _, dup := given.LoadOrStore(port, true); dup {
			continue // kept open so that the next Listen gets another
		}
		ports = append(ports, port)
	}
	return ports
}

// given holds every port FreePorts returned in this process: a port a
// finished test's server released is not handed to the next one while
// the old process may still be exiting.
var given sync.Map

// FreeAddr returns "127.0.0.1:<port>" for a FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// Listen returns a listener on a fresh loopback port, closed when the
// test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// WaitListen waits until addr accepts a TCP connection, for at most d. It
// gives up early, with that error, once stopped (if not nil) returns one:
// the process that should listen has exited.
func WaitListen(addr string, d time.Duration, stopped func() error) error {
	deadline := time.Now().Add(d)
	for {
		if stopped != nil {
			if err := stopped(); err != nil {
				return err
			}
		}
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
