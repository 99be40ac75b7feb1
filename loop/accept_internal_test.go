package loop

import (
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPrivateListenerIsSealed: gnet's own listener (it needs one to run)
// takes no connection, so gnet's accept never runs and never fails, and
// the server leaves no file behind (a container's root may be read-only).
func TestPrivateListenerIsSealed(t *testing.T) {
	before, _ := os.ReadDir(".")
	srv := New(Config{Addr: "127.0.0.1:0", EventLoops: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	stop := serveInternal(t, srv)
	fd, err := srv.eng.Dup()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 300*time.Millisecond)
	if err == nil {
		c.Close()
		t.Fatalf("connected to gnet's private listener on port %d", port)
	}
	if srv.Connections() != 0 {
		t.Fatalf("%d connections after dialing the private listener", srv.Connections())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadDir("."); len(after) != len(before) {
		t.Fatalf("the server left files in its working directory: %d entries before, %d after", len(before), len(after))
	}
}

// TestDirectEnroll: once every reactor has been seen, accepted sockets go
// to the reactors directly (enroll.go), spread over them, and serve.
func TestDirectEnroll(t *testing.T) {
	srv := New(Config{Addr: "127.0.0.1:0", EventLoops: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	stop := serveInternal(t, srv)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	const n = 60
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", srv.acc.addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i < 10 {
			// One at a time at first, so the registrations that discover
			// the reactors reach both.
			waitFor(t, func() bool { return srv.Connections() == i+1 })
		}
	}
	waitFor(t, func() bool { return srv.Connections() == n })
	if d := srv.acc.direct.Load(); d == 0 || !directEnroll((*srv.reactors.Load())[0].el) {
		t.Fatalf("%d of %d sockets enrolled directly (gnet's event loop is %T): the linked gnet functions are not used", d, n, (*srv.reactors.Load())[0].el)
	}
	for _, r := range *srv.reactors.Load() {
		if c := r.conns.Load(); c < n/4 {
			t.Errorf("reactor %d holds %d of %d connections", r.idx, c, n)
		}
	}
	// The last socket was enrolled directly: it is served.
	c := conns[n-1]
	if _, err := io.WriteString(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf[:9]) != "HTTP/1.1 " {
		t.Fatalf("read %q, %v: want an HTTP response", buf, err)
	}
}

// TestRemoteTCPAddr: the peer address gnet keeps for a directly enrolled
// socket is the one its own acceptor would make.
func TestRemoteTCPAddr(t *testing.T) {
	for _, tc := range []struct {
		sa   unix.Sockaddr
		want string
	}{
		{&unix.SockaddrInet4{Port: 5000, Addr: [4]byte{127, 0, 0, 1}}, "127.0.0.1:5000"},
		{&unix.SockaddrInet6{Port: 443, Addr: [16]byte{15: 1}}, "[::1]:443"},
		{&unix.SockaddrInet6{Port: 80, Addr: [16]byte{10: 0xff, 11: 0xff, 12: 10, 15: 2}}, "10.0.0.2:80"},
		{&unix.SockaddrInet6{Port: 80, Addr: [16]byte{0: 0xfe, 1: 0x80, 15: 1}, ZoneId: 1}, "[fe80::1%lo]:80"},
	} {
		if got := remoteTCPAddr(tc.sa).String(); got != tc.want {
			t.Errorf("remoteTCPAddr(%+v) = %s, want %s", tc.sa, got, tc.want)
		}
	}
}

// TestAcceptorsStop: stop ends the accept loops and closes the listeners,
// before or after start, any number of times.
func TestAcceptorsStop(t *testing.T) {
	srv := New(Config{Addr: "127.0.0.1:0", EventLoops: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	lns, err := srv.listen()
	if err != nil {
		t.Fatal(err)
	}
	a := &acceptors{lns: lns}
	a.stop()
	a.stop()
	a.start(srv) // after stop: nothing starts
	if _, err := lns[0].Accept(); err == nil {
		t.Fatal("the listener is still open after stop")
	}
	lns, err = srv.listen()
	if err != nil {
		t.Fatal(err)
	}
	a = &acceptors{lns: lns}
	a.start(srv)
	done := make(chan struct{})
	go func() { a.stop(); a.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("stop did not end the accept loops")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
