package loop_test

import (
	"errors"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

// fakeStore is a loop.SessionStore in memory: offsets "1-<n>", delivered
// from a goroutine of its own; Restore answers with answer (or never,
// when hang is set).
type fakeStore struct {
	mu     sync.Mutex
	n      int
	saved  []loop.StoredSession
	forgot []string
	answer func(ns, pid, offset string) (*loop.StoredSession, []loop.Broadcast, string, error)
	hang   bool
	asked  chan struct{}
	done   func(*loop.StoredSession, []loop.Broadcast, string, error)
	seq    chan func()
}

func newFakeStore() *fakeStore {
	f := &fakeStore{asked: make(chan struct{}, 8), seq: make(chan func(), 1024)}
	go func() {
		for fn := range f.seq {
			fn()
		}
	}()
	return f
}

func (f *fakeStore) Sequence(b *loop.Broadcast, deliver func(string)) {
	f.mu.Lock()
	f.n++
	id := "1-" + strconv.Itoa(f.n)
	f.mu.Unlock()
	f.seq <- func() { deliver(id) }
}

func (f *fakeStore) Save(s *loop.StoredSession) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, *s)
}

func (f *fakeStore) Forget(pid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, pid)
}

func (f *fakeStore) Restore(ns, pid, offset string, done func(*loop.StoredSession, []loop.Broadcast, string, error)) {
	f.mu.Lock()
	f.done = done
	hang, answer := f.hang, f.answer
	f.mu.Unlock()
	f.asked <- struct{}{}
	if hang {
		return
	}
	go func() { done(answer(ns, pid, offset)) }()
}

// set changes how Restore answers.
func (f *fakeStore) set(hang bool, answer func(ns, pid, offset string) (*loop.StoredSession, []loop.Broadcast, string, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang, f.answer = hang, answer
}

func (f *fakeStore) lastSaved() (loop.StoredSession, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.saved) == 0 {
		return loop.StoredSession{}, 0
	}
	return f.saved[len(f.saved)-1], len(f.saved)
}

var connectPID = regexp.MustCompile(`^40\{"sid":"([\w-]+)","pid":"([\w-]+)"\}$`)

