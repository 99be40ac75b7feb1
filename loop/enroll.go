package loop

import (
	"context"
	"net"
	"reflect"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Handing an accepted socket to a reactor directly.
//
// gnet v2 takes a connection accepted outside its own listener only as a
// net.Conn (Engine.Register, EventLoop.Enroll): the accept loop would make
// a net.TCPConn (Go's netFD, its poller registration, two TCPAddrs), and
// gnet would then submit a task to its goroutine pool, which duplicates the
// descriptor, parses the remote address back from its string, and waits on
// two channels for the loop; the net.Conn is then closed. That is about a
// kilobyte of garbage and four system calls per connection, and the garbage
// of a connection storm, interleaved with the connections' own objects,
// stays as fragmentation of the heap: an idle server holds about 100 bytes
// more per client for it.
//
// So the accept loop accepts with accept4(2) itself and the reactor makes
// gnet's connection from the raw descriptor the way gnet's own acceptor
// does (newStreamConn, then register0 on the loop), reached through
// go:linkname. It depends on those two unexported functions of the gnet
// version go.mod names: directEnroll checks at start that the event loop
// is gnet's *eventloop, and TestDirectEnroll that the path is taken, so a
// gnet upgrade that changes them fails the tests rather than the clients.
// Until every reactor has been seen (gnet cannot list its loops; they are
// discovered as connections open) and whenever the check fails, the
// accepted socket goes through Register as before.

//go:linkname gnetNewStreamConn github.com/panjf2000/gnet/v2.newStreamConn
func gnetNewStreamConn(proto string, fd int, el unsafe.Pointer, sa unix.Sockaddr, localAddr, remoteAddr net.Addr) unsafe.Pointer

//go:linkname gnetRegister0 github.com/panjf2000/gnet/v2.(*eventloop).register0
func gnetRegister0(el unsafe.Pointer, c unsafe.Pointer) error

// gnetLoopType is the dynamic type of gnet's event loops that the linked
// functions expect.
const gnetLoopType = "*gnet.eventloop"

// directEnroll reports whether accepted sockets can go to el directly.
func directEnroll(el gnet.EventLoop) bool {
	return el != nil && reflect.TypeOf(el).String() == gnetLoopType
}

// loopPointer returns the *eventloop inside el (its interface data word).
func loopPointer(el gnet.EventLoop) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&el))[1]
}

// accepted is a socket accepted for a reactor.
type accepted struct {
	fd int
	sa unix.Sockaddr
}

// remoteTCPAddr is the net.Addr gnet keeps for the peer of sa, as gnet's
// own acceptor makes it.
func remoteTCPAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return nil
}

// enrollAccepted hands batch to r: on r's loop each socket becomes a gnet
// connection and opens (OnOpen). A socket r cannot take is closed.
func (r *reactor) enrollAccepted(batch []accepted, local net.Addr) {
	el := r.el
	task := func(context.Context) error {
		p := loopPointer(el)
		for _, a := range batch {
			c := gnetNewStreamConn("tcp", a.fd, p, a.sa, local, remoteTCPAddr(a.sa))
			// register0 closes the socket itself if the poller refuses it.
			_ = gnetRegister0(p, c)
		}
		return nil
	}
	if err := el.Execute(context.Background(), gnet.RunnableFunc(task)); err != nil {
		closeAccepted(batch) // the engine is stopping
	}
}

// closeAccepted closes sockets that no reactor took.
func closeAccepted(batch []accepted) {
	for _, a := range batch {
		_ = unix.Close(a.fd)
	}
}
