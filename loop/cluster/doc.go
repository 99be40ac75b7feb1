// Package cluster joins a sioloop server to other Socket.IO servers through
// Redis, speaking byte for byte one of three protocols (REDIS_ADAPTER):
// that of @socket.io/redis-adapter 8.x (classic pub/sub), so that sioloop
// servers, Node socket.io servers with that adapter and
// @socket.io/redis-emitter 5.x can share one Redis; that of
// @socket.io/redis-streams-adapter 0.3.1 (Config.Streams, see "The
// Streams protocol" below); or that of createShardedAdapter of
// @socket.io/redis-adapter 8.3 (Config.Sharded, see "The sharded
// protocol"). It is off unless REDIS_URL, REDIS_SENTINEL_ADDRS or
// REDIS_CLUSTER_ADDRS is set (see service.go beside main.go).
//
// # Redis deployments (client.go)
//
// Config.Topology is one Redis server (URL), a master found through
// Sentinels (SentinelAddrs, SentinelMaster) or a Redis Cluster
// (ClusterAddrs); redisClient makes the matching go-redis client, with its
// own retries off (the adapter's loops retry and count). A Sentinel
// client asks the Sentinels for the master on every new connection and
// go-redis drops the connections to the old master on +switch-master, so
// the publisher, the subscription and the stream reader all follow a
// failover by reconnecting; Stats.Master and Failovers come from the
// addresses the clients dial. On a Redis Cluster, PUBLISH reaches the
// subscribers of every node, and the server count sums PUBSUB NUMSUB over
// the nodes, as the Node adapter does for an ioredis Cluster; a stream is
// one key, on the node of its slot.
//
// # Wire format (lib/index.ts of @socket.io/redis-adapter 8.3.0)
//
// Channels of namespace nsp, with key "socket.io" by default:
//
//	socket.io#<nsp>#            broadcasts; every server PSUBSCRIBEs socket.io#<nsp>#*
//	socket.io#<nsp>#<room>#     broadcasts to exactly one room
//	socket.io-request#<nsp>#    requests; PUBSUB NUMSUB of it is the number of servers
//	socket.io-response#<nsp>#   responses (and …#<uid># for publishOnSpecificResponseChannel)
//
// A broadcast is the msgpack (notepack.io) array [uid, packet, opts] with
// packet {type: 2, data: [event, ...args], nsp} and opts {rooms, except,
// flags}. Binary arguments are msgpack bin. Requests are JSON
// {uid, requestId, type, ...}, except the broadcast with acks (type 7) and
// its acks (type 9), which are msgpack. The request types are the
// RequestType constants.
//
// # The Streams protocol (dist/adapter.js of @socket.io/redis-streams-adapter 0.3.1)
//
// It extends socket.io-adapter 2.5's ClusterAdapter (cluster-adapter.ts):
// messages {uid, nsp, type, data} of the MessageType constants, uid and
// request ids 16 hex digits. Broadcasts without acks (type 3) and
// socketsJoin, socketsLeave, disconnectSockets (4, 5, 6) are XADDed, MAXLEN
// ~ 10000, to the stream "socket.io" with the fields uid, nsp, type
// (decimal) and data (JSON, or base64 msgpack when it holds binary). The
// ephemeral messages (broadcast with acks, fetch sockets, server-side emit)
// are msgpack maps PUBLISHed on "socket.io#<nsp>#", their responses on the
// requester's "socket.io#<nsp>#<uid>#"; every server SUBSCRIBEs both, and
// PUBSUB NUMSUB of the first is the server count (0.3.x sends no
// heartbeats). Every server reads the stream with XREAD BLOCK 5000 COUNT
// 100.
//
// Here one reader goroutine (adapter_streams.go) starts after the
// stream's last entry when Redis first answers and then always reads from
// the last ID it read, never "$": a failed read is retried, with backoff,
// from the same ID, so entries added while this server could not read are
// delivered when it can, in order, once. Its own entries are skipped by
// uid. It applies each entry itself, in stream order. The publish queue is
// the pub/sub protocol's: XADDs and PUBLISHes leave in the order they were
// made, retried while Redis is unreachable for up to PublishRetry.
//
// # Connection state recovery across servers (sessions_streams.go, sessions_order.go)
//
// With Streams and Config.SessionWindow (CONNECTION_STATE_RECOVERY), the
// Adapter is its SocketIO's loop.SessionStore, as the Node package's
// persistSession and restoreSession: offsets are stream entry IDs; a
// session is the base64 msgpack {sid, pid, rooms, data} at
// "sio:session:<pid>", PX the window, written on a recoverable
// disconnect (the SIGTERM drain included); a CONNECT with {pid, offset}
// takes it with MULTI GET DEL, checks the offset with XRANGE offset
// offset, and walks the stream after it with XRANGE, replaying the
// broadcasts of the namespace its rooms received. Beyond Node
// (socketio/socket.io-redis-streams-adapter#27), sessions are also
// written when a socket connects and when its rooms change (PX twice the
// window, written again every half window while it is connected), so a
// server killed without a drain does not lose them; the writes are
// coalesced by pid and pipelined every 20 ms by one goroutine.
//
// A replayable event of this server is XADDed first and delivered with
// its entry ID (loop.SessionStore.Sequence); while Redis is unreachable it
// is delivered at once without offset, as Node does, and its XADD waits
// as any message. Every event, this server's and the others', is
// delivered in stream order by the reader, so a client's last offset is
// always its newest.
//
// # The sharded protocol (dist/sharded-adapter.js of @socket.io/redis-adapter 8.3.0)
//
// It is ClusterAdapter's too, the messages of the Streams protocol, all
// sent with SPUBLISH (Redis 7): JSON {type, data, uid, nsp}, or msgpack
// when data holds binary; receivers read both. "<key>#<nsp>#" carries
// everything but responses (every server SSUBSCRIBEs it; PUBSUB
// SHARDNUMSUB of it is the server count), "<key>#<nsp>#<uid>#" the
// responses to server uid. In dynamic mode a broadcast without acks to
// exactly one room, whose name is not 20 characters long (a socket id),
// goes on "<key>#<nsp>#<room>#", which a server SSUBSCRIBEs while the room
// has a member there (loop.SocketIO.OnRoom and OnRoomRemoved, per
// reactor, counted in adapter_sharded.go). In dynamic-private mode a
// socket id is such a room too: every socket's server SSUBSCRIBEs its own
// channel while it is connected (loop.SocketIO.PrivateRooms), so a
// broadcast to one socket reaches only its server. On a Redis Cluster a shard
// channel lives on the node of its hash slot: one subscription connection
// per slot in use.
//
// # The two halves
//
// Codec is pure: it converts between loop's form of an event (raw JSON
// arguments with {"_placeholder":true,"num":N} for binary values, plus the
// attachments) and msgpack, and reads and writes the messages above. It is
// tested against vectors captured from the real Node adapter and emitter
// (testdata/gen.js).
//
// Adapter does the I/O with github.com/redis/go-redis/v9: Publish (the
// loop.Adapter hook) encodes a broadcast once and queues it; a publisher
// goroutine sends the queue in pipelines, retrying with backoff while Redis
// is unreachable for up to Config.PublishRetry, then dropping and counting.
// A receiver goroutine reads the subscription connection (go-redis dials
// again and re-subscribes by itself after a failure) and a dispatcher
// goroutine handles the messages in order: a remote broadcast goes through
// loop.SocketIO.Broadcast with Local set, so it is encoded once for this
// server and fanned out by the reactors like a local one; requests are
// answered from loop's server-side operations. Local delivery never waits
// for Redis.
//
// # Goroutines and lifetimes
//
// Every exported method of Adapter may be called from any goroutine;
// Publish, AddNamespace and RemoveNamespace never block, so reactors may
// call them. Publish encodes its argument before it returns and keeps
// nothing of it. A Codec is single-goroutine; the Broadcast a Codec fills
// by ParseBroadcast owns its slices until the next call with the same
// Message.
//
// # Limitations
//
//   - Connection state recovery across servers needs Streams: with
//     pub/sub neither does the Node adapter support it.
//   - Recovery with Streams: a client that saw no event yet has no offset
//     and gets a fresh session (as Node; the process-local recovery
//     restores it); volatile entries are not replayed (Node replays them);
//     socket.data travels as {userId}; the session holds no namespace (as
//     Node: a pid is looked up in the namespace of the CONNECT).
//   - Streams: one stream (no streamCount), no sharded pub/sub, and no
//     cluster-wide AllRooms (the protocol has no such request).
//   - A broadcast with acks that another server asks of this one answers
//     all at once, when every client has acknowledged or the (slightly
//     shortened) timeout passed; Node answers ack by ack.
//   - Sentinel and Cluster: no TLS and no ACL user name (only passwords),
//     database 0. A failover is a gap: pub/sub and sharded lose what a
//     server published before the others subscribed again to the new
//     master; Streams lose only entries the old master had not replicated.
//   - Sharded: the ephemeral messages (requests,
//     responses) are always msgpack; on a Redis Cluster one subscription
//     connection per hash slot in use instead of one per node.
//   - The handshake of a sioloop socket, as another server's
//     fetchSockets() sees it, holds only address, the initial transport (in
//     query) and empty headers and auth; socket.data holds userId.
package cluster
