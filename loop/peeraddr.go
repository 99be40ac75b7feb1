package loop

import (
	"net"
	"reflect"
	"sync"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet keeps, for every connection it enrolls, the net.Conn's local and
// remote *net.TCPAddr and a unix.Sockaddr of the peer: 256 bytes a
// connection with the sockaddrs their IPs alias, the largest part of an
// idle client's memory after gnet's own conn. A WebSocket session never
// reads them after its handshake (the session keeps the address it was
// opened from), and gnet reads them only for UDP, so once a connection
// speaks WebSocket the server lets them go.
//
// gnet offers no way to enroll a descriptor without a net.Conn, nor to
// drop what it copied from one, so dropPeerAddrs clears the three fields
// of gnet's conn through their offsets, found once by name and type. If
// a gnet release renames or retypes them, peerAddrFields finds nothing and
// connections keep their addresses: memory, not behaviour, changes
// (TestDropPeerAddrs fails then).

var peerAddrFields struct {
	once sync.Once
	typ  reflect.Type // *gnet.conn
	addr []uintptr    // offsets of the net.Addr fields localAddr and remoteAddr
	sa   uintptr      // offset of the unix.Sockaddr field remote, 0 if not found
}

// findPeerAddrFields looks up the fields in the dynamic type of c.
func findPeerAddrFields(c gnet.Conn) {
	t := reflect.TypeOf(c)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return
	}
	netAddr := reflect.TypeFor[net.Addr]()
	sockaddr := reflect.TypeFor[unix.Sockaddr]()
	var addr []uintptr
	var sa uintptr
	for _, f := range reflect.VisibleFields(t.Elem()) {
		switch {
		case (f.Name == "localAddr" || f.Name == "remoteAddr") && f.Type == netAddr:
			addr = append(addr, f.Offset)
		case f.Name == "remote" && f.Type == sockaddr:
			sa = f.Offset
		}
	}
	if len(addr) != 2 || sa == 0 {
		return
	}
	peerAddrFields.typ, peerAddrFields.addr, peerAddrFields.sa = t, addr, sa
}

// dropPeerAddrs makes gnet forget c's addresses: c.LocalAddr and
// c.RemoteAddr return nil afterwards. Only for a TCP connection of this
// server's gnet engine.
func dropPeerAddrs(c gnet.Conn) {
	peerAddrFields.once.Do(func() { findPeerAddrFields(c) })
	if peerAddrFields.typ == nil || reflect.TypeOf(c) != peerAddrFields.typ {
		return
	}
	p := reflect.ValueOf(c).UnsafePointer()
	for _, off := range peerAddrFields.addr {
		*(*net.Addr)(unsafe.Add(p, off)) = nil
	}
	*(*unix.Sockaddr)(unsafe.Add(p, peerAddrFields.sa)) = nil
}

// gnet also sets, on every connection, a method value of its processIO
// as the connection's poller callback: a 16-byte closure. Its default
// epoll poller finds a connection by its descriptor and never calls it
// (only a build with gnet's poll_opt tag does, which this module does not
// use), so OnOpen drops it: dropPollCallback clears the field
// pollAttachment.Callback, found once by name and type like the
// addresses above (TestDropPeerAddrs checks both).
var pollCallbackField struct {
	once sync.Once
	typ  reflect.Type // *gnet.conn
	off  uintptr      // offset of pollAttachment.Callback, 0 if not found
}

// findPollCallback looks up pollAttachment.Callback in the dynamic type of c.
func findPollCallback(c gnet.Conn) {
	t := reflect.TypeOf(c)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return
	}
	pa, ok := t.Elem().FieldByName("pollAttachment")
	if !ok || pa.Type.Kind() != reflect.Struct {
		return
	}
	cb, ok := pa.Type.FieldByName("Callback")
	if !ok || cb.Type.Kind() != reflect.Func {
		return
	}
	pollCallbackField.typ, pollCallbackField.off = t, pa.Offset+cb.Offset
}

// dropPollCallback clears c's poller callback. Only for a connection of
// this server's gnet engine, on its loop.
func dropPollCallback(c gnet.Conn) {
	pollCallbackField.once.Do(func() { findPollCallback(c) })
	if pollCallbackField.typ == nil || reflect.TypeOf(c) != pollCallbackField.typ {
		return
	}
	*(*unsafe.Pointer)(unsafe.Add(reflect.ValueOf(c).UnsafePointer(), pollCallbackField.off)) = nil
}

// remoteOf names c's peer for a log line: its address while gnet keeps
// it, else the address its session was opened from.
func remoteOf(c gnet.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	if cs, _ := c.Context().(*connState); cs != nil && cs.sess != nil {
		return cs.sess.RemoteAddr()
	}
	return "unknown"
}
