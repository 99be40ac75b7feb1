package loop

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// connectTo connects a fresh client to nsp and returns it.
func connectTo(t *testing.T, r *reactor, io *SocketIO, nsp string) *sioClient {
	t.Helper()
	cl := newSIOClient(t, r, io)
	cl.send(1, "40"+nsp+",")
	cl.expectSID("40" + nsp + ",")
	return cl
}

// TestChildNamespaceRemoved: a child of a pattern lives while it has
// sockets; the last one leaving removes it (hook called, state forgotten,
// id freed for the next namespace), and a later CONNECT creates it afresh.
func TestChildNamespaceRemoved(t *testing.T) {
	io, r := testIO(t)
	var events []string
	io.OnNamespace = func(name string) { events = append(events, "+"+name) }
	io.OnNamespaceRemoved = func(name string) { events = append(events, "-"+name) }
	a := connectTo(t, r, io, "/org-1")
	b := connectTo(t, r, io, "/org-1")
	first := io.Namespace("/org-1")
	a.s.sio.sockets[0].Join("room")
	a.send(1, "41/org-1,")
	if io.Namespace("/org-1") != first || r.peek(first) == nil {
		t.Fatal("the child went away while a socket was still in it")
	}
	b.s.Close() // transport close: the last socket leaves
	if io.Namespace("/org-1") != nil || r.peek(first) != nil || r.nsl[first.id] != nil {
		t.Fatal("the child outlived its last socket")
	}
	if strings.Join(events, " ") != "+/org-1 -/org-1" {
		t.Fatalf("hooks: %q", events)
	}
	c := connectTo(t, r, io, "/org-2") // reuses the freed id
	second := io.Namespace("/org-2")
	if second.id != first.id {
		t.Fatalf("id %d not reused (freed %d)", second.id, first.id)
	}
	if r.peek(first) != nil {
		t.Fatal("peek of the removed namespace reaches its successor's sockets")
	}
	// A broadcast still holding the removed namespace reaches nobody.
	eb := encodeBroadcast(first, &Broadcast{Event: "stale"})
	r.deliverBatch([]*encodedBroadcast{eb})
	r.endBatch()
	if n := eb.recipients.Load(); n != 0 {
		t.Fatalf("a broadcast to the removed namespace reached %d sockets", n)
	}
	c.expect()
	connectTo(t, r, io, "/org-1")
	if io.Namespace("/org-1") == first {
		t.Fatal("the old namespace came back")
	}
	if strings.Join(events, " ") != "+/org-1 -/org-1 +/org-2 +/org-1" {
		t.Fatalf("hooks: %q", events)
	}
	// Declared namespaces stay when empty.
	e := connectTo(t, r, io, "/custom")
	e.send(1, "41/custom,")
	if io.Namespace("/custom") == nil {
		t.Fatal("a declared namespace was removed")
	}
}

// TestChildNamespacesChurn: 50,000 children connected and left in turn
// leave the namespace table at its base size, one id in use for all of
// them (so reactor.nsl stays short), and the pattern's counters complete.
func TestChildNamespacesChurn(t *testing.T) {
	io, r := testIO(t)
	base := io.NamespaceTableStats().Namespaces
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.read()
	nsIDs.mu.Lock()
	idsBefore := nsIDs.next
	nsIDs.mu.Unlock()
	const n = 50_000
	for i := range n {
		nsp := "/org-" + strconv.Itoa(i)
		cl.send(1, "40"+nsp+",")
		cl.read()
		if i%2 == 0 {
			cl.send(1, `42`+nsp+`,["x"]`)
		}
		cl.send(1, "41"+nsp+",")
	}
	if got := io.NamespaceTableStats().Namespaces; got != base {
		t.Fatalf("%d namespaces after the churn, want the base %d", got, base)
	}
	nsIDs.mu.Lock()
	idsAfter := nsIDs.next
	nsIDs.mu.Unlock()
	if idsAfter > idsBefore+1 || len(r.nsl) > idsAfter {
		t.Fatalf("%d ids made for one child at a time (%d before); reactor.nsl has %d entries", idsAfter, idsBefore, len(r.nsl))
	}
	for _, st := range io.NamespaceStats() {
		if st.Name == "/org-*" {
			if st.Namespaces != 0 || st.Connects != n || st.Disconnects != n || st.EventsIn != n/2 || st.Connected != 0 {
				t.Fatalf("pattern stats %+v", st)
			}
			return
		}
	}
	t.Fatal("no stats for the pattern /org-*")
}

