package cluster

// Receiving: the subscriptions, the goroutine that reads them and the one
// that applies what other servers sent, in order.

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sioloop/loop"
)

// subscribeLoop subscribes the namespaces AddNamespace queues.
func (a *Adapter) subscribeLoop() {
	defer a.wg.Done()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-a.kick:
			a.subscribePending()
		}
	}
}

// subscribePending subscribes every namespace queued by AddNamespace and
// unsubscribes those queued by RemoveNamespace; of several changes to one
// namespace the last wins. A failure needs no retry: go-redis records the
// channels and subscribes them again on every new connection.
func (a *Adapter) subscribePending() {
	a.mu.Lock()
	list := a.toSub
	a.toSub = nil
	a.mu.Unlock()
	if len(list) == 0 {
		return
	}
	last := make(map[string]bool, len(list))
	for _, op := range list {
		last[op.key()] = op.add
	}
	var subChans, subPats, unChans, unPats []string
	for _, op := range list {
		k := op.key()
		add, ok := last[k]
		if !ok {
			continue // done already
		}
		delete(last, k)
		if _, on := a.subbed[k]; on == add {
			continue
		}
		if op.channel != "" && add && !a.hasNamespace(op.nsp) {
			continue
		}
		var chans, pats []string
		if op.channel != "" {
			chans = []string{op.channel}
		} else if a.st != nil {
			chans = a.st.channels(op.nsp)
		} else {
			resp := ResponseChannel(a.cfg.Key, op.nsp)
			chans = []string{RequestChannel(a.cfg.Key, op.nsp), resp, resp + a.uid + "#"}
			pats = []string{broadcastPattern(a.cfg.Key, op.nsp)}
		}
		if add {
			a.subbed[k] = struct{}{}
			subChans, subPats = append(subChans, chans...), append(subPats, pats...)
		} else {
			delete(a.subbed, k)
			unChans, unPats = append(unChans, chans...), append(unPats, pats...)
		}
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.RequestTimeout)
	defer cancel()
	var err error
	note := func(e error) {
		if err == nil {
			err = e
		}
	}
	// Never call (P)Unsubscribe without names: that drops every
	// subscription.
	if a.sh != nil {
		if len(subChans) > 0 {
			note(a.sh.subscribe(ctx, subChans, true))
		}
		if len(unChans) > 0 {
			note(a.sh.subscribe(ctx, unChans, false))
		}
		subChans, unChans = nil, nil
	}
	if len(subPats) > 0 {
		note(a.ps.PSubscribe(ctx, subPats...))
	}
	if len(subChans) > 0 {
		note(a.ps.Subscribe(ctx, subChans...))
	}
	if len(unPats) > 0 {
		note(a.ps.PUnsubscribe(ctx, unPats...))
	}
	if len(unChans) > 0 {
		note(a.ps.Unsubscribe(ctx, unChans...))
	}
	if err != nil && a.ctx.Err() == nil {
		a.noteError("subscribe", err)
	}
}

// receiveLoop reads the subscription connection and hands messages to
// dispatchLoop, in order. go-redis reconnects and subscribes again by
// itself on the next read after a failure; the loop only paces the
// attempts and tracks the up/down state.
func (a *Adapter) receiveLoop() {
	defer a.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		msg, err := a.ps.ReceiveTimeout(a.ctx, 15*time.Second)
		if a.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Nothing for 15s: make sure the connection is alive.
				if err = a.ps.Ping(a.ctx); err == nil {
					continue
				}
			}
			a.setSubUp(false, err)
			a.noteError("receive", err)
			select {
			case <-a.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second) // node-redis waits at most 500ms
			continue
		}
		backoff = 100 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			a.setSubUp(true, nil)
		case *redis.Message:
			select {
			case a.in <- m:
			case <-a.ctx.Done():
				return
			}
		}
	}
}

// setSubUp records the state of the subscription connection and logs and
// counts transitions.
func (a *Adapter) setSubUp(up bool, err error) {
	if a.subUp.Swap(up) == up {
		return
	}
	if up {
		// Redis answers again: a publish failure from before no longer
		// says it is down (the next failure will again).
		a.pubOK.Store(true)
		if a.everUp.Swap(true) {
			a.ctr.reconnects.Add(1)
		}
		a.log.Info("redis adapter connected", "uid", a.uid)
		return
	}
	a.log.Warn("redis adapter disconnected: cross-server delivery paused, local delivery goes on", "err", err)
}

// noteError counts a Redis error.
func (a *Adapter) noteError(op string, err error) {
	a.ctr.errors.Add(1)
	a.log.Debug("redis adapter error", "op", op, "err", err)
}

// dispatchLoop handles every message in the order Redis delivered it, so
// that a REMOTE_JOIN is applied before a broadcast to the room that
// follows it, as on a Node server.
func (a *Adapter) dispatchLoop() {
	defer a.wg.Done()
	var m Message
	for {
		var msg *redis.Message
		select {
		case msg = <-a.in:
		case <-a.ctx.Done():
			return // a.in is not closed: the sharded protocol has several senders
		}
		a.ctr.pubsubIn.Add(1)
		ch := msg.Channel
		payload := []byte(msg.Payload)
		if a.sh != nil {
			a.sh.onMessage(ch, payload)
			continue
		}
		if a.st != nil {
			a.st.onPubSub(ch, payload)
			continue
		}
		switch {
		case strings.HasPrefix(ch, a.reqPrefix):
			a.ctr.received[kindRequest].Add(1)
			a.onRequest(strings.TrimSuffix(ch[len(a.reqPrefix):], "#"), payload)
		case strings.HasPrefix(ch, a.respPrefix):
			a.ctr.received[kindResponse].Add(1)
			a.onResponse(payload)
		case strings.HasPrefix(ch, a.bcPrefix):
			a.ctr.received[kindBroadcast].Add(1)
			a.onBroadcast(ch, payload, &m)
		}
	}
}

// onBroadcast applies a broadcast of another server to this server's
// sockets, through the same fan-out as a local broadcast (encoded once).
// RedisAdapter.onmessage: messages with our own uid and packets for
// another namespace than the channel's are ignored.
func (a *Adapter) onBroadcast(ch string, payload []byte, m *Message) {
	if err := a.codec.ParseBroadcast(payload, m); err != nil {
		a.malformed("broadcast", ch, err)
		return
	}
	if m.UID == a.uid {
		return
	}
	nsp := m.Broadcast.Namespace
	if !strings.HasPrefix(ch, BroadcastChannel(a.cfg.Key, nsp, nil)) || !a.hasNamespace(nsp) {
		return
	}
	if _, err := a.local.Broadcast(&m.Broadcast); err != nil && !errors.Is(err, loop.ErrServerClosed) {
		a.malformed("broadcast", ch, err)
	}
}

func (a *Adapter) malformed(what, ch string, err error) {
	a.ctr.malformed.Add(1)
	a.log.Debug("redis adapter: message ignored", "kind", what, "channel", ch, "err", err)
}
