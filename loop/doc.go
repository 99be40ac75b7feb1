// Package loop is sioloop's engine: gnet reactors that own every client
// connection and run Engine.IO and Socket.IO on them. It is the only
// package that talks to gnet; the codecs it uses (protocol/engineio,
// protocol/socketio, http1, wsframe) do no I/O.
//
// # Layers
//
// Each layer hands whole units to the one above, on the same goroutine:
//
//  1. Bytes (server.go, conn.go, http.go, websocket.go). OnTraffic peeks
//     what the socket has, decodes every complete HTTP/1.1 request head
//     (http1) or WebSocket frame (wsframe) in place, and discards once.
//  2. Engine.IO (session.go, http.go, websocket.go, timeouts.go). A
//     Session is one Engine.IO connection: the polling or WebSocket
//     transport, the upgrade between them, heartbeats. It hands every
//     message to its Handler.
//  3. Socket.IO (sio.go, namespace.go, socket.go). SocketIO is the Handler
//     that decodes Socket.IO packets: namespaces, sockets, rooms, events
//     and acks, calling the application's hooks and event handlers.
//  4. Fan-out (broadcast.go, ops.go, sendring.go, recovery.go, timing.go). A broadcast is encoded
//     once into its WebSocket frame and polling form; every reactor writes
//     that one slice to its own target sockets. The server-side operations
//     (fetch, join, leave, disconnect, rooms, broadcast with ack) walk the
//     same per-reactor room indexes.
//
// # Reactors
//
// A reactor is one gnet event loop: one goroutine that runs, one at a
// time, the callbacks of its connections (OnOpen, OnTraffic, OnClose), the
// timers due on it and the jobs posted to it. A session and its sockets
// live on one reactor for their whole life, and everything they hold is
// owned by it: no locks on the hot path, so nothing about a session or a
// socket may be touched from another goroutine. Code elsewhere acts on
// them by posting work to their reactor.
//
// # Goroutine contract
//
// "On the reactor" means from a callback the reactor runs: a Handler
// method, a namespace hook (Use, UseAsync, OnConnect, OnDisconnect), an event
// handler, an EmitWithAck or After callback, or a function passed to
// Socket.Do.
//
//	What                                      Who may call it              Waits?
//	----------------------------------------  ---------------------------  -------------------------------
//	Handler methods, namespace hooks, event   run on the session's         must not block
//	handlers, EmitWithAck/After callbacks,    reactor
//	functions passed to Socket.Do
//	Session methods; Socket methods (Emit,    that reactor only            never
//	EmitWithAck, Ack, Join, Leave, Rooms,
//	Disconnect, After, ...)
//	Socket.Do, Socket.ID                      any goroutine                never
//	the done of UseAsync (once per CONNECT)   any goroutine                never
//	SocketIO.Broadcast                        any goroutine, reactors      on a reactor never; elsewhere
//	                                          included                     for delivery or a queue slot
//	SocketIO.Join, Leave, Disconnect          any goroutine, reactors      on a reactor never; elsewhere
//	                                          included                     for every reactor
//	SocketIO.FetchSockets, AllRooms,          any goroutine but a          for every reactor; on a
//	BroadcastWithAck; Server.Shutdown,        reactor                      reactor they return
//	OutboundQueued                                                         ErrOnReactor
//	SocketIO.Observe; the Observer's fields   any goroutine; the fields    never; the fields must not block
//	                                          run on the reactor concerned
//	SocketIO.Namespace, Declared,             any goroutine                never (atomics, a short lock)
//	NamespaceStats, NamespaceTableStats,
//	UserConnections;
//	Server.Snapshot, Stats, Connections,
//	Sessions, Draining, Config
//	SocketIO.Of, Namespace.On, the hook and   setup, before Serve          -
//	config fields; Server.Handle, HandleOther
//	Adapter.Publish                           called on the broadcasting   must not block
//	                                          goroutine, maybe a reactor
//	SessionStore methods (Sequence, Save,     called on reactors and       must not block; Restore
//	Forget, Restore)                          elsewhere                    answers later, from anywhere
//	SocketIO.OnNamespace, OnNamespaceRemoved  called on a reactor with     must be quick, must not call
//	                                          the SocketIO's lock held     back into the SocketIO
//	SocketIO.OnRoom, OnRoomRemoved            called on the reactor whose  must be quick, must not call
//	                                          socket joined or left        back into the SocketIO
//
// # No self-deadlock
//
// A callback that waited for a reactor could wait for its own, which is
// busy running it, or for another that is waiting for it. So every
// operation legal on a reactor completes without waiting for any reactor:
// the caller's reactor acts at once (its sockets get a broadcast in order
// with the handler's own emits), and the other reactors get the work
// queued. Called on a reactor, Broadcast does not take a slot of the
// queue of undelivered broadcasts, and Broadcast (to rooms), Join, Leave
// and Disconnect count only the sockets of the caller's reactor; a
// broadcast to a whole namespace still counts its connected sockets.
//
// The operations that need an answer from every reactor detect that they
// are called on one and return ErrOnReactor instead of hanging. The
// reactor is recognised by its goroutine: each reactor records its loop
// goroutine's id on its first callback, and these operations compare it
// with the caller's (a few microseconds per operation, never per
// recipient).
//
// # Connection state recovery
//
// With SocketIO.Recovery set (recovery.go), every replayable event (a
// broadcast or an emit to one socket, without ack, not volatile) takes its
// offset from one process-wide counter under the history's lock, and is
// queued to the reactors under that same lock, so each reactor's outbox
// holds them in offset order and a client sees offsets only grow. A
// handler's Broadcast and Emit still reach the caller's reactor at once,
// unless that reactor has jobs queued or is running one (a function
// passed to Socket.Do, a delivery): then they are queued behind them, as
// the older offsets they may hold must go first. Acks and CONNECT replies
// are never queued. Kept sessions and the history are guarded by that
// lock and swept when touched: no timer per session.
//
// With SocketIO.Sessions set as well (recovery_store.go; the Redis
// Streams adapter of loop/cluster), sessions and events live in a store
// the servers of a cluster share, and a client recovers on any of them.
// Offsets are then the store's (stream entry IDs): a replayable event is
// handed to the store first and delivered, through the reactors' queues,
// once the store has given it its offset; an event of another server
// arrives with its own. Broadcast then returns before delivery, on a
// reactor or not (a broadcast to rooms counts no recipients there). A
// CONNECT with {pid, offset} waits for the store without blocking its
// reactor, pending as with UseAsync, and gets a fresh session if the
// store cannot answer in time. Sessions are saved when a socket
// connects, when its rooms change and when it leaves.
//
// # Memory per connection
//
// What one idle WebSocket client connected to one namespace holds, in
// bytes of Go heap (size classes; inuse_space of a heap profile with
// runtime.MemProfileRate = 1 and 10,000 such clients, divided by 10,000;
// TestConnSizes guards the size classes of our structures):
//
//	what                                         allocated by                  bytes
//	-------------------------------------------  ----------------------------  -----
//	gnet's conn                                  gnet newStreamConn              240
//	its connMatrix slot                          gnet                            ~29
//	connState                                    Server.OnOpen                    48
//	Session, with its Socket.IO client inside    newSession                      176
//	session id (16 bytes)                        reactor.newSessionID             16
//	Socket                                       newSocket                       160
//	socket id (20 bytes)                         reactor.newID                    24
//	the session table slot                       sessionTable.add                ~13
//	nsLocal.byID slot, nsLocal.sockets slot      Socket.add                      ~23
//	timer heap and live slots                    timerHeap.set, Session.start    ~20
//	total                                                                       ~770
//
// The session table and nsLocal.byID are idTables (idtable.go): a slot
// is the 8-byte pointer alone, at a load of 3/8 to 3/4 as they grow (11
// to 21 bytes per client, 13 at 10,000), where a Go map cost 44 (its
// slot holds the string header too, and a map never shrinks).
//
// Nothing else stays. The accept loop hands the raw descriptor to a
// reactor (enroll.go: no net.Conn is made), and the addresses gnet keeps
// for the peer are dropped once the connection speaks WebSocket
// (dropPeerAddrs), with the poller callback closure gnet gives every
// connection (dropPollCallback). An idle conn has no inbound buffer
// (gnet takes one from its pool only while bytes are left unread). What
// only some connections need is allocated on first use: the HTTP and
// WebSocket-fragment state of a connection (connExtra), the polling and
// upgrade state (pollState, 128 bytes, dropped after an upgrade), kept
// headers and a proxied client address (sessionMore), pending CONNECTs
// and binary packets (clientMore), rooms, acks, recovery state, and the
// upgrade closure. The heartbeat timer needs no closure (timerHeap.run
// finds the session at its address). The first-CONNECT timeout and the
// handshake deadlines are entries in per-reactor expiry queues
// (expiry.go), not timers in each owner, and a handshake query that is
// exactly what the official clients send shares one string.
//
// The process RSS per client is this plus the heap's fragmentation (~60
// bytes), the runtime's GC metadata (~80) and the binary's code pages
// first touched by the handshakes, once the memory trimmer of the
// service has returned the handshakes' garbage: 0.97-0.98 KiB per client
// at 10,000 clients and 0.90 at 19,000 (the loadtest's connect
// scenario).
//
// # Posting work to a socket's reactor
//
// Socket.Do(fn) queues fn to run on the socket's reactor and returns at
// once; fn is skipped if the socket left meanwhile. A handler that needs a
// waiting operation hands it to a goroutine and comes back with Do:
//
//	ns.On("who", func(so *loop.Socket, ev *loop.Event) {
//		go func() {
//			all, err := io.FetchSockets(loop.Target{Rooms: []string{"lobby"}})
//			so.Do(func(so *loop.Socket) {
//				if err == nil {
//					so.Emit("who", []byte(strconv.Itoa(len(all))), nil)
//				}
//			})
//		}()
//	})
//
// # Middleware that waits
//
// Namespace.Use runs on the reactor and answers at once. A check that
// waits (a JWKS fetch for a key id not seen yet, an HTTP call to the
// application) goes in Namespace.UseAsync instead: it starts the work,
// returns, and calls done(err) when it knows, from whatever goroutine. A
// done called before UseAsync returns (a cached key) finishes the CONNECT
// inline, as Use would; a later one posts the rest of the CONNECT to the
// socket's reactor: the user check, the recovery bookkeeping, adding the
// socket, the CONNECT reply, OnConnect. Meanwhile the CONNECT is pending:
//
//   - a duplicate CONNECT to the same namespace is not answered on its
//     own; the pending one's answer serves both;
//   - if the session closes, the CONNECT is dropped (its namespace hold
//     and the kept session it would recover are given back) and done does
//     nothing;
//   - if done is not called within ConnectTimeout, the client gets
//     CONNECT_ERROR "connect timeout: …" (and a session that joined no
//     namespace is closed by its own ConnectTimeout, counted from the
//     handshake, as without middleware).
//
// For example, a check the application answers over the network:
//
//	ns.UseAsync = func(so *loop.Socket, auth []byte, done func(error)) {
//		token := string(auth) // auth dies with the call
//		go func() {
//			user, err := askTheApp(token) // may take a while
//			if err == nil {
//				so.UserID = user // before done: the socket is not live yet
//			}
//			done(err)
//		}()
//	}
//
// Socket.After(d, fn) runs fn on the reactor later, from the reactor's
// timer heap. Data handed to a handler (Event, the data of OnMessage)
// aliases the reactor's buffers and lives only during the call: copy what
// goes to another goroutine.
package loop
