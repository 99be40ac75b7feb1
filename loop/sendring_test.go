package loop

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"sioloop/loop/uring"
)

// sendModes are the two ways broadcasts leave a reactor; the fan-out tests
// run under both.
var sendModes = []struct {
	name string
	cfg  Config
}{
	{"io_uring", Config{}},
	{"write", Config{DisableIOURing: true}},
}

// checkSendMode asserts that the server sent through the ring exactly when
// it should: always with DisableIOURing off where the kernel has io_uring
// (REQUIRE_IO_URING=1 says it has), never with it on.
func checkSendMode(t *testing.T, cfg Config, snap Snapshot) {
	t.Helper()
	if cfg.DisableIOURing {
		if snap.IOURingSends != 0 {
			t.Errorf("%d io_uring sends with DisableIOURing", snap.IOURingSends)
		}
		return
	}
	if snap.IOURingSends > 0 {
		return
	}
	r, err := uring.New(1)
	if err == nil {
		r.Close()
		t.Errorf("no io_uring sends although the kernel offers io_uring")
	} else if os.Getenv("REQUIRE_IO_URING") == "1" {
		t.Errorf("io_uring unavailable (%v) with REQUIRE_IO_URING=1", err)
	}
}

// TestBroadcastFramesInOrder sends bursts of broadcasts, text and binary
// (one text frame plus an attachment frame), ~20 MB in all, to 12 clients,
// some stalling, so that batches put several frames in one send and sends
// fall short: every client must get every frame, whole and in order.
func TestBroadcastFramesInOrder(t *testing.T) {
	for _, mode := range sendModes {
		t.Run(mode.name, func(t *testing.T) { broadcastFramesInOrder(t, mode.cfg) })
	}
}