// TestRecoveryStore runs recovery with a SessionStore: events carry the
// store's offsets; sessions are saved on connect, on a room change and on
// a recoverable disconnect, forgotten on a client's own disconnect; a
// restore answers with the stored session and its events before CONNECT;
// the store's refusals and errors give a fresh session, counted by
// reason; a session whose client went away while the store looked it up
// goes back to the store.
func TestRecoveryStore(t *testing.T) {
	fs := newFakeStore()
	gate := make(chan struct{})
	var io *loop.SocketIO
	ts := startServerWith(t, loop.Config{PingInterval: time.Minute, PingTimeout: time.Minute}, func(srv *loop.Server) {
		io = loop.NewSocketIO(srv)
		io.Recovery = time.Minute
		io.Sessions = fs
		io.Of("/").On("join", func(so *loop.Socket, ev *loop.Event) { so.Join("room1") })
		slow := io.Of("/slow")
		slow.UseAsync = func(so *loop.Socket, auth []byte, done func(error)) {
			go func() { <-gate; done(nil) }()
		}
		srv.Handle("/socket.io/", io)
	})
	connect := func(auth string) (*wsConn, string, string) {
		t.Helper()
		w, _ := ts.openWSAt(t, "/socket.io/")
		w.sendText(t, "40"+auth)
		p := string(w.msg(t).payload)
		m := connectPID.FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("CONNECT answer %q", p)
		}
		return w, m[1], m[2]
	}
	w, sid, pid := connect("")
	waitFor(t, "saved on connect", func() bool { s, _ := fs.lastSaved(); return s.ID == sid && s.PID == pid && !s.Disconnected })
	w.sendText(t, `42["join"]`)
	if _, err := io.Broadcast(&loop.Broadcast{Event: "e", Args: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if p := string(w.msg(t).payload); p != `42["e",1,"1-1"]` {
		t.Fatalf("event %q: want the store's offset", p)
	}
	waitFor(t, "saved after join", func() bool { s, _ := fs.lastSaved(); return len(s.Rooms) == 2 && s.Rooms[1] == "room1" })
	_ = w.c.Close() // a transport close: saved as disconnected
	waitFor(t, "saved as disconnected", func() bool { s, _ := fs.lastSaved(); return s.Disconnected && s.PID == pid })

	// A restore: the stored session and its missed events, then CONNECT.
	fs.set(false, func(ns, p, off string) (*loop.StoredSession, []loop.Broadcast, string, error) {
		if ns != "/" || p != pid || off != "1-1" {
			return nil, nil, "", loop.ErrSessionNotFound
		}
		fs.mu.Lock()
		fs.n = 10 // the stream went on past the last entry walked
		fs.mu.Unlock()
		return &loop.StoredSession{ID: sid, PID: pid, Rooms: []string{sid, "room1"}},
			[]loop.Broadcast{{Event: "m", Args: []byte(`2`), Offset: "1-5"}}, "1-7", nil
	})
	w2, _ := ts.openWSAt(t, "/socket.io/")
	w2.sendText(t, `40{"pid":"`+pid+`","offset":"1-1"}`)
	if p := string(w2.msg(t).payload); p != `42["m",2,"1-5"]` {
		t.Fatalf("replayed %q", p)
	}
	if p := string(w2.msg(t).payload); p != `40{"sid":"`+sid+`","pid":"`+pid+`"}` {
		t.Fatalf("CONNECT %q: want the same sid and pid", p)
	}
	if _, err := io.Broadcast(&loop.Broadcast{Rooms: []string{"room1"}, Event: "r", Args: []byte(`3`)}); err != nil {
		t.Fatal(err)
	}
	if p := string(w2.msg(t).payload); p != `42["r",3,"1-11"]` {
		t.Fatalf("after recovery %q: the socket is back in room1", p)
	}
	w2.sendText(t, "41") // the client leaves: forgotten
	waitFor(t, "forgotten", func() bool { fs.mu.Lock(); defer fs.mu.Unlock(); return len(fs.forgot) == 1 && fs.forgot[0] == pid })

	// Refusals and errors: a fresh session each, counted.
	for _, err := range []error{loop.ErrSessionNotFound, loop.ErrOffsetNotFound, errors.New("redis down")} {
		fs.set(false, func(string, string, string) (*loop.StoredSession, []loop.Broadcast, string, error) {
			return nil, nil, "", err
		})
		if _, _, p := connect(`{"pid":"x","offset":"1-1"}`); p == "x" {
			t.Errorf("%v: recovered", err)
		}
	}
	if st, _ := io.RecoveryStats(); st.Recovered != 1 || st.NotRecovered != [4]uint64{1, 0, 1, 1} {
		t.Errorf("stats %+v", st)
	}

	// Events delivered between the store's answer and the socket joining
	// its rooms (here, while a middleware waits) are replayed too, once.
	fs.set(false, func(ns, p, off string) (*loop.StoredSession, []loop.Broadcast, string, error) {
		fs.mu.Lock()
		fs.n = 20
		fs.mu.Unlock()
		return &loop.StoredSession{ID: sid, PID: pid, Rooms: []string{sid, "room1"}}, nil, "1-15", nil
	})
	w4, _ := ts.openWSAt(t, "/socket.io/")
	w4.sendText(t, `40/slow,{"pid":"`+pid+`","offset":"1-12"}`)
	<-fs.asked
	time.Sleep(50 * time.Millisecond) // the answer reached the reactor
	if _, err := io.Broadcast(&loop.Broadcast{Namespace: "/slow", Rooms: []string{"room1"}, Event: "gap", Args: []byte(`4`)}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if p := string(w4.msg(t).payload); p != `42/slow,["gap",4,"1-21"]` {
		t.Fatalf("gap event %q", p)
	}
	if p := string(w4.msg(t).payload); p != `40/slow,{"sid":"`+sid+`","pid":"`+pid+`"}` {
		t.Fatalf("CONNECT %q", p)
	}
	if _, err := io.Broadcast(&loop.Broadcast{Namespace: "/slow", Rooms: []string{"room1"}, Event: "next", Args: []byte(`5`)}); err != nil {
		t.Fatal(err)
	}
	if p := string(w4.msg(t).payload); p != `42/slow,["next",5,"1-22"]` {
		t.Fatalf("after the gap %q: want the next event, the gap one once", p)
	}

	// The client goes away while the store looks its session up: the
	// session goes back to the store.
	fs.set(true, nil)
	w3, _ := ts.openWSAt(t, "/socket.io/")
	w3.sendText(t, `40{"pid":"`+pid+`","offset":"1-1"}`)
	<-fs.asked
	<-fs.asked
	_ = w3.c.Close()
	time.Sleep(100 * time.Millisecond)
	_, before := fs.lastSaved()
	fs.mu.Lock()
	done := fs.done
	fs.mu.Unlock()
	done(&loop.StoredSession{ID: sid, PID: pid, Rooms: []string{sid}}, nil, "1-7", nil)
	waitFor(t, "given back", func() bool { s, n := fs.lastSaved(); return n > before && s.PID == pid && s.Disconnected })
}
