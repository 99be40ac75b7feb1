//go:build linux

package uring

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newRing returns a ring, or skips where the kernel refuses io_uring
// (unless REQUIRE_IO_URING=1, which scripts/test.sh sets where it is on).
func newRing(t testing.TB, entries int) *Ring {
	t.Helper()
	r, err := New(entries)
	if err != nil {
		if os.Getenv("REQUIRE_IO_URING") == "1" {
			t.Fatalf("New(%d): %v (REQUIRE_IO_URING=1)", entries, err)
		}
		t.Skipf("no io_uring here: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// pair is a connected loopback TCP pair: fd is the sending side's
// non-blocking descriptor, peer the receiving side.
type pair struct {
	fd   int
	peer net.Conn
}

func newPairs(t testing.TB, n int) []pair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ps := make([]pair, n)
	for i := range ps {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.(*net.TCPConn).File() // a dup, non-blocking below
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		ps[i] = pair{fd: fd, peer: c}
		t.Cleanup(func() { unix.Close(fd); c.Close() })
	}
	return ps
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func byTag(done []Completion) map[uint64]int32 {
	m := make(map[uint64]int32, len(done))
	for _, c := range done {
		m[c.Tag] = c.Res
	}
	return m
}

func TestSendAndSendmsg(t *testing.T) {
	r := newRing(t, 8)
	ps := newPairs(t, 3)
	one := []byte("hello, one")
	parts := [][]byte{[]byte("first|"), []byte("second|"), []byte("third")}
	if !r.Send(ps[0].fd, [][]byte{one}, 100) || !r.Send(ps[1].fd, parts, 101) || !r.Send(ps[2].fd, parts[1:], 102) {
		t.Fatal("Send refused with room in the ring")
	}
	if r.Queued() != 3 {
		t.Fatalf("Queued() = %d, want 3", r.Queued())
	}
	done, err := r.Flush()
	if err != nil {
		t.Fatal(err)
	}
	got := byTag(done)
	want := map[uint64]int32{100: int32(len(one)), 101: 18, 102: 12}
	if len(got) != len(want) {
		t.Fatalf("completions %v, want %v", got, want)
	}
	for tag, n := range want {
		if got[tag] != n {
			t.Errorf("tag %d: res %d, want %d", tag, got[tag], n)
		}
	}
	if b := readN(t, ps[0].peer, len(one)); !bytes.Equal(b, one) {
		t.Errorf("peer 0 read %q", b)
	}
	if b := readN(t, ps[1].peer, 18); string(b) != "first|second|third" {
		t.Errorf("peer 1 read %q", b)
	}
	if b := readN(t, ps[2].peer, 12); string(b) != "second|third" {
		t.Errorf("peer 2 read %q", b)
	}
	if r.Queued() != 0 {
		t.Fatalf("Queued() after Flush = %d", r.Queued())
	}
	// An empty flush is a no-op.
	if done, err := r.Flush(); err != nil || len(done) != 0 {
		t.Fatalf("empty Flush = %v, %v", done, err)
	}
}

// TestFullRing: Send refuses past Cap and past MaxIovecs, and the ring
// works again after a Flush.
func TestFullRing(t *testing.T) {
	r := newRing(t, 4)
	ps := newPairs(t, 1)
	msg := [][]byte{[]byte("x")}
	for i := 0; i < r.Cap(); i++ {
		if !r.Send(ps[0].fd, msg, uint64(i)) {
			t.Fatalf("Send %d refused, Cap %d", i, r.Cap())
		}
	}
	if r.Send(ps[0].fd, msg, 99) {
		t.Fatal("Send past Cap accepted")
	}
	done, err := r.Flush()
	if err != nil || len(done) != r.Cap() {
		t.Fatalf("Flush = %d completions, %v; want %d", len(done), err, r.Cap())
	}
	readN(t, ps[0].peer, r.Cap())

	many := make([][]byte, 1000)
	for i := range many {
		many[i] = []byte{'a' + byte(i%26)}
	}
	for i := 0; i < MaxIovecs/len(many); i++ {
		if !r.Send(ps[0].fd, many, uint64(i)) {
			t.Fatalf("sendmsg %d of %d buffers refused", i, len(many))
		}
	}
	if r.Send(ps[0].fd, many, 9) {
		t.Fatal("sendmsg past MaxIovecs accepted")
	}
	done, err = r.Flush()
	if err != nil || len(done) != MaxIovecs/len(many) {
		t.Fatalf("Flush = %v, %v", done, err)
	}
	for _, c := range done {
		if c.Res != int32(len(many)) {
			t.Fatalf("sendmsg %d: res %d, want %d", c.Tag, c.Res, len(many))
		}
	}
	if !r.Send(ps[0].fd, many, 3) {
		t.Fatal("iovec space not freed by Flush")
	}
	if _, err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	readN(t, ps[0].peer, (MaxIovecs/len(many)+1)*len(many))
}

func TestTooManyBufs(t *testing.T) {
	r := newRing(t, 4)
	defer func() {
		if recover() == nil {
			t.Fatal("Send of MaxBufs+1 buffers did not panic")
		}
	}()
	r.Send(1, make([][]byte, MaxBufs+1), 0)
}

// TestNoRoom: a socket whose peer does not read takes what fits, then
// completes with -EAGAIN instead of waiting.
func TestNoRoom(t *testing.T) {
	r := newRing(t, 4)
	ps := newPairs(t, 1)
	if err := unix.SetsockoptInt(ps[0].fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	big := make([][]byte, 1)
	big[0] = bytes.Repeat([]byte("z"), 8<<20)
	// The first send takes what fits; more sends fill the window until one
	// completes with -EAGAIN, which must come without waiting.
	start := time.Now()
	var res []int32
	for len(res) < 64 {
		r.Send(ps[0].fd, big, uint64(len(res)))
		done, err := r.Flush()
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, done[0].Res)
		if errors.Is(done[0].Err(), syscall.EAGAIN) {
			break
		}
		if done[0].Res <= 0 || done[0].Res >= int32(len(big[0])) {
			t.Fatalf("send %d: res %d, want a short count or -EAGAIN", len(res), done[0].Res)
		}
	}
	if last := res[len(res)-1]; last != -int32(syscall.EAGAIN) {
		t.Fatalf("no -EAGAIN after %d sends to a peer that does not read: %v", len(res), res)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("sends to a full socket took %v: they must not wait", d)
	}
}

// TestResetPeer: a send to a connection the peer reset completes with an
// error, and the other sends of the batch are unaffected.
func TestResetPeer(t *testing.T) {
	r := newRing(t, 4)
	ps := newPairs(t, 2)
	ps[0].peer.(*net.TCPConn).SetLinger(0)
	ps[0].peer.Close()
	time.Sleep(50 * time.Millisecond) // let the RST arrive
	msg := [][]byte{[]byte("after reset")}
	r.Send(ps[0].fd, msg, 1)
	r.Send(ps[1].fd, msg, 2)
	done, err := r.Flush()
	if err != nil {
		t.Fatal(err)
	}
	got := byTag(done)
	if e := syscall.Errno(-got[1]); got[1] >= 0 || (e != syscall.ECONNRESET && e != syscall.EPIPE) {
		t.Errorf("send to the reset connection: res %d, want -ECONNRESET or -EPIPE", got[1])
	}
	if got[2] != int32(len(msg[0])) {
		t.Errorf("send beside it: res %d, want %d", got[2], len(msg[0]))
	}
	readN(t, ps[1].peer, len(msg[0]))
}

func TestBadEntries(t *testing.T) {
	for _, n := range []int{0, -1, 1 << 20} {
		if r, err := New(n); err == nil {
			r.Close()
			t.Errorf("New(%d) succeeded", n)
		}
	}
}

// TestAllocs: queueing and flushing sends allocates nothing.
func TestAllocs(t *testing.T) {
	r := newRing(t, 64)
	ps := newPairs(t, 16)
	one := [][]byte{[]byte("0123456789")}
	two := [][]byte{[]byte("01234"), []byte("56789")}
	for _, p := range ps {
		go io.Copy(io.Discard, p.peer)
	}
	allocs := testing.AllocsPerRun(50, func() {
		for i, p := range ps {
			bufs := one
			if i%2 == 1 {
				bufs = two
			}
			r.Send(p.fd, bufs, uint64(i))
		}
		if done, err := r.Flush(); err != nil || len(done) != len(ps) {
			t.Fatalf("Flush: %d, %v", len(done), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per batch of %d sends, want 0", allocs, len(ps))
	}
}

// BenchmarkSend compares one ring submission for 256 sockets with one
// write(2) each; the peers drain in the background.
func BenchmarkSend(b *testing.B) {
	ps := newPairs(b, 256)
	for _, p := range ps {
		go io.Copy(io.Discard, p.peer)
	}
	msg := [][]byte{bytes.Repeat([]byte("m"), 100)}
	b.Run("ring", func(b *testing.B) {
		r := newRing(b, len(ps))
		b.ReportAllocs()
		for b.Loop() {
			for i, p := range ps {
				r.Send(p.fd, msg, uint64(i))
			}
			if _, err := r.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/send")
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range ps {
				unix.Write(p.fd, msg[0])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/send")
	})
}

// TestFlushFailure: when io_uring_enter itself fails, Flush says so and
// hands back every send it never attempted as -ECANCELED, for the caller
// to write another way.
func TestFlushFailure(t *testing.T) {
	r := newRing(t, 4)
	ps := newPairs(t, 1)
	msg := [][]byte{[]byte("never sent")}
	r.Send(ps[0].fd, msg, 1)
	r.Send(ps[0].fd, msg, 2)
	unix.Close(r.fd) // the mappings stay; io_uring_enter gets EBADF
	done, err := r.Flush()
	r.fd = -1
	if !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Flush error %v, want EBADF", err)
	}
	got := byTag(done)
	if len(got) != 2 || got[1] != -int32(syscall.ECANCELED) || got[2] != -int32(syscall.ECANCELED) {
		t.Fatalf("completions %v, want both -ECANCELED", got)
	}
	if r.Queued() != 0 {
		t.Fatalf("Queued() = %d after a failed Flush", r.Queued())
	}
}
