package interop

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// TestClusterStreamsRecovery: cross-server connection state recovery
// with REDIS_ADAPTER=streams, as the official socket.io-client 4.8 sees
// it. Two sioloop servers (A, B) and a Node socket.io 4.8 server with
// @socket.io/redis-streams-adapter 0.3.1 share one stream, all with
// connection state recovery; xrecovery.js connects through a TCP proxy:
//
//  1. to A, joins "news" and gets one event (its offset is an entry ID);
//  2. A gets SIGTERM (its drain saves the session) while the proxy lets
//     no new connection through; two events are posted on B; the proxy
//     now leads to B: the client recovers there (same id, recovered
//     true) and gets both events, once, in order;
//  3. the proxy cuts the connection to B (a transport close: B saves
//     the session) and one event is posted on B; the proxy leads to the
//     Node server: the client recovers there, with that event;
//  4. the same from the Node server back to B.
func TestClusterStreamsRecovery(t *testing.T) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skipf("the cluster test runs sioloop with the Node peer; INTEROP_TARGET=%s", h.target)
	}
	peer := needPeerPackages(t, h, "@socket.io/redis-streams-adapter")
	rs := redistest.Start(t)
	bin := h.binary(t, "sioloop")
	var srv []*clusterProc
	var admin []string
	for i := range 2 {
		port, adminPort := testnet.FreePort(t), testnet.FreePort(t)
		srv = append(srv, startClusterProc(t, "sioloop"+strconv.Itoa(i), h.root, bin, nil, []string{
			"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(adminPort),
			"REDIS_URL=" + rs.URL, "REDIS_ADAPTER=streams", "CONNECTION_STATE_RECOVERY=60s", "LOG_LEVEL=warn",
		}, port))
		admin = append(admin, "http://127.0.0.1:"+strconv.Itoa(adminPort))
	}
	nodePort := testnet.FreePort(t)
	startClusterProc(t, "node", h.root, h.node, []string{filepath.Join(peer, "server.js")}, []string{
		"PORT=" + strconv.Itoa(nodePort), "HOST=127.0.0.1", "REDIS_URL=" + rs.URL, "REDIS_ADAPTER=streams",
		"CONNECTION_STATE_RECOVERY=60000",
	}, nodePort)
	px := newSwitchProxy(t)
	px.to(strings.TrimPrefix(srv[0].url, "http://"))

	js := startNodeScript(t, h, 60*time.Second, []string{"XREC_URL=http://" + px.addr}, "xrecovery.js", "--timeout", "55")
	defer func() {
		_, _ = io.WriteString(js.stdin, "quit\n")
		_ = js.cmd.Wait()
		if js.stderr.Len() > 0 {
			t.Logf("--- xrecovery.js stderr ---\n%s", js.stderr.String())
		}
	}()
	// The lines go through a channel so that next can wait for one with a timeout.
	lines := make(chan string, 64)
	go func() {
		for js.lines.Scan() {
			lines <- js.lines.Text()
		}
		close(lines)
	}()
	var id string
	next := func(prefix string) []string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("xrecovery.js ended, waiting for %s", prefix)
				}
				t.Log(l)
				if strings.HasPrefix(l, "DISCONNECT") && prefix != "DISCONNECT" {
					continue
				}
				if !strings.HasPrefix(l, prefix) {
					t.Fatalf("got %q, want %s…", l, prefix)
				}
				return strings.Fields(l)
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s line within 10s", prefix)
			}
		}
	}
	// recovered reads the lines of a reconnection: the missed events
	// come before CONNECT (socket.io-client emits its buffered events
	// first), and they must be want, in that order.
	recovered := func(where string, want ...string) {
		t.Helper()
		var got []string
		connected := false
		for !connected || len(got) < len(want) {
			f := next("")
			switch f[0] {
			case "CONNECT":
				if f[1] != id || f[2] != "true" {
					t.Fatalf("on %s: %v, want socket %s recovered", where, f, id)
				}
				connected = true
			case "GOT":
				got = append(got, f[1])
			default:
				t.Fatalf("on %s: unexpected %v", where, f)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("on %s: events %v, want %v once each, in order", where, got, want)
		}
	}
	post := func(base string, n int) {
		t.Helper()
		body := `{"channel":"news","payload":` + strconv.Itoa(n) + `,"rooms":"news"}`
		resp, err := http.Post(base+"/SendWebsocketEvent", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", body, resp.StatusCode)
		}
	}

	id = next("CONNECT")[1]
	next("SUBSCRIBED")
	post(admin[1], 0)
	next("GOT 0")

	// A drains while the proxy lets nothing new through.
	px.to("")
	_ = syscall.Kill(srv[0].cmd.Process.Pid, syscall.SIGTERM)
	next("DISCONNECT")
	<-srv[0].done
	post(admin[1], 1)
	post(admin[1], 2)
	px.to(strings.TrimPrefix(srv[1].url, "http://"))
	recovered("B", "1", "2")

	// B loses the client (transport close), the Node server takes it.
	px.to("")
	px.cut()
	next("DISCONNECT")
	post(admin[1], 3)
	time.Sleep(300 * time.Millisecond) // B saves the session within milliseconds
	px.to("127.0.0.1:" + strconv.Itoa(nodePort))
	recovered("the Node server", "3")
	post(admin[1], 4) // and it is live there
	next("GOT 4")

	// And back: the session Node saved restores on B.
	px.to("")
	px.cut()
	next("DISCONNECT")
	post(admin[1], 5)
	time.Sleep(300 * time.Millisecond)
	px.to(strings.TrimPrefix(srv[1].url, "http://"))
	recovered("B from the Node server", "5")
	select {
	case l := <-lines:
		if strings.HasPrefix(l, "GOT") {
			t.Fatalf("unexpected %q: every event once", l)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// switchProxy is a TCP proxy whose destination the test changes; with
// none, new connections are closed at once.
type switchProxy struct {
	addr string
	mu   sync.Mutex
	dest string
	cs   []net.Conn
}

func newSwitchProxy(t *testing.T) *switchProxy {
	ln := testnet.Listen(t)
	p := &switchProxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			dest := p.dest
			p.mu.Unlock()
			var u net.Conn
			if dest != "" {
				u, err = net.Dial("tcp", dest)
			}
			if dest == "" || err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.cs = append(p.cs, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *switchProxy) to(dest string) {
	p.mu.Lock()
	p.dest = dest
	p.mu.Unlock()
}

// cut closes every connection made so far.
func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cs {
		c.Close()
	}
	p.cs = nil
}
