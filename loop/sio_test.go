package loop

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sioloop/protocol/wsframe"
)

// sioClient is a Socket.IO client over a memConn.
type sioClient struct {
	t  *testing.T
	r  *reactor
	s  *Session
	c  *memConn
	cs *connState
}

func newSIOClient(t *testing.T, r *reactor, io *SocketIO) *sioClient {
	t.Helper()
	s, c := wsSession(r, io)
	c.keep = true
	cl := &sioClient{t: t, r: r, s: s, c: c, cs: c.ctx.(*connState)}
	cl.read() // drop nothing: the open packet was written before keep; ignore
	return cl
}

// send feeds one client frame (op 1 text, 2 binary) to the server.
func (cl *sioClient) send(op byte, payload string) {
	cl.c.in = maskedFrame(op, payload)
	cl.cs.serve(cl.c, cl.c.in, false)
	cl.r.endBatch()
}

// read returns the payloads of the frames the server wrote since the last
// read; binary ones are prefixed with "bin:".
func (cl *sioClient) read() []string {
	cl.t.Helper()
	var out []string
	b := cl.c.out
	for len(b) > 0 {
		h, n, err := wsframe.ParseHeaderAny(b)
		if err != nil {
			cl.t.Fatalf("server wrote a bad frame: %v (% x)", err, b)
		}
		p := string(b[n : n+int(h.Length)])
		switch h.OpCode {
		case wsframe.OpBinary:
			p = "bin:" + p
		case wsframe.OpClose:
			p = "close"
		}
		out = append(out, p)
		b = b[n+int(h.Length):]
	}
	cl.c.out = cl.c.out[:0]
	return out
}

func (cl *sioClient) expect(want ...string) {
	cl.t.Helper()
	got := cl.read()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		cl.t.Fatalf("server sent\n%q\nwant\n%q", got, want)
	}
}

// expectSID reads a CONNECT reply for nsp prefix (e.g. `40` or `40/custom,`)
// and returns the socket id.
func (cl *sioClient) expectSID(prefix string) string {
	cl.t.Helper()
	got := cl.read()
	if len(got) != 1 || !strings.HasPrefix(got[0], prefix+`{"sid":"`) {
		cl.t.Fatalf("want a CONNECT reply %s{\"sid\":...}, got %q", prefix, got)
	}
	return strings.TrimSuffix(strings.TrimPrefix(got[0], prefix+`{"sid":"`), `"}`)
}

func testIO(t *testing.T) (*SocketIO, *reactor) {
	srv, r := testReactor(Config{})
	io := NewSocketIO(srv)
	io.Of("/custom")
	io.Of("/org-*")
	echo := func(s *Socket, ev *Event) {
		s.Emit("echo", ev.Args, ev.Attachments)
		s.Ack(ev, ev.Args, ev.Attachments)
	}
	io.Of("/").On("message", echo)
	return io, r
}

func TestSocketIOConnect(t *testing.T) {
	io, r := testIO(t)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	sid := cl.expectSID("40")
	if sid == cl.s.ID() || !IsSocketID(sid) {
		t.Fatalf("socket id %q must be fresh and not the Engine.IO id %q", sid, cl.s.ID())
	}
	cl.send(1, "40/custom") // no trailing comma, as the JS client may send
	cl.expectSID("40/custom,")
	cl.send(1, "40/org-42,")
	cl.expectSID("40/org-42,")
	cl.send(1, "40/nope,")
	cl.expect(`44/nope,{"message":"Invalid namespace"}`)
	cl.send(1, "40/custom?x=1,")
	cl.expect(`44/custom?x=1,{"message":"Invalid namespace"}`)
	if got := len(cl.s.sio.sockets); got != 3 {
		t.Fatalf("%d namespaces joined, want 3", got)
	}
	// Leaving one namespace keeps the others and the session.
	cl.send(1, "41/custom,")
	cl.send(1, `42["message",1]`)
	cl.expect(`42["echo",1]`)
	if cl.s.Closed() {
		t.Fatal("session closed after leaving one namespace")
	}
}

