package engineio_test

import (
	"fmt"

	"sioloop/protocol/engineio"
)

func ExampleAppendOpen() {
	open := engineio.AppendOpen(nil, engineio.OpenInfo{
		SID:          "0naoYXG4FpKzPYCGAAAA",
		Upgrades:     []string{"websocket"},
		PingInterval: 25000,
		PingTimeout:  20000,
		MaxPayload:   1000000,
	})
	fmt.Printf("%s\n", open)
	// Output:
	// 0{"sid":"0naoYXG4FpKzPYCGAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
}

func ExampleNextPayloadPacket() {
	// A POST body from a v4 polling client: four packets, the last binary.
	body := []byte("4hello\x1e2\x1e4€\x1ebAQIDBA==")
	for rest := body; rest != nil; {
		var p engineio.Packet
		var err error
		p, rest, err = engineio.NextPayloadPacket(rest)
		if err != nil {
			fmt.Println("close the session:", err)
			return
		}
		if p.Binary {
			fmt.Printf("%s binary % x\n", p.Type, p.Data)
		} else {
			fmt.Printf("%s %q\n", p.Type, p.Data)
		}
	}
	// Output:
	// message "hello"
	// ping ""
	// message "€"
	// message binary 01 02 03 04
}

func ExampleAppendPayloadPacket() {
	var body []byte
	for i, p := range []engineio.Packet{
		{Type: engineio.Message, Data: []byte("hello")},
		{Type: engineio.Ping},
		{Type: engineio.Message, Data: []byte{1, 2, 3, 4}, Binary: true},
	} {
		body = engineio.AppendPayloadPacket(body, i == 0, p)
	}
	fmt.Printf("%q\n", body)
	// Output:
	// "4hello\x1e2\x1ebAQIDBA=="
}

func ExampleParsePacketInPlace() {
	// A WebSocket text frame.
	p, err := engineio.ParsePacketInPlace([]byte("2probe"))
	fmt.Println(p.Type, string(p.Data), err)
	// A binary packet in a polling body, decoded over its own bytes.
	p, err = engineio.ParsePacketInPlace([]byte("bAQIDBA=="))
	fmt.Println(p.Type, p.Binary, p.Data, err)
	_, err = engineio.ParsePacketInPlace([]byte("9"))
	fmt.Println(err)
	// Output:
	// ping probe <nil>
	// message true [1 2 3 4] <nil>
	// engineio: unknown packet type
}

func ExampleRequestError() {
	e := engineio.ErrUnknownSID
	fmt.Println(e.Status, string(e.Body))
	fmt.Println(e)
	// Output:
	// 400 {"code":1,"message":"Session ID unknown"}
	// engineio: Session ID unknown (code 1)
}
