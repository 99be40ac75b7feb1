package loop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"sioloop/tools/testnet"
)

// peerAddrProbe is a gnet handler that drops each connection's addresses
// when it opens and echoes what it reads, reporting what gnet returned.
type peerAddrProbe struct {
	gnet.BuiltinEventEngine
	eng    gnet.Engine
	opened chan [2]net.Addr
}

func (p *peerAddrProbe) OnBoot(eng gnet.Engine) gnet.Action { p.eng = eng; return gnet.None }

func (p *peerAddrProbe) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if c.RemoteAddr() == nil {
		p.opened <- [2]net.Addr{nil, nil}
		return nil, gnet.Close
	}
	dropPeerAddrs(c)
	dropPollCallback(c)
	p.opened <- [2]net.Addr{c.LocalAddr(), c.RemoteAddr()}
	return nil, gnet.None
}

func (p *peerAddrProbe) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	_, _ = c.Write(b)
	return gnet.None
}

// TestDropPeerAddrs checks, against the gnet release in go.mod, that
// dropPeerAddrs finds the address fields of gnet's conn and clears them,
// that dropPollCallback finds the poller callback, and that the
// connection still works afterwards. If it fails, a gnet upgrade renamed
// the fields: connections keep 256 (or 16) bytes more.
func TestDropPeerAddrs(t *testing.T) {
	addr := testnet.FreeAddr(t)
	p := &peerAddrProbe{opened: make(chan [2]net.Addr, 1)}
	done := make(chan error, 1)
	go func() { done <- gnet.Run(p, "tcp://"+addr) }()
	t.Cleanup(func() {
		_ = p.eng.Stop(context.Background())
		<-done
	})
	if err := testnet.WaitListen(addr, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	// WaitListen's own connection opens first.
	<-p.opened
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-p.opened; got[0] != nil || got[1] != nil {
		t.Fatalf("after dropPeerAddrs, LocalAddr %v and RemoteAddr %v, want nil: gnet's conn (%v) no longer has localAddr, remoteAddr and remote where dropPeerAddrs looks",
			got[0], got[1], peerAddrFields.typ)
	}
	if pollCallbackField.typ == nil {
		t.Fatalf("dropPollCallback found no pollAttachment.Callback in gnet's conn: connections keep a 16-byte closure")
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo after dropping the addresses: %q, %v", buf, err)
	}
	if got := remoteOf(&fakeAddrless{}); got != "unknown" {
		t.Errorf("remoteOf a conn with no address and no session = %q, want unknown", got)
	}
}

// fakeAddrless is a gnet.Conn with neither address nor context.
type fakeAddrless struct{ gnet.Conn }

func (*fakeAddrless) RemoteAddr() net.Addr { return nil }
func (*fakeAddrless) Context() any         { return nil }
