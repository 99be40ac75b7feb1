package loop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// wsRW pairs a client's buffered reader with its conn for wsutil.
func wsRW(c net.Conn, br *bufio.Reader) io.ReadWriter {
	return struct {
		io.Reader
		io.Writer
	}{br, c}
}

func TestBroadcastWithAck(t *testing.T) {
	_, sio, addr := startSIO(t, Config{})
	yes, ybr := dialSIO(t, addr, 0)
	defer yes.Close()
	silent, _ := dialSIO(t, addr, 0)
	defer silent.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // answers every question with 42
		defer wg.Done()
		_ = yes.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			msg, err := wsutil.ReadServerText(wsRW(yes, ybr))
			if err != nil {
				t.Errorf("answering client: %v", err)
				return
			}
			if s := string(msg); strings.HasPrefix(s, "42") && strings.Contains(s, `"question"`) {
				id := s[2:strings.IndexByte(s, '[')]
				_ = wsutil.WriteClientText(yes, []byte("43"+id+`[42,"€"]`))
				return
			}
		}
	}()
	start := time.Now()
	answers, timeouts, err := sio.BroadcastWithAck(&Broadcast{Event: "question", Args: []byte(`{"n":1}`)}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(answers) != 1 || string(answers[0].Args) != `[42,"€"]` || timeouts != 1 {
		t.Fatalf("answers %+v, timeouts %d; want one [42,\"€\"] and one timeout", answers, timeouts)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("returned after %v, want about the 500ms timeout", d)
	}
}

func TestServerSideOperations(t *testing.T) {
	_, sio, addr := startSIO(t, Config{})
	for i := 0; i < 3; i++ {
		c, _ := dialSIO(t, addr, 0)
		defer c.Close()
	}
	all, err := sio.FetchSockets(Target{})
	if err != nil || len(all) != 3 {
		t.Fatalf("FetchSockets = %d sockets, %v; want 3", len(all), err)
	}
	if n, err := sio.Join(Target{Rooms: []string{all[0].ID, all[1].ID}}, []string{"vip"}); n != 2 || err != nil {
		t.Fatalf("Join reached %d sockets, %v", n, err)
	}
	vip, _ := sio.FetchSockets(Target{Rooms: []string{"vip"}})
	if len(vip) != 2 || len(vip[0].Rooms) != 2 || vip[0].Rooms[1] != "vip" {
		t.Fatalf("sockets in vip: %+v", vip)
	}
	rooms, _ := sio.AllRooms("/")
	if len(rooms) != 4 { // three id rooms and vip
		t.Fatalf("AllRooms = %q", rooms)
	}
	if n, _ := sio.Leave(Target{Rooms: []string{"vip"}, Except: []string{all[0].ID}}, []string{"vip"}); n != 1 {
		t.Fatalf("Leave reached %d sockets, want 1", n)
	}
	if n, _ := sio.Disconnect(Target{Rooms: []string{"vip"}}, true); n != 1 {
		t.Fatalf("Disconnect reached %d sockets, want 1", n)
	}
	left, _ := sio.FetchSockets(Target{})
	if len(left) != 2 {
		t.Fatalf("%d sockets after a disconnect, want 2", len(left))
	}
	if _, err := sio.FetchSockets(Target{Namespace: "/nope"}); err != ErrUnknownNamespace {
		t.Fatalf("unknown namespace: %v", err)
	}
}

