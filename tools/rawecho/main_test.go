package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// TestEcho speaks to one loop the way tools/loadtest does: upgrade, the
// constant open frame, then masked frames that come back unmasked.
func TestEcho(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:" + strconv.Itoa(testnet.FreePort(t)))
	l, err := newLoop(ap)
	if err != nil {
		t.Fatal(err)
	}
	go l.run()
	c, err := net.DialTimeout("tcp", ap.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// RFC 6455 §1.3: the sample key and its accept value.
	io.WriteString(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	r := bufio.NewReader(c)
	var head bytes.Buffer
	for !bytes.HasSuffix(head.Bytes(), []byte("\r\n\r\n")) {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading the 101: %v (%q)", err, head.String())
		}
		head.WriteByte(b)
	}
	if !bytes.HasPrefix(head.Bytes(), []byte("HTTP/1.1 101 ")) || !bytes.Contains(head.Bytes(), []byte("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) {
		t.Fatalf("upgrade response %q", head.String())
	}
	frame := func(want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read % x (%v), want % x", got, err, want)
		}
	}
	frame([]byte("\x81\x030{}"))
	mask := []byte{1, 2, 3, 4}
	masked := func(op byte, p string) []byte {
		b := []byte{0x80 | op, 0x80 | byte(len(p))}
		b = append(b, mask...)
		for i := range len(p) {
			b = append(b, p[i]^mask[i&3])
		}
		return b
	}
	// Two frames in one write, the second split over two writes.
	msg := `42["message",{"seq":1,"ts":2,"pad":""}]`
	two := append(masked(1, "40"), masked(1, msg)...)
	c.Write(two[:10])
	time.Sleep(20 * time.Millisecond)
	c.Write(two[10:])
	frame(append([]byte{0x81, 2}, "40"...))
	frame(append([]byte{0x81, byte(len(msg))}, msg...))
	c.Write(masked(9, "hi"))
	frame([]byte("\x8a\x02hi"))
	c.Write(masked(8, "\x03\xe8"))
	frame([]byte("\x88\x02\x03\xe8"))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("after the close frame: %v, want EOF", err)
	}
}
