package cluster

import "errors"

// Errors of the codec (Codec methods) and of the adapter's cluster-wide
// operations. A codec error means a message that Node's adapter would not
// have produced or could not read; the adapter drops such a message and
// counts it in Stats.Malformed.
var (
	// ErrInvalidJSON is returned when JSON arguments handed to the codec
	// are not valid RFC 8259 list content (values separated by commas).
	ErrInvalidJSON = errors.New("cluster: invalid JSON arguments")

	// ErrTooDeep is returned when JSON or msgpack nests arrays and maps
	// deeper than MaxDepth.
	ErrTooDeep = errors.New("cluster: value nested too deep")

	// ErrPlaceholder is returned for a {"_placeholder":true} object whose
	// "num" names no attachment. socket.io-parser's reconstructPacket
	// throws "illegal attachments" on the same input.
	ErrPlaceholder = errors.New("cluster: placeholder without a matching attachment")

	// ErrMsgpack is returned for bytes that are not one well-formed
	// msgpack value of the kinds notepack.io writes (truncated input, a
	// length beyond the end, a reserved code).
	ErrMsgpack = errors.New("cluster: malformed msgpack")

	// ErrNotBroadcast is returned by ParseBroadcast for a well-formed
	// message that is not [uid, packet, opts] with an EVENT or
	// BINARY_EVENT packet whose data starts with an event name.
	ErrNotBroadcast = errors.New("cluster: not a broadcast message")

	// ErrClosed is returned by the cluster-wide operations once Close has
	// been called.
	ErrClosed = errors.New("cluster: adapter closed")

	// ErrRedisDown is returned with the local part of a cluster-wide
	// answer when Redis could not be asked how many servers there are:
	// the other servers were not reached.
	ErrRedisDown = errors.New("cluster: redis unreachable, other servers not asked")

	// ErrTimeout is returned with the partial answer of a cluster-wide
	// request when some servers did not answer within the request timeout
	// (REDIS_REQUEST_TIMEOUT).
	ErrTimeout = errors.New("cluster: timeout waiting for other servers")

	// ErrUnsupported is returned with this server's part of the answer by
	// the operations that the Streams protocol has no message for
	// (AllRooms).
	ErrUnsupported = errors.New("cluster: not supported by the streams adapter protocol")

	// ErrNoShardedPubSub is returned by CheckVersion when the sharded
	// protocol (Config.Sharded) meets a Redis older than 7, which has no
	// SPUBLISH and SSUBSCRIBE.
	ErrNoShardedPubSub = errors.New("cluster: sharded pub/sub needs Redis 7 or later")

	// ErrQueueFull is counted (not returned: Publish never fails) when a
	// message is dropped because the publish queue is full.
	ErrQueueFull = errors.New("cluster: publish queue full")
)