// TestOperationsFromHandlers calls every server-side operation from event
// handlers, on two reactors at once: broadcasts to the namespace (more
// than maxQueuedBroadcasts in a row) and to a room, which used to wait for
// the handler's own reactor; join, leave and disconnect; and broadcast
// with ack, fetch, all rooms and shutdown, which must refuse rather than
// wait. The handlers must finish. Each also hands a fetch to a goroutine
// and emits its result through Socket.Do, the pattern the package
// documentation gives.
func TestOperationsFromHandlers(t *testing.T) {
	const rounds = maxQueuedBroadcasts + 44
	type result struct {
		whole, joined, left int
		errs                []error
	}
	results := make(chan result, 2)
	var victim atomic.Value // the id of the socket a handler disconnects
	_, _, addr := startSIOWith(t, Config{EventLoops: 2}, func(sio *SocketIO) {
		ns := sio.Of("/")
		ns.OnConnect = func(so *Socket) { so.Join("all") }
		ns.On("go", func(so *Socket, ev *Event) {
			var res result
			check := func(err error) {
				if err != nil {
					res.errs = append(res.errs, err)
				}
			}
			for i := 0; i < rounds; i++ {
				n, err := sio.Broadcast(&Broadcast{Event: "whole", Args: []byte(strconv.Itoa(i))})
				res.whole += n
				check(err)
				_, err = sio.Broadcast(&Broadcast{Event: "room", Rooms: []string{"all"}, Args: []byte(strconv.Itoa(i))})
				check(err)
			}
			var err error
			res.joined, err = sio.Join(Target{Rooms: []string{so.ID()}}, []string{"vip"})
			check(err)
			res.left, err = sio.Leave(Target{Rooms: []string{"vip"}}, []string{"vip"})
			check(err)
			if id := victim.Load().(string); id != "" && victim.CompareAndSwap(id, "") {
				_, err = sio.Disconnect(Target{Rooms: []string{id}}, false)
				check(err)
			}
			for what, err := range map[string]error{
				"BroadcastWithAck": func() error { _, _, err := sio.BroadcastWithAck(&Broadcast{Event: "q"}, time.Second); return err }(),
				"FetchSockets":     func() error { _, err := sio.FetchSockets(Target{}); return err }(),
				"AllRooms":         func() error { _, err := sio.AllRooms("/"); return err }(),
				"Shutdown":         sio.Server().Shutdown(context.Background()),
				"OutboundQueued":   func() error { _, err := sio.Server().OutboundQueued(context.Background()); return err }(),
			} {
				if err != ErrOnReactor {
					res.errs = append(res.errs, fmt.Errorf("%s on a reactor: %v, want ErrOnReactor", what, err))
				}
			}
			go func() {
				all, err := sio.FetchSockets(Target{})
				so.Do(func(so *Socket) {
					if err != nil {
						so.Emit("fetched", []byte(strconv.Quote(err.Error())), nil)
						return
					}
					so.Emit("fetched", []byte(strconv.Itoa(len(all))), nil)
				})
			}()
			so.Ack(ev, nil, nil)
			results <- res
		})
	})
	var conns []net.Conn
	var brs []*bufio.Reader
	for i := 0; i < 3; i++ {
		c, br := dialSIO(t, addr, 0)
		defer c.Close()
		conns, brs = append(conns, c), append(brs, br)
	}
	victim.Store(socketID(t, conns[2], brs[2]))

	// Clients 0 and 1 send "go" and read until they have their ack, the
	// fetch result and every broadcast of both handlers; client 2 reads
	// until it is disconnected.
	var wg sync.WaitGroup
	got := make([]map[string]int, 3)
	for i := range got {
		got[i] = map[string]int{}
		wg.Add(1)
		go func(i int, g map[string]int) {
			defer wg.Done()
			_ = conns[i].SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				if i < 2 && g["ack"] == 1 && g["fetched"] == 1 && g["whole"] == 2*rounds && g["room"] == 2*rounds || g["disconnect"] == 1 {
					return
				}
				msg, err := wsutil.ReadServerText(wsRW(conns[i], brs[i]))
				if err != nil {
					t.Errorf("client %d: %v, after %v", i, err, g)
					return
				}
				s := string(msg)
				switch {
				case s == "431[]":
					g["ack"]++
				case s == "41":
					g["disconnect"]++
				case strings.HasPrefix(s, `42["whole",`):
					g["whole"]++
				case strings.HasPrefix(s, `42["room",`):
					g["room"]++
				case strings.HasPrefix(s, `42["fetched",`):
					g["fetched"]++
					// Three sockets, or two once the third is gone.
					if n := strings.TrimSuffix(strings.TrimPrefix(s, `42["fetched",`), "]"); n != "2" && n != "3" {
						t.Errorf("client %d: %s, want a count of 2 or 3 sockets", i, s)
					}
				}
			}
		}(i, got[i])
	}
	for i := 0; i < 2; i++ {
		if err := wsutil.WriteClientText(conns[i], []byte(`421["go"]`)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		select {
		case res := <-results:
			for _, err := range res.errs {
				t.Error(err)
			}
			if res.whole < rounds*2 || res.joined != 1 || res.left != 1 {
				t.Errorf("handler: whole-namespace broadcasts counted %d recipients (want at least %d), joined %d, left %d (want 1, 1)",
					res.whole, rounds*2, res.joined, res.left)
			}
		case <-time.After(20 * time.Second):
			// Not t.Fatal: the cleanup's Shutdown would wait for the
			// stuck reactor too, and the test would hang instead of fail.
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "FAIL: an event handler did not finish: an operation waits for its own reactor\n%s",
				buf[:runtime.Stack(buf, true)])
			os.Exit(1)
		}
	}
	wg.Wait()
	if got[2]["disconnect"] != 1 {
		t.Errorf("the third client was not disconnected: %v", got[2])
	}
}

// socketID returns the socket id of c, a client that joined "/" through
// dialSIO, by sending CONNECT again: the server answers a CONNECT to a
// namespace already joined with the same sid.
func socketID(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	if err := wsutil.WriteClientText(c, []byte("40")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := wsutil.ReadServerText(wsRW(c, br))
	if err != nil || !strings.HasPrefix(string(msg), `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q, %v", msg, err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(msg), `40{"sid":"`), `"}`)
}

// TestOnReactor checks that only a loop goroutine is taken for a reactor.
func TestOnReactor(t *testing.T) {
	srv, _, _ := startSIO(t, Config{})
	if r := srv.onReactor(); r != nil {
		t.Fatalf("the test goroutine is taken for reactor %d", r.idx)
	}
	if goid() == 0 {
		t.Fatal("goid() = 0")
	}
}
