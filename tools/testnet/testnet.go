// Package testnet holds the helpers the tests of every package share to run
// real servers: a free loopback port, a loopback listener, a wait for an
// address to accept connections, and a Buffer for what they print. It is
// for tests only; nothing the server runs imports it.
package testnet

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
// Another process could take it before the server under test binds it;
// where that matters, use Listen and hand the listener over.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

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
