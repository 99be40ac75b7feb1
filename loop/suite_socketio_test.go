package loop_test

// The cases of the official Socket.IO v5 protocol test suite
// (socketio/socket.io, docs/socket.io-protocol/v5-test-suite/test-suite.js),
// one test each, named after the suite's describe/it path. Its Engine.IO
// part repeats the Engine.IO suite at /socket.io/ (without the echo: the
// Socket.IO app answers no bare message), so those tests reuse the
// functions of suite_engineio_test.go.

import (
	"testing"

	"sioloop/tools/conformance/suiteapp"
)

const sioPath = suiteapp.SocketIOPath

// ---------------------------------------------------------------------------
// Engine.IO protocol

func TestSuiteSIO_EIO_Handshake_Polling_OpensSession(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingOpens(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_Polling_InvalidEIO(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidEIO(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_Polling_InvalidTransport(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidTransport(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_Polling_InvalidMethod(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidMethod(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_WebSocket_OpensSession(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketOpens(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_WebSocket_InvalidEIO(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketInvalidEIO(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Handshake_WebSocket_InvalidTransport(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketInvalidTransport(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Heartbeat_Polling_PingPong(t *testing.T) {
	t.Parallel()
	suiteHeartbeatPollingPingPong(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Heartbeat_Polling_PingTimeoutClosesSession(t *testing.T) {
	t.Parallel()
	suiteHeartbeatPollingTimeout(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Heartbeat_WebSocket_PingPong(t *testing.T) {
	t.Parallel()
	suiteHeartbeatWebSocketPingPong(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Heartbeat_WebSocket_PingTimeoutClosesSession(t *testing.T) {
	t.Parallel()
	suiteHeartbeatWebSocketTimeout(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Close_Polling_ForcefullyClosesSession(t *testing.T) {
	t.Parallel()
	suiteClosePolling(t, sioPath)
}

func TestSuiteSIO_EIO_Close_WebSocket_ForcefullyClosesSession(t *testing.T) {
	t.Parallel()
	suiteCloseWebSocket(t, startSuite(t, 0), sioPath)
}

func TestSuiteSIO_EIO_Upgrade_SuccessfulUpgrade(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, sid := suiteUpgraded(t, ts, sioPath, false)
	// The upgraded session carries Socket.IO.
	w.sendText(t, "40")
	expectHandshakeSID(t, string(w.msg(t).payload), "40")
	w.expectMsg(t, `42["auth",{}]`)
	expectStatus(t, "polling after the upgrade", ts.pollAt(t, sioPath, sid), 400)
}

func TestSuiteSIO_EIO_Upgrade_IgnoresHTTPWithSameSidAfterUpgrade(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	_, sid := suiteUpgraded(t, ts, sioPath, false)
	expectStatus(t, "GET after the upgrade", ts.pollAt(t, sioPath, sid), 400)
}

func TestSuiteSIO_EIO_Upgrade_IgnoresWebSocketWithSameSidAfterUpgrade(t *testing.T) {
	t.Parallel()
	suiteUpgradeSecondWebSocket(t, sioPath, false)
}

// ---------------------------------------------------------------------------
// Socket.IO protocol: connect

// suiteConnect sends the CONNECT packet connect and expects the reply with
// prefix, then the "auth" event auth.
func suiteConnect(t *testing.T, connect, prefix, auth string) {
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, sioPath)
	w.sendText(t, connect)
	expectHandshakeSID(t, string(w.msg(t).payload), prefix)
	w.expectMsg(t, auth)
}

func TestSuiteSIO_Connect_MainNamespace(t *testing.T) {
	t.Parallel()
	suiteConnect(t, "40", "40", `42["auth",{}]`)
}

func TestSuiteSIO_Connect_MainNamespaceWithPayload(t *testing.T) {
	t.Parallel()
	suiteConnect(t, `40{"token":"123"}`, "40", `42["auth",{"token":"123"}]`)
}

func TestSuiteSIO_Connect_CustomNamespace(t *testing.T) {
	t.Parallel()
	suiteConnect(t, "40/custom,", "40/custom,", `42/custom,["auth",{}]`)
}

func TestSuiteSIO_Connect_CustomNamespaceWithPayload(t *testing.T) {
	t.Parallel()
	suiteConnect(t, `40/custom,{"token":"abc"}`, "40/custom,", `42/custom,["auth",{"token":"abc"}]`)
}

func TestSuiteSIO_Connect_UnknownNamespace(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, sioPath)
	w.sendText(t, "40/random")
	w.expectMsg(t, `44/random,{"message":"Invalid namespace"}`)
}

func TestSuiteSIO_Connect_InvalidHandshake(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, sioPath)
	w.sendText(t, "4abc")
	w.expectClosed(t)
}

func TestSuiteSIO_Connect_NoHandshakeCloses(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, sioPath)
	w.expectClosed(t) // connectTimeout, or the unanswered ping before it
}

// ---------------------------------------------------------------------------
// Socket.IO protocol: disconnect

func TestSuiteSIO_Disconnect_MainNamespace(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, "41")
	// Leaving "/" keeps the Engine.IO session: the next thing is a ping.
	w.expectText(t, "2")
}

func TestSuiteSIO_Disconnect_CustomNamespace(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.expectText(t, "2")
	w.sendText(t, "3")
	w.sendText(t, "40/custom")
	expectHandshakeSID(t, string(w.msg(t).payload), "40/custom,")
	w.expectMsg(t, `42/custom,["auth",{}]`)
	w.sendText(t, "41/custom")
	w.sendText(t, `42["message","message to main namespace"]`)
	w.expectMsg(t, `42["message-back","message to main namespace"]`)
}

// ---------------------------------------------------------------------------
// Socket.IO protocol: message

func TestSuiteSIO_Message_PlainText(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, `42["message",1,"2",{"3":[true]}]`)
	w.expectMsg(t, `42["message-back",1,"2",{"3":[true]}]`)
}

func TestSuiteSIO_Message_BinaryAttachments(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, `452-["message",`+placeholders+`]`)
	w.send(t, frameOf(true, opBinary, []byte{1, 2, 3}))
	w.send(t, frameOf(true, opBinary, []byte{4, 5, 6}))
	w.expectMsg(t, `452-["message-back",`+placeholders+`]`)
	w.expectBinaryMsg(t, []byte{1, 2, 3})
	w.expectBinaryMsg(t, []byte{4, 5, 6})
}

func TestSuiteSIO_Message_PlainTextWithAck(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, `42456["message-with-ack",1,"2",{"3":[false]}]`)
	w.expectMsg(t, `43456[1,"2",{"3":[false]}]`)
}

func TestSuiteSIO_Message_BinaryAttachmentsWithAck(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, `452-789["message-with-ack",`+placeholders+`]`)
	w.send(t, frameOf(true, opBinary, []byte{1, 2, 3}))
	w.send(t, frameOf(true, opBinary, []byte{4, 5, 6}))
	w.expectMsg(t, `462-789[`+placeholders+`]`)
	w.expectBinaryMsg(t, []byte{1, 2, 3})
	w.expectBinaryMsg(t, []byte{4, 5, 6})
}

func TestSuiteSIO_Message_InvalidFormatUnknownPacketType(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, "4abc")
	w.expectClosed(t)
}

func TestSuiteSIO_Message_InvalidFormatPayload(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, "42{}")
	w.expectClosed(t)
}

func TestSuiteSIO_Message_InvalidFormatAckID(t *testing.T) {
	t.Parallel()
	w := startSuite(t, 0).openSocketIO(t)
	w.sendText(t, `42abc["message-with-ack",1,"2",{"3":[false]}]`)
	w.expectClosed(t)
}