func broadcastFramesInOrder(t *testing.T, cfg Config) {
	const (
		clients    = 12
		broadcasts = 1000
	)
	cfg.MaxOutboundBytes = 64 << 20 // the stalls below must not cost a client
	srv, sio, addr := startSIO(t, cfg)
	attachment := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1+i*7919%40000) }
	wait := runReaders(t, addr, clients, 8192, 30*time.Second, func(n int, r io.Reader) error {
		rw := struct {
			io.Reader
			io.Writer
		}{r, io.Discard}
		for i := 0; i < broadcasts; i++ {
			if n%3 == 0 && i == 50 {
				// Stall while megabytes pile up, so that the server's
				// sends to this client fall short.
				time.Sleep(300 * time.Millisecond)
			}
			msg, op, err := wsutil.ReadServerData(rw)
			if err == nil && op == ws.OpText && string(msg) == "2" {
				msg, op, err = wsutil.ReadServerData(rw)
			}
			if err != nil {
				return fmt.Errorf("client %d, broadcast %d: %v", n, i, err)
			}
			if i%2 == 0 {
				if want := fmt.Sprintf(`42["tick",%d]`, i); op != ws.OpText || string(msg) != want {
					return fmt.Errorf("client %d: got %v %.60q, want %q", n, op, msg, want)
				}
				continue
			}
			want := fmt.Sprintf(`451-["blob",%d,{"_placeholder":true,"num":0}]`, i)
			if op != ws.OpText || string(msg) != want {
				return fmt.Errorf("client %d: got %v %.60q, want %q", n, op, msg, want)
			}
			bin, op, err := wsutil.ReadServerData(rw)
			if err != nil || op != ws.OpBinary || !bytes.Equal(bin, attachment(i)) {
				return fmt.Errorf("client %d, attachment %d: op %v, %d bytes, %v", n, i, op, len(bin), err)
			}
		}
		return nil
	})
	// Several posters at once make the reactors batch broadcasts; one
	// mutex keeps their order, which every client must see.
	var mu sync.Mutex
	next := 0
	var posters sync.WaitGroup
	for p := 0; p < 4; p++ {
		posters.Add(1)
		go func() {
			defer posters.Done()
			for {
				mu.Lock()
				i := next
				next++
				if i >= broadcasts {
					mu.Unlock()
					return
				}
				b := &Broadcast{Event: "tick", Args: []byte(fmt.Sprint(i))}
				if i%2 == 1 {
					b = &Broadcast{Event: "blob", Args: []byte(fmt.Sprintf(`%d,{"_placeholder":true,"num":0}`, i)), Attachments: [][]byte{attachment(i)}}
				}
				_, err := sio.Broadcast(b)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	posters.Wait()
	for _, err := range wait() {
		t.Error(err)
	}
	snap := srv.Snapshot()
	if snap.SlowConsumers != 0 {
		t.Errorf("%d slow consumers with a 64 MiB cap", snap.SlowConsumers)
	}
	checkSendMode(t, cfg, snap)
}

// TestBroadcastSkipsClosedClients: clients that vanish between broadcasts
// (reset by the peer) are dropped and the others keep getting everything.
func TestBroadcastSkipsClosedClients(t *testing.T) {
	for _, mode := range sendModes {
		t.Run(mode.name, func(t *testing.T) {
			srv, sio, addr := startSIO(t, mode.cfg)
			var live []io.Reader
			for i := 0; i < 20; i++ {
				c, br := dialSIO(t, addr, 0)
				if i%2 == 0 {
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close() // RST: the server's next send to it fails
					continue
				}
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				live = append(live, br)
			}
			time.Sleep(50 * time.Millisecond)
			for i := 0; i < 5; i++ {
				if _, err := sio.Broadcast(&Broadcast{Event: "e", Args: []byte(fmt.Sprint(i))}); err != nil {
					t.Fatal(err)
				}
			}
			for n, br := range live {
				for i := 0; i < 5; i++ {
					msg, err := wsutil.ReadServerText(struct {
						io.Reader
						io.Writer
					}{br, io.Discard})
					if err != nil || string(msg) != fmt.Sprintf(`42["e",%d]`, i) {
						t.Fatalf("live client %d, broadcast %d: %q, %v", n, i, msg, err)
					}
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for srv.Snapshot().Sessions != int64(len(live)) {
				if time.Now().After(deadline) {
					t.Fatalf("%d sessions open, want %d", srv.Snapshot().Sessions, len(live))
				}
				time.Sleep(10 * time.Millisecond)
			}
			checkSendMode(t, mode.cfg, srv.Snapshot())
		})
	}
}

// TestRingFailureFallsBack: when io_uring_enter fails (here the ring's
// descriptor is swapped for /dev/null), every frame of the batch is still
// delivered, through gnet's Write, and the reactor drops its ring and goes
// on with write(2).
func TestRingFailureFallsBack(t *testing.T) {
	io, r, conns := fanoutSetup(20)
	givePeers(t, conns)
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`1`)})
	batch := []*encodedBroadcast{eb}
	r.deliverBatch(batch)
	requireRing(t, r)
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := unix.Dup2(int(null.Fd()), r.sendRing.Fd()); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		c.keep = true
	}
	r.deliverBatch(batch) // the ring fails: gnet writes
	if r.sendRing != nil {
		t.Fatal("the reactor kept a failed ring")
	}
	r.deliverBatch(batch) // write(2) from the start
	for i, c := range conns {
		if want := string(eb.frames) + string(eb.frames); string(c.out) != want || c.closed {
			t.Fatalf("conn %d: gnet got %q (closed %v), want the frame twice", i, c.out, c.closed)
		}
	}
}

// givePeers gives every conn a real socket (one end of a socket pair) for
// the io_uring path and returns the other ends.
func givePeers(t *testing.T, conns []*memConn) []int {
	t.Helper()
	peers := make([]int, len(conns))
	for i, c := range conns {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.sock, peers[i] = fds[0], fds[1]
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	}
	return peers
}

// requireRing skips when r has no io_uring ring after a broadcast, or
// fails with REQUIRE_IO_URING=1.
func requireRing(t *testing.T, r *reactor) {
	t.Helper()
	if r.sendRing != nil {
		return
	}
	if os.Getenv("REQUIRE_IO_URING") == "1" {
		t.Fatal("no io_uring ring with REQUIRE_IO_URING=1")
	}
	t.Skip("no io_uring here")
}
