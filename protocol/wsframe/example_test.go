package wsframe_test

import (
	"fmt"

	"sioloop/protocol/wsframe"
)

// The loop's read path: parse one frame from the peeked bytes, unmask it in
// place once it is complete, then consume n bytes.
func ExampleParseFrame() {
	in := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58} // RFC 6455 §5.7
	if _, _, _, err := wsframe.ParseFrame(in[:4], 1<<20); err == wsframe.ErrNeedMore {
		fmt.Println("need more")
	}
	h, payload, n, err := wsframe.ParseFrame(in, 1<<20)
	if err != nil {
		fmt.Println("close with", wsframe.CloseCode(err))
		return
	}
	wsframe.Unmask(payload, h.Mask)
	fmt.Printf("op=%d fin=%v %q consumed=%d\n", h.OpCode, h.Fin, payload, n)

	_, _, _, err = wsframe.ParseFrame([]byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, 1<<20)
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
