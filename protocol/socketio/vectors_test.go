package socketio

import (
	"bytes"
	"errors"
)

// vector is one packet as it appears on the wire and as Parse decodes it.
// Canonical vectors are also what the encoders must produce: from the
// Header (AppendHeader + Data) and, when enc is set, from the dedicated
// encoder. Wire texts come from socket.io-protocol v5 and were checked
// against Node's socket.io-parser 4.2.7.
type vector struct {
	wire  string
	h     Header
	canon bool          // AppendHeader(h) + h.Data gives wire back
	enc   func() []byte // the dedicated encoder for this packet, if any
}

func b(s string) []byte { return []byte(s) }

var vectors = []vector{
	{`2["foo"]`, Header{Type: Event, Namespace: b("/"), Data: b(`["foo"]`)}, true,
		func() []byte { return AppendEvent(nil, nil, 0, false, 0, b("foo"), nil) }},
	{`2/admin,13["bar"]`, Header{Type: Event, Namespace: b("/admin"), HasAck: true, AckID: 13, Data: b(`["bar"]`)}, true,
		func() []byte { return AppendEvent(nil, b("/admin"), 0, true, 13, b("bar"), nil) }},
	{`212["foo"]`, Header{Type: Event, Namespace: b("/"), HasAck: true, AckID: 12, Data: b(`["foo"]`)}, true,
		func() []byte { return AppendEvent(nil, b("/"), 0, true, 12, b("foo"), nil) }},
	{`2["news",{"b":1,"a":"<x>&"}]`, Header{Type: Event, Namespace: b("/"), Data: b(`["news",{"b":1,"a":"<x>&"}]`)}, true,
		func() []byte { return AppendEvent(nil, nil, 0, false, 0, b("news"), b(`{"b":1,"a":"<x>&"}`)) }},
	{`2[42,"x"]`, Header{Type: Event, Namespace: b("/"), Data: b(`[42,"x"]`)}, true, nil},
	{`2["conn\u0065cted"]`, Header{Type: Event, Namespace: b("/"), Data: b(`["conn\u0065cted"]`)}, true, nil},
	{`29007199254740991["a"]`, Header{Type: Event, Namespace: b("/"), HasAck: true, AckID: MaxAckID, Data: b(`["a"]`)}, true, nil},
	{`3/admin,13["bar"]`, Header{Type: Ack, Namespace: b("/admin"), HasAck: true, AckID: 13, Data: b(`["bar"]`)}, true,
		func() []byte { return AppendAck(nil, b("/admin"), 0, 13, b(`"bar"`)) }},
	{`312[]`, Header{Type: Ack, Namespace: b("/"), HasAck: true, AckID: 12, Data: b(`[]`)}, true,
		func() []byte { return AppendAck(nil, nil, 0, 12, nil) }},
	{`1/admin,`, Header{Type: Disconnect, Namespace: b("/admin")}, true,
		func() []byte { return AppendDisconnect(nil, b("/admin")) }},
	{`1`, Header{Type: Disconnect, Namespace: b("/")}, true,
		func() []byte { return AppendDisconnect(nil, b("/")) }},
	{`0`, Header{Type: Connect, Namespace: b("/")}, true,
		func() []byte { return AppendHeader(nil, Connect, 0, nil, false, 0) }},
	{`0{"token":"123"}`, Header{Type: Connect, Namespace: b("/"), Data: b(`{"token":"123"}`)}, true, nil},
	{`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, Header{Type: Connect, Namespace: b("/admin"), Data: b(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}, true,
		func() []byte { return AppendConnect(nil, b("/admin"), "oSO0OpakMV_3jnilAAAA") }},
	{`0{"sid":"s1","pid":"p1"}`, Header{Type: Connect, Namespace: b("/"), Data: b(`{"sid":"s1","pid":"p1"}`)}, true,
		func() []byte { return AppendConnectPID(nil, b("/"), "s1", "p1") }},
	{`0/admin?token=1,`, Header{Type: Connect, Namespace: b("/admin"), Query: b("?token=1")}, true, nil},
	{`01`, Header{Type: Connect, Namespace: b("/"), HasAck: true, AckID: 1}, true, nil},
	{`05{}`, Header{Type: Connect, Namespace: b("/"), HasAck: true, AckID: 5, Data: b(`{}`)}, true, nil},
	{`4{"message":"Not authorized","data":{"why":"deny"}}`, Header{Type: ConnectError, Namespace: b("/"), Data: b(`{"message":"Not authorized","data":{"why":"deny"}}`)}, true,
		func() []byte { return AppendConnectError(nil, nil, "Not authorized", b(`{"why":"deny"}`)) }},
	{`4/nsp,{"message":"Invalid namespace"}`, Header{Type: ConnectError, Namespace: b("/nsp"), Data: b(`{"message":"Invalid namespace"}`)}, true,
		func() []byte { return AppendConnectError(nil, b("/nsp"), "Invalid namespace", nil) }},
	{`4"oops"`, Header{Type: ConnectError, Namespace: b("/"), Data: b(`"oops"`)}, true, nil},
	{`4`, Header{Type: ConnectError, Namespace: b("/")}, true, nil},
	{`51-["baz",{"_placeholder":true,"num":0}]`, Header{Type: BinaryEvent, Attachments: 1, Namespace: b("/"), Data: b(`["baz",{"_placeholder":true,"num":0}]`)}, true,
		func() []byte { return AppendEvent(nil, nil, 1, false, 0, "baz", b(`{"_placeholder":true,"num":0}`)) }},
	{`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Header{Type: BinaryEvent, Attachments: 2, Namespace: b("/admin"),
		Data: b(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}, true,
		func() []byte {
			return AppendEvent(nil, b("/admin"), 2, false, 0, "baz", b(`{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}`))
		}},
	{`510-["x"]`, Header{Type: BinaryEvent, Attachments: 10, Namespace: b("/"), Data: b(`["x"]`)}, true, nil},
	{`61-15["bar",{"_placeholder":true,"num":0}]`, Header{Type: BinaryAck, Attachments: 1, Namespace: b("/"), HasAck: true, AckID: 15,
		Data: b(`["bar",{"_placeholder":true,"num":0}]`)}, true,
		func() []byte { return AppendAck(nil, nil, 1, 15, b(`"bar",{"_placeholder":true,"num":0}`)) }},
	{`61-/admin,1[{"_placeholder":true,"num":0}]`, Header{Type: BinaryAck, Attachments: 1, Namespace: b("/admin"), HasAck: true, AckID: 1,
		Data: b(`[{"_placeholder":true,"num":0}]`)}, true,
		func() []byte { return AppendAck(nil, b("/admin"), 1, 1, b(`{"_placeholder":true,"num":0}`)) }},

	// Accepted, but not how our encoders (or Node's) would write them.
	{`0/custom`, Header{Type: Connect, Namespace: b("/custom")}, false, nil},
	{`2/,["a"]`, Header{Type: Event, Namespace: b("/"), Data: b(`["a"]`)}, false, nil},
	{"2[\"a\"] \r\n\t", Header{Type: Event, Namespace: b("/"), Data: b(`["a"]`)}, false, nil},
	{`2007["a"]`, Header{Type: Event, Namespace: b("/"), HasAck: true, AckID: 7, Data: b(`["a"]`)}, false, nil},
	{`501-["a"]`, Header{Type: BinaryEvent, Attachments: 1, Namespace: b("/"), Data: b(`["a"]`)}, false, nil},
	{`2/a?b,["x"]`, Header{Type: Event, Namespace: b("/a?b"), Data: b(`["x"]`)}, true, nil},
	{`2[ "a" , 1 ]`, Header{Type: Event, Namespace: b("/"), Data: b(`[ "a" , 1 ]`)}, true, nil},
}

// refusals are packets Parse must refuse, with the reason.
//
// Node's socket.io-parser 4.2.7 refuses them too, except where a comment
// says otherwise (each such case is in the package documentation).
var refusals = []struct {
	wire string
	err  error
}{
	{``, ErrEmptyPacket}, // Node: CONNECT to "/"
	{`7`, ErrUnknownType},
	{`a["x"]`, ErrUnknownType},
	{` 2["x"]`, ErrUnknownType},
	{`/2["x"]`, ErrUnknownType},
	{`2["connect"]`, ErrReservedEvent},
	{`2["connect_error"]`, ErrReservedEvent},
	{`2["disconnect",1]`, ErrReservedEvent},
	{`2/admin,["disconnecting"]`, ErrReservedEvent},
	{`2["newListener"]`, ErrReservedEvent},
	{`21["removeListener"]`, ErrReservedEvent},
	{`51-["connect",{"_placeholder":true,"num":0}]`, ErrReservedEvent},
	{`2["conn\u0065ct"]`, ErrReservedEvent},
	{`2["\u0063\u006F\u006e\u006e\u0065\u0063\u0074"]`, ErrReservedEvent},
	{`2[ "connect"]`, ErrReservedEvent},
	{`2{"a":1}`, ErrInvalidPayload},
	{`2"foo"`, ErrInvalidPayload},
	{`2[]`, ErrInvalidPayload},
	{`2[ ]`, ErrInvalidPayload},
	{`2[null]`, ErrInvalidPayload},
	{`2[{"a":1}]`, ErrInvalidPayload},
	{`2[["a"]]`, ErrInvalidPayload},
	{`2[true]`, ErrInvalidPayload},
	{`2`, ErrInvalidPayload},                    // Node accepts an EVENT without payload
	{`2/admin,`, ErrInvalidPayload},             // Node accepts
	{`212`, ErrInvalidPayload},                  // Node accepts
	{`29007199254740992["a"]`, ErrBadAckID},     // Node rounds the id
	{`218446744073709551615["a"]`, ErrBadAckID}, // Node rounds the id
	{`218446744073709551616["a"]`, ErrBadAckID}, // Node rounds the id
	{`2` + string(bytes.Repeat([]byte("9"), 400)) + `["a"]`, ErrBadAckID},
	{`3["a"]`, ErrBadAckID},        // Node accepts an ACK without id, its server drops it
	{`3/admin,["a"]`, ErrBadAckID}, // Node accepts
	{`61-["a"]`, ErrBadAckID},      // Node accepts
	{`312`, ErrInvalidPayload},     // Node accepts an ACK without payload
	{`312{}`, ErrInvalidPayload},
	{`312"a"`, ErrInvalidPayload},
	{`511-["a"]`, ErrTooManyAttachments},
	{`599999999999999999999999999-["a"]`, ErrTooManyAttachments},
	{`611-1["a"]`, ErrTooManyAttachments},
	{`50-["a"]`, ErrBadAttachments},
	{`5-["a"]`, ErrBadAttachments},
	{`5["a"]`, ErrBadAttachments},
	{`51["a"]`, ErrBadAttachments},
	{`5 1-["a"]`, ErrBadAttachments},  // Node: Number(" 1") is 1
	{`51.0-["a"]`, ErrBadAttachments}, // Node: Number("1.0") is 1
	{`5`, ErrBadAttachments},
	{`6`, ErrBadAttachments},
	{`51`, ErrBadAttachments},
	{`2["a"`, ErrInvalidJSON},
	{`2["a"]x`, ErrInvalidJSON},
	{`2["a"]["b"]`, ErrInvalidJSON},
	{`2 ["a"]`, ErrInvalidJSON},    // Node: ack id 0
	{"2\n[\"a\"]", ErrInvalidJSON}, // Node: ack id 0
	{`2["a",]`, ErrInvalidJSON},
	{`2["a" 1]`, ErrInvalidJSON},
	{`2["a"}`, ErrInvalidJSON},
	{`0{"a":}`, ErrInvalidJSON},
	{`0{"a"}`, ErrInvalidJSON},
	{`0{"a":1,}`, ErrInvalidJSON},
	{`0{a:1}`, ErrInvalidJSON},
	{`0{"a":1]`, ErrInvalidJSON},
	{"2[\"\x01\"]", ErrInvalidJSON},
	{`2["a\q"]`, ErrInvalidJSON},
	{`2["\u12"]`, ErrInvalidJSON},
	{`2["a",01]`, ErrInvalidJSON},
	{`2["a",1.]`, ErrInvalidJSON},
	{`2["a",.5]`, ErrInvalidJSON},
	{`2["a",1e]`, ErrInvalidJSON},
	{`2["a",-]`, ErrInvalidJSON},
	{`2["a",+1]`, ErrInvalidJSON},
	{`2["a",tru]`, ErrInvalidJSON},
	{`2["a",NaN]`, ErrInvalidJSON},
	{`2['a']`, ErrInvalidJSON},
	{`2/admin["a"]`, ErrInvalidPayload}, // the namespace runs to the end: "/admin[\"a\"]", no payload
	{`2admin,["a"]`, ErrInvalidJSON},
	{`1{}`, ErrInvalidPayload},
	{`1null`, ErrInvalidPayload},
	{`1/admin,"x"`, ErrInvalidPayload},
	{`0[]`, ErrInvalidPayload},
	{`0"x"`, ErrInvalidPayload},
	{`0null`, ErrInvalidPayload},
	{`4[]`, ErrInvalidPayload},
	{`4null`, ErrInvalidPayload},
	{`42.5`, ErrInvalidJSON}, // ack id 42, then ".5"
	{`2[` + string(bytes.Repeat([]byte("["), MaxDepth-1)) + string(bytes.Repeat([]byte("]"), MaxDepth)), ErrInvalidPayload}, // depth MaxDepth: valid JSON, wrong shape
	{`2["a",` + string(bytes.Repeat([]byte("["), MaxDepth)) + string(bytes.Repeat([]byte("]"), MaxDepth+1)), ErrTooDeep},
}

// sentinels lists every error Parse, SplitEvent, SplitAck and
// CheckPlaceholders may return.
var sentinels = []error{
	ErrEmptyPacket, ErrUnknownType, ErrBadAttachments, ErrTooManyAttachments,
	ErrBadNamespace, ErrBadAckID, ErrInvalidJSON, ErrTooDeep, ErrInvalidPayload,
	ErrReservedEvent, ErrBadPlaceholder,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// sameHeader compares two headers field by field, slices by content, and
// reports the first difference.
func sameHeader(got, want Header) string {
	switch {
	case got.Type != want.Type:
		return "Type " + got.Type.String() + ", want " + want.Type.String()
	case got.Attachments != want.Attachments:
		return "Attachments differ"
	case !bytes.Equal(got.Namespace, want.Namespace):
		return "Namespace " + string(got.Namespace) + ", want " + string(want.Namespace)
	case !bytes.Equal(got.Query, want.Query) || (got.Query == nil) != (want.Query == nil):
		return "Query " + string(got.Query) + ", want " + string(want.Query)
	case got.HasAck != want.HasAck || got.AckID != want.AckID:
		return "ack id differs"
	case !bytes.Equal(got.Data, want.Data) || (got.Data == nil) != (want.Data == nil):
		return "Data " + string(got.Data) + ", want " + string(want.Data)
	}
	return ""
}

// reencode writes h back with AppendHeader and its Data.
func reencode(h Header) []byte {
	nsp := append(append([]byte(nil), h.Namespace...), h.Query...)
	return append(AppendHeader(nil, h.Type, h.Attachments, nsp, h.HasAck, h.AckID), h.Data...)
}