// TestMaxNamespaces: a CONNECT that would create one namespace too many is
// refused with a message naming the limit; existing children still take
// sockets, and a removal makes room again.
func TestMaxNamespaces(t *testing.T) {
	io, r := testIO(t)
	var logged strings.Builder
	io.srv.log = slog.New(slog.NewTextHandler(&logged, nil))
	io.MaxNamespaces = io.NamespaceTableStats().Namespaces + 1
	a := connectTo(t, r, io, "/org-1")
	cl := newSIOClient(t, r, io)
	cl.send(1, "40/org-2,")
	cl.expect(`44/org-2,{"message":"namespace limit reached: the server holds its maximum of ` + strconv.Itoa(io.MaxNamespaces) + ` namespaces"}`)
	connectTo(t, r, io, "/org-1")
	if st := io.NamespaceTableStats(); st.RefusedLimit != 1 || st.Namespaces != st.Max {
		t.Fatalf("table stats %+v", st)
	}
	a.s.Close()
	cl.send(1, "40/org-2,")
	cl.expect(`44/org-2,{"message":"namespace limit reached: the server holds its maximum of ` + strconv.Itoa(io.MaxNamespaces) + ` namespaces"}`)
	// The other /org-1 socket still holds it; once it leaves, there is room.
	for _, so := range append([]*Socket(nil), io.socketsOf(r, "/org-1")...) {
		so.Disconnect(false)
	}
	cl.send(1, "40/org-2,")
	cl.expectSID("40/org-2,")
	if n := strings.Count(logged.String(), "namespace limit reached"); n != 1 {
		t.Fatalf("two refusals logged %d times, want once:\n%s", n, logged.String())
	}
}

// socketsOf lists the sockets of namespace name on r.
func (io *SocketIO) socketsOf(r *reactor, name string) []*Socket {
	if ns := io.Namespace(name); ns != nil {
		if l := r.peek(ns); l != nil {
			return l.sockets
		}
	}
	return nil
}

// TestNamespaceNameTooLong: a name over MaxNameBytes gets the standard
// "Invalid namespace" and is counted; one at the limit is created.
func TestNamespaceNameTooLong(t *testing.T) {
	io, r := testIO(t)
	io.MaxNameBytes = 64
	cl := newSIOClient(t, r, io)
	long := "/org-" + strings.Repeat("x", 60)
	cl.send(1, "40"+long+",")
	cl.expect(`44` + long + `,{"message":"Invalid namespace"}`)
	if st := io.NamespaceTableStats(); st.RefusedName != 1 {
		t.Fatalf("table stats %+v", st)
	}
	connectTo(t, r, io, long[:64])
}

// TestNamespaceAcquireRace: CONNECTs and leaves of one child from many
// goroutines never hold a namespace that is no longer registered, and the
// child is created and removed strictly in turn.
func TestNamespaceAcquireRace(t *testing.T) {
	io, _ := testIO(t)
	live := 0 // changed by the hooks, under io.mu
	bad := false
	io.OnNamespace = func(string) { live++; bad = bad || live != 1 }
	io.OnNamespaceRemoved = func(string) { live--; bad = bad || live != 0 }
	var wg sync.WaitGroup
	var dangling sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				ns, _ := io.acquire([]byte("/org-race"))
				if io.Namespace("/org-race") != ns {
					dangling.Do(func() { t.Error("a CONNECT holds a namespace that is not registered") })
				}
				io.release(ns)
			}
		}()
	}
	wg.Wait()
	if bad || live != 0 || io.Namespace("/org-race") != nil {
		t.Fatalf("hooks out of turn (%v) or child left (%d live)", bad, live)
	}
	nsIDs.mu.Lock()
	defer nsIDs.mu.Unlock()
	seen := map[int]bool{}
	for _, id := range nsIDs.free {
		if seen[id] {
			t.Fatalf("id %d freed twice", id)
		}
		seen[id] = true
	}
}
