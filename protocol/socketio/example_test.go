package socketio_test

import (
	"fmt"

	"sioloop/protocol/socketio"
)

func ExampleParse() {
	h, err := socketio.Parse([]byte(`2/admin,13["chat",{"text":"hi"}]`))
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Type, string(h.Namespace), h.HasAck, h.AckID, string(h.Data))

	_, err = socketio.Parse([]byte(`2["disconnect"]`))
	fmt.Println(err)
	// Output:
	// EVENT /admin true 13 ["chat",{"text":"hi"}]
	// socketio: reserved event name
}

func ExampleParse_binary() {
	h, _ := socketio.Parse([]byte(`51-["upload",{"_placeholder":true,"num":0}]`))
	fmt.Println(h.Type, h.Attachments, socketio.CheckPlaceholders(h.Data, h.Attachments))
	// Output: BINARY_EVENT 1 <nil>
}

func ExampleSplitEvent() {
	name, args, _ := socketio.SplitEvent([]byte(`["message",{"a":1},2]`))
	fmt.Printf("%s | %s\n", name, args)
	// Output: message | {"a":1},2
}

func ExampleAppendEvent() {
	buf := make([]byte, 0, 64)
	buf = socketio.AppendEvent(buf, []byte("/admin"), 0, true, 7, []byte(`say "hi"`), []byte(`{"a":"<b>"}`))
	fmt.Println(string(buf))
	// Output: 2/admin,7["say \"hi\"",{"a":"<b>"}]
}

func ExampleAppendAck() {
	fmt.Println(string(socketio.AppendAck(nil, nil, 0, 12, nil)))
	fmt.Println(string(socketio.AppendAck(nil, []byte("/admin"), 0, 13, []byte(`"bar"`))))
	// Output:
	// 312[]
	// 3/admin,13["bar"]
}

func ExampleAppendConnect() {
	fmt.Println(string(socketio.AppendConnect(nil, []byte("/"), "wZX3oN0bSVIhsaknAAAI")))
	fmt.Println(string(socketio.AppendConnectError(nil, []byte("/nsp"), "Invalid namespace", nil)))
	fmt.Println(string(socketio.AppendConnectError(nil, nil, "Not authorized", []byte(`{"why":"deny"}`))))
	fmt.Println(string(socketio.AppendDisconnect(nil, []byte("/admin"))))
	// Output:
	// 0{"sid":"wZX3oN0bSVIhsaknAAAI"}
	// 4/nsp,{"message":"Invalid namespace"}
	// 4{"message":"Not authorized","data":{"why":"deny"}}
	// 1/admin,
}

func ExampleAppendJSONString() {
	fmt.Println(string(socketio.AppendJSONString(nil, []byte("<a href=\"x\">\tR&D\x01"))))
	// Output: "<a href=\"x\">\tR&D\u0001"
}