func TestSocketIOMiddleware(t *testing.T) {
	io, r := testIO(t)
	io.Of("/").Use = func(s *Socket, auth []byte) error {
		if string(auth) != `{"token":"ok"}` {
			return &ConnectError{Message: "Not authorized", Data: []byte(`{"why":"deny"}`)}
		}
		return nil
	}
	cl := newSIOClient(t, r, io)
	cl.send(1, `40{"token":"bad"}`)
	cl.expect(`44{"message":"Not authorized","data":{"why":"deny"}}`)
	cl.send(1, `40{"token":"ok"}`)
	cl.expectSID("40")
}

func TestSocketIORefusalsCloseTheConnection(t *testing.T) {
	for _, bad := range []string{
		`42["message"]`,                     // not connected to "/" yet
		`4abc`,                              // unknown type
		`42{}`,                              // not an array
		`42["connect"]`,                     // reserved event name
		`42abc["message"]`,                  // bad ack id
		`4299999999999999999999["message"]`, // ack id overflow
		`4511-["message",{"_placeholder":true,"num":0}]`, // 11 attachments
		`451-["message",{"_placeholder":true,"num":3}]`,  // placeholder out of range
	} {
		io, r := testIO(t)
		cl := newSIOClient(t, r, io)
		if !strings.HasPrefix(bad, `42["message"]`) {
			cl.send(1, "40")
			cl.expectSID("40")
		}
		cl.send(1, bad)
		if !cl.s.Closed() {
			t.Errorf("%q: session still open", bad)
		}
		if got := cl.read(); len(got) == 0 || got[len(got)-1] != "close" {
			t.Errorf("%q: server sent %q, want a close frame", bad, got)
		}
	}
}

func TestSocketIOBinaryAndAcks(t *testing.T) {
	io, r := testIO(t)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.expectSID("40")
	cl.send(1, `452-7["message",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]`)
	cl.expect() // waiting for attachments
	cl.send(2, "\x01\x02")
	cl.expect()
	cl.send(2, "\x03")
	cl.expect(
		`452-["echo",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]`, "bin:\x01\x02", "bin:\x03",
		`462-7[{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]`, "bin:\x01\x02", "bin:\x03",
	)
	// A text packet while attachments are expected is a protocol error.
	cl.send(1, `451-["message",{"_placeholder":true,"num":0}]`)
	cl.send(1, `42["message"]`)
	if !cl.s.Closed() {
		t.Fatal("text packet during binary reassembly did not close the connection")
	}
}

func TestSocketIOServerAckTimeout(t *testing.T) {
	io, r := testIO(t)
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.expectSID("40")
	so := cl.s.sio.sockets[0]
	var got []string
	done := func(args []byte, atts [][]byte, err error) {
		if err != nil {
			got = append(got, err.Error())
		} else {
			got = append(got, string(args))
		}
	}
	so.EmitWithAck("ask", []byte(`1`), nil, time.Second, done)
	so.EmitWithAck("ask", nil, nil, time.Second, done)
	cl.expect(`420["ask",1]`, `421["ask"]`)
	cl.send(1, `431["yes",{"n":2}]`)
	cl.send(1, `437["unknown id"]`) // ignored
	if len(got) != 1 || got[0] != `"yes",{"n":2}` {
		t.Fatalf("ack callbacks: %q", got)
	}
	r.timers.run(r.now() + int64(2*time.Second))
	if len(got) != 2 || got[1] != ErrAckTimeout.Error() {
		t.Fatalf("ack callbacks after the timeout: %q", got)
	}
}

