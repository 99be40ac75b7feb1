package adminui

import (
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sioloop/loop"
	"sioloop/protocol/socketio"
)

// observer returns the loop.Observer the UI installs while a page
// watches. Production mode only counts connections (aggregatedEvents);
// development mode reports every socket's life and events, through push
// and its bucket.
func (u *UI) observer() *loop.Observer {
	o := &loop.Observer{
		Opened: func(*loop.Session) { u.agg.connections.Add(1) },
		Closed: func(_ *loop.Session, reason string) { u.agg.disconnected(reason) },
	}
	if !u.cfg.Development {
		return o
	}
	admin := u.cfg.Namespace
	o.Connected = func(so *loop.Socket) {
		v := liveView(so)
		u.push("socket_connected", true, func(b []byte) []byte {
			b = u.appendSocket(b, v)
			return appendDate(append(b, ','), time.Now())
		})
	}
	o.Disconnected = func(so *loop.Socket, reason string) {
		nsp, id := so.Namespace().Name(), so.ID()
		u.push("socket_disconnected", true, func(b []byte) []byte {
			b = appendString(b, nsp)
			b = appendString(append(b, ','), id)
			b = appendString(append(b, ','), reason)
			return appendDate(append(b, ','), time.Now())
		})
	}
	room := func(event string) func(so *loop.Socket, room string) {
		return func(so *loop.Socket, room string) {
			nsp, id := so.Namespace().Name(), so.ID()
			u.push(event, true, func(b []byte) []byte {
				b = appendString(b, nsp)
				b = appendString(append(b, ','), room)
				b = appendString(append(b, ','), id)
				return appendDate(append(b, ','), time.Now())
			})
		}
	}
	o.Joined = room("room_joined")
	o.Left = room("room_left")
	o.Upgraded = func(so *loop.Socket) {
		nsp, id := so.Namespace().Name(), so.ID()
		u.push("socket_updated", false, func(b []byte) []byte {
			b = append(b, `{"id":`...)
			b = appendString(b, id)
			b = append(b, `,"nsp":`...)
			b = appendString(b, nsp)
			return append(b, `,"transport":"websocket"}`...)
		})
	}
	// Events of the admin namespace itself are not reported (Node skips
	// them too): the page would hear of its own stats forever.
	o.Received = func(so *loop.Socket, data []byte) {
		if so.Namespace().Name() != admin {
			u.pushEvent("event_received", so, data)
		}
	}
	o.Sent = func(so *loop.Socket, pkt []byte) {
		if so.Namespace().Name() == admin {
			return
		}
		if h, err := socketio.Parse(pkt); err == nil {
			u.pushEvent("event_sent", so, h.Data)
		}
	}
	return o
}

// pushEvent queues event_received or event_sent: (nsp, id, [name,
// ...args], date). data is the event's JSON array, copied here.
func (u *UI) pushEvent(event string, so *loop.Socket, data []byte) {
	u.push(event, false, func(b []byte) []byte {
		b = appendString(b, so.Namespace().Name())
		b = appendString(append(b, ','), so.ID())
		b = append(append(b, ','), data...)
		return appendDate(append(b, ','), time.Now())
	})
}

// sockView is what a SerializedSocket is made of, from a live socket or
// from FetchSockets.
type sockView struct {
	id, clientID, transport, nsp, userID, address, query string
	issued                                               int64
	rooms                                                []string
}

// liveView reads a socket on its reactor.
func liveView(so *loop.Socket) sockView {
	s := so.Session()
	return sockView{id: so.ID(), clientID: s.ID(), transport: s.Transport(), nsp: so.Namespace().Name(),
		userID: so.UserID, address: s.RemoteAddr(), query: s.Query(), issued: s.Issued(), rooms: so.Rooms()}
}

