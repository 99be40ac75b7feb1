package loop

import (
	"context"
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadDir("."); len(after) != len(before) {
		t.Fatalf("the server left files in its working directory: %d entries before, %d after", len(before), len(after))
	}
}
