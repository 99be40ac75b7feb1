package cluster

// Publishing: Publish encodes a broadcast once and queues it; one goroutine
// sends the queue in pipelines, retrying while Redis is unreachable.

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// Publish implements loop.Adapter: it encodes b at once (so b may change
// afterwards) and queues it for the publisher goroutine. It never blocks;
// when the queue is full the message is dropped and counted.
func (a *Adapter) Publish(b *loop.Broadcast) {
	if a.closed.Load() {
		return
	}
	if a.sh != nil {
		a.sh.publish(b)
		return
	}
	if a.st != nil {
		a.st.publish(b)
		return
	}
	// One allocation, usually: the message is kept by the queue, and
	// msgpack is rarely larger than its JSON source (a short fraction such
	// as 0.5 is; append then grows the buffer).
	size := 64 + len(b.Namespace) + len(b.Event) + len(b.Args)
	for _, r := range b.Rooms {
		size += 5 + len(r)
	}
	for _, r := range b.Except {
		size += 5 + len(r)
	}
	for _, at := range b.Attachments {
		size += 5 + len(at)
	}
	c := a.codecs.Get().(*Codec)
	msg, err := c.AppendBroadcast(make([]byte, 0, size), a.uid, b)
	a.codecs.Put(c)
	if err != nil {
		a.malformed("outgoing broadcast", b.Event, err)
		return
	}
	nsp := b.Namespace
	if nsp == "" {
		nsp = "/"
	}
	a.enqueue(BroadcastChannel(a.cfg.Key, nsp, b.Rooms), msg, kindBroadcast)
}

// outMsg is a message waiting to be published: PUBLISH payload on
// channel, or with entry set XADD it to the stream named channel.
type outMsg struct {
	channel string
	payload []byte
	entry   *entry
	at      time.Time
	kind    kind
	// deliver, when set, receives the entry's ID once the XADD is
	// answered, or "" when it failed (loop.SessionStore.Sequence).
	deliver func(offset string)
}

func (a *Adapter) enqueue(ch string, payload []byte, k kind) {
	a.enqueueMsg(outMsg{channel: ch, payload: payload, kind: k})
}

func (a *Adapter) enqueueMsg(m outMsg) {
	if a.closed.Load() {
		return
	}
	if a.sh != nil && m.entry != nil {
		m = a.sh.fromEntry(m)
	}
	m.at = time.Now()
	ch := m.channel
	select {
	case a.out <- m:
	default:
		if m.deliver != nil {
			m.deliver("")
		}
		a.ctr.dropped.Add(1)
		a.log.Debug("redis adapter: publish dropped", "err", ErrQueueFull, "channel", ch)
	}
}

// maxBatch is the most messages sent in one pipeline: one write and one
// read for all of them instead of a round trip each.
const maxBatch = 256

// publishLoop sends the queue in order, in pipelines, retrying a failed
// batch with backoff until its messages are PublishRetry old.
func (a *Adapter) publishLoop() {
	defer a.wg.Done()
	defer close(a.pubDone)
	defer a.undelivered()
	batch := make([]outMsg, 0, maxBatch)
	for {
		stopping := false
		select {
		case m := <-a.out:
			batch = append(batch, m)
		case <-a.stopPub:
			stopping = true
		case <-a.ctx.Done():
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m := <-a.out:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		a.flush(batch)
		clear(batch)
		batch = batch[:0]
		if stopping && len(a.out) == 0 {
			return
		}
	}
}

// sequenced hands the entry IDs of the XADDs of batch that succeeded to
// the sessions (loop.SessionStore.Sequence): each event is delivered
// with its ID in stream order, or without offset at the first failure
// (its XADD is retried for the other servers, as any message).
func (a *Adapter) sequenced(batch []outMsg, cmds []redis.Cmder) {
	for i := range batch {
		m := &batch[i]
		if m.entry == nil || (m.deliver == nil && a.ss == nil) {
			continue
		}
		id := ""
		if i < len(cmds) {
			if x, ok := cmds[i].(*redis.StringCmd); ok && x.Err() == nil {
				id = x.Val()
			}
		}
		d := m.deliver
		if id == "" {
			if d != nil {
				m.deliver = nil
				d("")
			}
			continue
		}
		m.deliver = nil
		if a.ss != nil {
			a.ss.sequenced(id, d)
		} else {
			d(id)
		}
	}
}

// undelivered lets the events still queued when the publisher stops be
// delivered without offset: loop waits for them.
func (a *Adapter) undelivered() {
	for {
		select {
		case m := <-a.out:
			if m.deliver != nil {
				m.deliver("")
			}
		default:
			return
		}
	}
}

// flush publishes batch, retrying what failed.
func (a *Adapter) flush(batch []outMsg) {
	backoff := 50 * time.Millisecond
	for len(batch) > 0 {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		cmds, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range batch {
				if m.entry != nil {
					p.XAdd(ctx, m.entry.args(m.channel, a.cfg.StreamMaxLen))
				} else if a.sh != nil {
					p.SPublish(ctx, m.channel, m.payload)
				} else {
					p.Publish(ctx, m.channel, m.payload)
				}
			}
			return nil
		})
		cancel()
		a.sequenced(batch, cmds)
		if err == nil {
			for _, m := range batch {
				a.ctr.sent[m.kind].Add(1)
			}
			a.setPubOK(true, nil)
			return
		}
		a.noteError("publish", err)
		a.setPubOK(false, err)
		kept := batch[:0]
		for i, m := range batch {
			switch {
			case i < len(cmds) && cmds[i].Err() == nil:
				a.ctr.sent[m.kind].Add(1)
			case time.Since(m.at) < a.cfg.PublishRetry && !a.closed.Load():
				kept = append(kept, m)
			default:
				a.ctr.dropped.Add(1)
			}
		}
		batch = kept
		if len(batch) == 0 {
			return
		}
		select {
		case <-a.ctx.Done():
			a.ctr.dropped.Add(uint64(len(batch)))
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (a *Adapter) setPubOK(ok bool, err error) {
	if a.pubOK.Swap(ok) != ok && !ok {
		a.log.Warn("redis adapter: publish failed, retrying", "err", err)
	}
}