// appendSocket appends v as Node's serialize() makes it: {id, clientId
// (the first 12 characters of the Engine.IO id), transport, nsp, data,
// handshake: {address, headers, query, issued, secure, time, url,
// xdomain}, rooms}. The request headers are not kept by the loop, so
// headers is {}; data holds the socket's userId when it has one. A socket
// of another server has no Engine.IO id here: its clientId is its own id.
func (u *UI) appendSocket(b []byte, v sockView) []byte {
	cid := v.clientID
	if cid == "" {
		cid = v.id
	}
	if len(cid) > 12 {
		cid = cid[:12]
	}
	b = append(b, `{"id":`...)
	b = appendString(b, v.id)
	b = append(b, `,"clientId":`...)
	b = appendString(b, cid)
	b = append(b, `,"transport":`...)
	b = appendString(b, v.transport)
	b = append(b, `,"nsp":`...)
	b = appendString(b, v.nsp)
	b = append(b, `,"data":{`...)
	if v.userID != "" {
		b = append(b, `"userId":`...)
		b = appendString(b, v.userID)
	}
	b = append(b, `},"handshake":{"address":`...)
	b = appendString(b, v.address)
	b = append(b, `,"headers":{},"query":{`...)
	q, _ := url.ParseQuery(v.query)
	first := true
	for k, vals := range q {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = appendString(append(b, ':'), vals[0])
	}
	b = append(b, `},"issued":`...)
	b = strconv.AppendInt(b, v.issued, 10)
	b = append(b, `,"secure":false,"time":`...)
	b = appendString(b, time.UnixMilli(v.issued).UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"))
	b = append(b, `,"url":`...)
	b = appendString(b, u.cfg.Path+"?"+v.query)
	b = append(b, `,"xdomain":false},"rooms":[`...)
	for i, r := range v.rooms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r)
	}
	return append(b, "]}"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return socketio.AppendJSONStringOf(b, s) }

// appendDate appends t as JSON.stringify(new Date()) writes it.
func appendDate(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	return append(b, '"')
}

// aggregator collects the aggregatedEvents of server_stats (Node's
// EventBuffer): counts per second of rawConnection, rawDisconnection (by
// reason), packetsIn, packetsOut, bytesIn and bytesOut. Connections are
// counted by the observer; packets and bytes are the server's counters,
// sampled every second by the UI's goroutine.
type aggregator struct {
	connections atomic.Uint64

	mu      sync.Mutex
	reasons map[string]uint64 // disconnections by reason since the last sample
	last    loop.Snapshot
	conns   uint64
	events  []aggregatedEvent
}

// aggregatedEvent is one entry of aggregatedEvents.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     uint64 `json:"count"`
}

// maxAggregated bounds the entries kept between two stats (a flood of
// distinct disconnect reasons cannot grow it).
const maxAggregated = 1000

func (a *aggregator) disconnected(reason string) {
	a.mu.Lock()
	if a.reasons == nil {
		a.reasons = make(map[string]uint64)
	}
	if len(a.reasons) < 64 {
		a.reasons[reason]++
	}
	a.mu.Unlock()
}

// reset starts counting from snap.
func (a *aggregator) reset(snap loop.Snapshot) {
	a.mu.Lock()
	a.last, a.conns, a.events = snap, a.connections.Load(), nil
	clear(a.reasons)
	a.mu.Unlock()
}

// sample records the counts since the last sample under the second of now.
func (a *aggregator) sample(now time.Time, snap loop.Snapshot) {
	ts := now.UnixMilli() - now.UnixMilli()%1000
	a.mu.Lock()
	defer a.mu.Unlock()
	add := func(typ, sub string, n uint64) {
		if n > 0 && len(a.events) < maxAggregated {
			a.events = append(a.events, aggregatedEvent{Timestamp: ts, Type: typ, SubType: sub, Count: n})
		}
	}
	conns := a.connections.Load()
	add("rawConnection", "", conns-a.conns)
	for r, n := range a.reasons {
		add("rawDisconnection", r, n)
	}
	clear(a.reasons)
	add("packetsIn", "", snap.PacketsIn-a.last.PacketsIn)
	add("packetsOut", "", snap.PacketsOut-a.last.PacketsOut)
	add("bytesIn", "", snap.BytesIn-a.last.BytesIn)
	add("bytesOut", "", snap.BytesOut-a.last.BytesOut)
	a.last, a.conns = snap, conns
}

// take returns the entries since the last call and forgets them.
func (a *aggregator) take() []aggregatedEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev := a.events
	a.events = nil
	if ev == nil {
		ev = []aggregatedEvent{}
	}
	return ev
}
