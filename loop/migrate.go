package loop

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// handOver moves the socket of c, with the unread bytes in, to another
// reactor (target) or, when target is nil, out of gnet to the net/http
// fallback handler. Session state never moves: a request that names a
// session is served on the session's home reactor, so its socket goes
// there. The fd is duplicated, the gnet conn closed without shutdown, and
// the duplicate enrolled elsewhere: the TCP connection itself is untouched.
//
// It marks c as migrating; the caller returns gnet.Close for it.
func (cs *connState) handOver(c gnet.Conn, in []byte, target *reactor) {
	srv := cs.r.srv
	nc, err := dupConn(c)
	if err != nil {
		srv.log.Warn("cannot move connection", "remote", remoteOf(c), "err", err)
		cs.writeFatal(c, 500, "Internal Server Error")
		return
	}
	carry := append([]byte(nil), in...)
	cs.migrating = true
	if target == nil {
		srv.bridge.push(&prefixConn{Conn: nc, prefix: carry})
		return
	}
	next := &connState{r: target, x: &connExtra{carry: carry}}
	if _, err := target.el.Enroll(gnet.NewContext(context.Background(), next), nc); err != nil {
		_ = nc.Close()
		srv.log.Warn("cannot move connection", "err", err)
	}
}

// dupConn returns a net.Conn over a duplicate of c's socket.
func dupConn(c gnet.Conn) (net.Conn, error) {
	fd, err := c.Dup()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "sioloop-conn")
	defer f.Close()
	return net.FileConn(f)
}

// prefixConn is a net.Conn whose first reads return bytes already read
// from the socket by a reactor.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// bridgeListener is a net.Listener fed with connections handed over from
// the reactors, so the admin routes on the client port are served by the
// very same http.Handler as on the admin port.
type bridgeListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newBridgeListener() *bridgeListener {
	return &bridgeListener{ch: make(chan net.Conn, 128), done: make(chan struct{})}
}

func (l *bridgeListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	default:
		// Never block a reactor: hand the send to a goroutine.
		go func() {
			select {
			case l.ch <- c:
			case <-l.done:
				_ = c.Close()
			}
		}()
	}
}

// Accept implements net.Listener.
func (l *bridgeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, errors.New("loop: bridge listener closed")
	}
}

// Close implements net.Listener.
func (l *bridgeListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *bridgeListener) Addr() net.Addr { return bridgeAddr{} }

type bridgeAddr struct{}

func (bridgeAddr) Network() string { return "bridge" }
func (bridgeAddr) String() string  { return "sioloop-client-port" }
