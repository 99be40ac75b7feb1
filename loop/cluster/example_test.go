package cluster_test

import (
	"fmt"

	"sioloop/loop"
	"sioloop/loop/cluster"
)

// A broadcast travels as the msgpack array [uid, packet, opts] on the
// channel of its namespace (and room, when it targets exactly one); the
// other side gets back the same event, with binary arguments as
// attachments.
func ExampleCodec_AppendBroadcast() {
	var c cluster.Codec
	b := loop.Broadcast{Namespace: "/chat", Rooms: []string{"news"}, Event: "headline",
		Args: []byte(`{"title":"hi"},{"_placeholder":true,"num":0}`), Attachments: [][]byte{{1, 2, 3}}}
	msg, _ := c.AppendBroadcast(nil, "Ab3dEf", &b)
	fmt.Println(cluster.BroadcastChannel(cluster.DefaultKey, b.Namespace, b.Rooms))
	fmt.Printf("%x\n", msg[:8])

	var m cluster.Message
	_ = c.ParseBroadcast(msg, &m)
	fmt.Println(m.UID, m.Broadcast.Namespace, m.Broadcast.Rooms, m.Broadcast.Event, string(m.Broadcast.Args), m.Broadcast.Attachments)
	// Output:
	// socket.io#/chat#news#
	// 93a6416233644566
	// Ab3dEf /chat [news] headline {"title":"hi"},{"_placeholder":true,"num":0} [[1 2 3]]
}

// JSON numbers become what notepack.io writes for the JavaScript value:
// integral ones the smallest integer, others a float 64.
func ExampleCodec_AppendMsgpack() {
	var c cluster.Codec
	for _, v := range []string{`1.0`, `300`, `-1`, `0.5`, `"é"`} {
		mp, _ := c.AppendMsgpack(nil, []byte(v), nil)
		fmt.Printf("%-5s %x\n", v, mp)
	}
	// Output:
	// 1.0   01
	// 300   cd012c
	// -1    ff
	// 0.5   cb3fe0000000000000
	// "é"   a2c3a9
}
