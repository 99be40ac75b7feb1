package wsframe_test

import (
	"fmt"

	"sioloop/protocol/wsframe"
)

// The loop's read path: parse the header from the peeked bytes, check it
// against the limits, wait for the whole payload, unmask it in place once,
// then consume the frame.
func ExampleParseHeader() {
	in := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58} // RFC 6455 §5.7
	if _, _, err := wsframe.ParseHeader(in[:1]); err == wsframe.ErrNeedMore {
		fmt.Println("need more")
	}
	h, hn, err := wsframe.ParseHeader(in)
	if err != nil {
		fmt.Println("close with", wsframe.CloseCode(err))
		return
	}
	if h.Length > 1<<20 {
		fmt.Println("close with", wsframe.CloseMessageTooBig)
		return
	}
	n := hn + int(h.Length)
	if len(in) < n {
		fmt.Println("need more")
		return
	}
	payload := in[hn:n]
	wsframe.Unmask(payload, h.Mask)
	fmt.Printf("op=%d fin=%v %q consumed=%d\n", h.OpCode, h.Fin, payload, n)

	_, _, err = wsframe.ParseHeader([]byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'})
	fmt.Println(err, wsframe.CloseCode(err))
	// Output:
	// need more
	// op=1 fin=true "Hello" consumed=11
	// wsframe: unmasked client frame 1002
}

func ExampleAppendFrame() {
	fmt.Printf("% x\n", wsframe.AppendFrame(nil, wsframe.OpText, []byte("42")))
	fmt.Printf("% x\n", wsframe.AppendClose(nil, wsframe.CloseNormal, ""))
	// Output:
	// 81 02 34 32
	// 88 02 03 e8
}

// Encode the payload first, after room for the largest header, then put the
// header in front of it: the payload is never copied.
func ExamplePutHeaderBefore() {
	buf := make([]byte, wsframe.MaxServerHeaderSize, 64)
	buf = append(buf, `42["chat","hi"]`...)
	start := wsframe.PutHeaderBefore(buf, wsframe.MaxServerHeaderSize, true, wsframe.OpText)
	fmt.Printf("% x\n", buf[start:start+4])
	// Output: 81 0f 34 32
}

func ExampleAppendAcceptKey() {
	fmt.Printf("%s\n", wsframe.AppendAcceptKey(nil, []byte("dGhlIHNhbXBsZSBub25jZQ==")))
	// Output: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
}