func TestSocketIORoomsAndBroadcast(t *testing.T) {
	io, r := testIO(t)
	var cls []*sioClient
	var ids []string
	for i := 0; i < 4; i++ {
		cl := newSIOClient(t, r, io)
		cl.send(1, "40")
		ids = append(ids, cl.expectSID("40"))
		cls = append(cls, cl)
	}
	socks := func(i int) *Socket { return cls[i].s.sio.sockets[0] }
	socks(0).Join("news")
	socks(1).Join("news")
	socks(1).Join("sport")
	socks(2).Join("sport")
	deliver := func(b *Broadcast) int {
		eb := encodeBroadcast(io.Namespace("/"), b)
		r.deliverBatch([]*encodedBroadcast{eb})
		r.endBatch()
		return int(eb.recipients.Load())
	}
	if n := deliver(&Broadcast{Rooms: []string{"news", "sport"}, Except: []string{ids[2]}, Event: "e", Args: []byte(`1`)}); n != 2 {
		t.Fatalf("union of rooms minus except reached %d sockets, want 2", n)
	}
	cls[0].expect(`42["e",1]`)
	cls[1].expect(`42["e",1]`) // in both rooms, gets it once
	cls[2].expect()
	cls[3].expect()
	if n := deliver(&Broadcast{Rooms: []string{ids[3]}, Event: "dm"}); n != 1 {
		t.Fatalf("a socket id room reached %d sockets", n)
	}
	cls[3].expect(`42["dm"]`)
	// Disconnect drops the socket's rooms.
	cls[1].send(1, "41")
	if n := deliver(&Broadcast{Rooms: []string{"sport"}, Event: "e"}); n != 1 {
		t.Fatalf("after a disconnect the room reached %d sockets, want 1", n)
	}
	if got := socks(0).Rooms(); len(got) != 2 || got[0] != ids[0] || got[1] != "news" {
		t.Fatalf("Rooms() = %q", got)
	}
	if _, err := io.Broadcast(&Broadcast{Event: "disconnect"}); err != ErrReservedEvent {
		t.Fatalf("reserved event: err = %v", err)
	}
	if _, err := io.Broadcast(&Broadcast{Namespace: "/none", Event: "x"}); err != ErrUnknownNamespace {
		t.Fatalf("unknown namespace: err = %v", err)
	}
}

func TestSocketIOConnectTimeout(t *testing.T) {
	io, r := testIO(t)
	io.ConnectTimeout = time.Second
	cl := newSIOClient(t, r, io)
	r.timers.run(r.now() + int64(500*time.Millisecond))
	if cl.s.Closed() {
		t.Fatal("closed before connectTimeout")
	}
	r.timers.run(r.now() + int64(2*time.Second))
	if !cl.s.Closed() {
		t.Fatal("a client that joined no namespace was not closed after connectTimeout")
	}
}

// TestSocketIOConnectTimeoutFirstOnly: the timeout is for the first
// CONNECT; a client that joined, then left every namespace, stays open
// past it, as in Node (client.ts clears connectTimeout on the first).
func TestSocketIOConnectTimeoutFirstOnly(t *testing.T) {
	io, r := testIO(t)
	io.ConnectTimeout = time.Second
	cl := newSIOClient(t, r, io)
	cl.send(1, "40")
	cl.expectSID("40")
	cl.send(1, "41")
	r.timers.run(r.now() + int64(2*time.Second))
	if cl.s.Closed() {
		t.Fatal("a client that had joined a namespace was closed by the connect timeout")
	}
}

func TestPatternNamespaceNotYetJoined(t *testing.T) {
	io, _ := testIO(t)
	if !io.Declared("/org-7") || io.Declared("/other") || !io.Declared("/custom") {
		t.Fatal("Declared: /org-7 matches /org-*, /custom is static, /other is neither")
	}
	if n, err := io.Broadcast(&Broadcast{Namespace: "/org-7", Event: "x"}); n != 0 || err != nil {
		t.Fatalf("broadcast to a pattern namespace nobody joined: %d, %v; want 0, nil", n, err)
	}
}

func TestOnNamespaceForPatternChildren(t *testing.T) {
	io, r := testIO(t)
	var created []string
	io.OnNamespace = func(name string) { created = append(created, name) }
	cl := newSIOClient(t, r, io)
	cl.send(1, "40/org-9,")
	cl.expectSID("40/org-9,")
	cl.send(1, "40/custom,") // static: declared before, not created here
	cl.expectSID("40/custom,")
	c2 := newSIOClient(t, r, io)
	c2.send(1, "40/org-9,") // already created
	c2.expectSID("40/org-9,")
	if len(created) != 1 || created[0] != "/org-9" {
		t.Fatalf("OnNamespace calls: %q, want [/org-9]", created)
	}
}

