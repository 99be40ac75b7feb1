package loop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// startSIO runs a real server with Socket.IO at /socket.io/ on a loopback
// port and stops it when the test ends.
func startSIO(t *testing.T, cfg Config) (*Server, *SocketIO, string) {
	t.Helper()
	return startSIOWith(t, cfg, nil)
}

// startSIOWith is startSIO with setup run on the SocketIO before Serve,
// where namespaces and handlers are declared.
func startSIOWith(t *testing.T, cfg Config, setup func(*SocketIO)) (*Server, *SocketIO, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	ln.Close()
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 2
	}
	srv := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sio := NewSocketIO(srv)
	if setup != nil {
		setup(sio)
	}
	srv.Handle("/socket.io/", sio)
	stop := serveInternal(t, srv)
	t.Cleanup(func() { _ = stop() })
	return srv, sio, cfg.Addr
}

// serveInternal runs srv and returns once it listens; stop shuts it down
// and returns what Shutdown, then Serve, returned.
func serveInternal(t *testing.T, srv *Server) (stop func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Started():
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serr := <-errc; err == nil {
			err = serr
		}
		return err
	}
}

// dialSIO opens a Socket.IO WebSocket client on addr and joins "/". With
// a small rcvbuf the kernel holds little for it, so a client that never
// reads backs up into the server quickly.
func dialSIO(t *testing.T, addr string, rcvbuf int) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	// The handshake is written by hand so that the socket options apply.
	fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	rw := struct {
		io.Reader
		io.Writer
	}{br, c}
	if _, err := wsutil.ReadServerText(rw); err != nil { // open packet
		t.Fatal(err)
	}
	if err := wsutil.WriteClientText(c, []byte("40")); err != nil {
		t.Fatal(err)
	}
	msg, err := wsutil.ReadServerText(rw)
	if err != nil || !strings.HasPrefix(string(msg), `40{"sid"`) {
		t.Fatalf("CONNECT reply %q, %v", msg, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, br
}

// TestSlowConsumersAreBounded holds 100 clients that never read while
// 10,000 broadcasts go out: the server's heap stays bounded (each stalled
// client costs at most MaxOutboundBytes before it is dropped as a slow
// consumer) and every reading client gets every packet, in order.
func TestSlowConsumersAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 10,000 broadcasts")
	}
	for _, mode := range sendModes {
		t.Run(mode.name, func(t *testing.T) {
			slowConsumersAreBounded(t, mode.cfg)
		})
	}
}

func slowConsumersAreBounded(t *testing.T, cfg Config) {
	const (
		stalled     = 100
		readers     = 10
		broadcasts  = 10000
		maxOutbound = 256 << 10
	)
	cfg.MaxOutboundBytes = maxOutbound
	srv, sio, addr := startSIO(t, cfg)
	var sleepers []net.Conn
	for i := 0; i < stalled; i++ {
		c, _ := dialSIO(t, addr, 4096)
		sleepers = append(sleepers, c)
	}
	defer func() {
		for _, c := range sleepers {
			c.Close()
		}
	}()
	wait := runReaders(t, addr, readers, 0, 60*time.Second, func(_ int, rw io.Reader) error {
		for want := 0; want < broadcasts; {
			msg, err := wsutil.ReadServerText(struct {
				io.Reader
				io.Writer
			}{rw, io.Discard})
			if err != nil {
				return fmt.Errorf("reader stopped after %d packets: %v", want, err)
			}
			if string(msg) == "2" {
				continue
			}
			prefix := fmt.Sprintf(`42["tick",%d,`, want)
			if !strings.HasPrefix(string(msg), prefix) {
				return fmt.Errorf("packet %d: got %.40q", want, msg)
			}
			want++
		}
		return nil
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	pad := `"` + strings.Repeat("x", 400) + `"`
	var peak uint64
	for i := 0; i < broadcasts; i++ {
		if _, err := sio.Broadcast(&Broadcast{Event: "tick", Args: []byte(fmt.Sprintf("%d,%s", i, pad))}); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	}
	for _, err := range wait() {
		t.Error(err)
	}
	// 100 stalled clients × 4 MB of broadcasts would be ~400 MB unbounded.
	const bound = 80 << 20
	if grown := int64(peak) - int64(before.HeapInuse); grown > bound {
		t.Errorf("heap grew by %d MB while clients stalled, want < %d MB", grown>>20, bound>>20)
	}
	snap := srv.Snapshot()
	if snap.SlowConsumers < stalled {
		t.Errorf("%d slow-consumer disconnects, want %d", snap.SlowConsumers, stalled)
	}
	checkSendMode(t, cfg, snap)
	t.Logf("heap peak +%d MB, slow consumers %d, deliveries %d, io_uring sends %d", (int64(peak)-int64(before.HeapInuse))>>20, snap.SlowConsumers, snap.Deliveries, snap.IOURingSends)
}

// runReaders dials n Socket.IO clients (rcvbuf as for dialSIO) and runs read
// for each in its own goroutine, with a read deadline of timeout; wait
// returns the errors they ended with.
func runReaders(t *testing.T, addr string, n, rcvbuf int, timeout time.Duration, read func(i int, r io.Reader) error) (wait func() []error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		c, br := dialSIO(t, addr, rcvbuf)
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(i, br); err != nil {
				errs <- err
			}
		}()
	}
	return func() []error {
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return all
	}
}
