package loop

import (
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

// memConn is an in-memory gnet.Conn for driving the reactor code without
// sockets: input is what a test feeds it, output is counted and, when
// keep is set, kept. Methods the loop does not call panic through the
// nil embedded interface.
type memConn struct {
	gnet.Conn
	ctx     any
	in      []byte
	out     []byte
	keep    bool
	writes  int
	bytes   int
	closed  bool
	pending int // pretend-queued outbound bytes
	sock    int // a real socket the io_uring path sends to; 0: none
}

func (m *memConn) Context() any             { return m.ctx }
func (m *memConn) SetContext(v any)         { m.ctx = v }
func (m *memConn) RemoteAddr() net.Addr     { return memAddr{} }
func (m *memConn) OutboundBuffered() int    { return m.pending }
func (m *memConn) Close() error             { m.closed = true; return nil }
func (m *memConn) Peek(int) ([]byte, error) { return m.in, nil }
func (m *memConn) InboundBuffered() int     { return len(m.in) }

func (m *memConn) Fd() int {
	if m.sock > 0 {
		return m.sock
	}
	return -1
}

func (m *memConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(m.in) {
		n = len(m.in)
	}
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) Write(b []byte) (int, error) {
	m.writes++
	m.bytes += len(b)
	if m.keep {
		m.out = append(m.out, b...)
	}
	return len(b), nil
}

func (m *memConn) Writev(bs [][]byte) (int, error) {
	m.writes++
	n := 0
	for _, b := range bs {
		n += len(b)
		if m.keep {
			m.out = append(m.out, b...)
		}
	}
	m.bytes += n
	return n, nil
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem:0" }

// testReactor returns a server with one reactor that is not backed by a
// gnet loop: everything runs on the test goroutine.
func testReactor(cfg Config) (*Server, *reactor) {
	cfg.EventLoops = 1
	srv := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newReactor(srv, nil, 0)
	list := []*reactor{r}
	srv.reactors.Store(&list)
	return srv, r
}

// testMount returns srv's mount of h, added at a path of its own on the
// first call.
func testMount(srv *Server, h Handler) *mount {
	for i := range srv.mounts {
		if srv.mounts[i].handler == h {
			return &srv.mounts[i]
		}
	}
	srv.Handle("/mem"+strconv.Itoa(len(srv.mounts)), h)
	return &srv.mounts[len(srv.mounts)-1]
}

// wsSession opens a WebSocket session on r over a fresh memConn, as if the
// handshake had happened, and returns both.
func wsSession(r *reactor, h Handler) (*Session, *memConn) {
	c := &memConn{}
	cs := &connState{r: r, ws: true}
	c.ctx = cs
	s := newSession(r, testMount(r.srv, h), c.RemoteAddr(), "EIO=4&transport=websocket")
	s.ws = c
	cs.sess = s
	s.start()
	return s, c
}

// maskedFrame returns a client text frame carrying payload.
func maskedFrame(op byte, payload string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, mask[:]...)
	for i := 0; i < len(payload); i++ {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}