func TestGlobMatch(t *testing.T) {
	f := func(p, n string, ok bool) {
		t.Helper()
		if got := GlobMatch(p, n); got != ok {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", p, n, got, ok)
		}
	}
	f("/org-*", "/org-1", true)
	f("/org-*", "/org-", true)
	f("/org-*", "/org", false)
	f("/a*b*c", "/aXbYc", true)
	f("/a*b*c", "/abc", true)
	f("/a*b*c", "/aXbY", false)
	f("*", "", true)
	f("/x", "/x", true)
	f("/x", "/y", false)
	f("/*-room", "/team-room", true)
	f("", "", true)
	f("", "/", false)
	f("/", "", false)
	f("**", "", true)
	f("**", "/anything", true)
	f("/a**b", "/ab", true)
	f("*a", "aaa", true)
	f("*a", "aab", false)
	f("a*", "ba", false)
	f("*ab", "aab", true)   // the star must give back what it swallowed
	f("*aab", "aaab", true) // ... more than once
	f("/*ab*ab", "/abab", true)
	f("/*ab*ab", "/aabab", true)
	f("/*ab*ab", "/abaab", true)
	f("/*ab*ab", "/ab", false) // two literals cannot share bytes
	f("/*x*", "/abc", false)
	f("/*/*", "/org/team", true)
	f("/*/*", "/org", false)
	f("/é*", "/été", true) // bytes, so any UTF-8 works
	f("/?", "/a", false)   // '?' is literal
	f("/?", "/?", true)
	f("/[a]", "/a", false)       // so are brackets
	f("/a\\*", "/a\\bc", true)   // and the backslash
	f("/org-*", "/ORG-1", false) // case-sensitive
}

// TestGlobMatchLinear matches a megabyte name against patterns with stars
// around literals: the recursive match took quadratic time or worse on
// them (hours for a name a client may send in one CONNECT).
func TestGlobMatchLinear(t *testing.T) {
	name := "/" + strings.Repeat("a", 1<<20)
	for _, c := range []struct {
		p  string
		ok bool
	}{
		{"/*a*b*c", false},
		{"/*b*", false},
		{"*a*a*a*a*b", false},
		{"/*a*a*", true},
		{"/*a", true},
		{"*/*", true},
	} {
		start := time.Now()
		got := GlobMatch(c.p, name)
		if d := time.Since(start); d > time.Second {
			t.Errorf("GlobMatch(%q, 1 MiB name) took %v, want well under 1s", c.p, d)
		}
		if got != c.ok {
			t.Errorf("GlobMatch(%q, 1 MiB name) = %v, want %v", c.p, got, c.ok)
		}
	}
}

// globRegexp is the reference of FuzzGlobMatch: each literal run quoted,
// each '*' turned into "any run of characters", the whole anchored.
func globRegexp(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
}

// FuzzGlobMatch compares globMatch with a regular expression. Both sides
// must be valid UTF-8: the regexp package reads an invalid byte as U+FFFD,
// globMatch compares bytes (on valid UTF-8 the two agree, since a literal
// always starts and ends on a rune boundary).
func FuzzGlobMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/org-*", "/org-1"}, {"/a*b*c", "/aXbYc"}, {"*ab", "aab"}, {"/*ab*ab", "/abaab"},
		{"**", ""}, {"/é*", "/été"}, {"/.*+?", "/.xx+?"}, {"a*", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 256 || !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			t.Skip()
		}
		want := globRegexp(pattern).MatchString(name)
		if got := GlobMatch(pattern, name); got != want {
			t.Fatalf("GlobMatch(%q, %q) = %v, the regexp says %v", pattern, name, got, want)
		}
	})
}
