package loop

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
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
