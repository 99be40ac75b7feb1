package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// broadcaster posts the fanout broadcasts: seq 1, 2, 3, ... due at
// measureStart + (seq-1)/rate, until measureEnd. With one poster (the
// default) requests go one at a time, so the server receives the broadcasts
// in order and a client seeing them out of order is the server's doing; when
// a request takes longer than 1/rate the next one follows at once and the
// achieved rate drops, which the result shows. More posters (--posters) keep
// several requests in flight to push a server that answers only after its
// fan-out; broadcasts may then reach it out of order.
type broadcaster struct {
	rs     *runState
	client *http.Client
	st     *counters
	next   atomic.Uint64 // last sequence number taken
}

func newBroadcaster(rs *runState) *broadcaster {
	tr := &http.Transport{
		MaxIdleConnsPerHost: rs.cfg.Posters + 1,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	return &broadcaster{
		rs:     rs,
		client: &http.Client{Transport: tr, Timeout: rs.cfg.PostTimeout},
		st:     rs.stats[0],
	}
}

// run posts until measureEnd or ctx is done, with --posters requests in flight at most.
func (b *broadcaster) run(ctx context.Context) {
	defer b.client.CloseIdleConnections()
	var wg sync.WaitGroup
	for range b.rs.cfg.Posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.poster(ctx)
		}()
	}
	wg.Wait()
}

// poster takes the next sequence number, waits until it is due and posts it.
func (b *broadcaster) poster(ctx context.Context) {
	cfg, rs, tab := b.rs.cfg, b.rs, b.rs.bcast
	start, end := rs.measureStart.Load(), rs.measureEnd.Load()
	gap := float64(time.Second) / cfg.Rate
	var body []byte
	for {
		seq := b.next.Add(1)
		if seq >= uint64(len(tab.slots)) {
			return
		}
		due := start + int64(float64(seq-1)*gap)
		if due >= end || rs.clk.now() >= end {
			return
		}
		if wait := due - rs.clk.now(); wait > 0 {
			t := time.NewTimer(time.Duration(wait))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		slot := &tab.slots[seq]
		ts := rs.clk.now()
		slot.sentAt.Store(ts)
		slot.recipients.Store(-1)
		for {
			// posted is the highest sequence number used.
			p := tab.posted.Load()
			if seq <= p || tab.posted.CompareAndSwap(p, seq) {
				break
			}
		}
		room := -1
		if cfg.Rooms > 0 {
			room = RoomOfSeq(seq, cfg.Rooms)
		}
		body = AppendBroadcastBody(body[:0], cfg.Channel, cfg.Namespace, seq, ts, cfg.pad, room)
		recipients, err := b.post(ctx, body)
		took := rs.clk.now() - ts
		tab.postLat.Record(took)
		slot.postDur.Store(took)
		if err != nil {
			tab.failed.Add(1)
			rs.noteErr(b.st, errBroadcast, err)
			continue
		}
		slot.recipients.Store(recipients)
		slot.ok.Store(true)
		tab.accepted.Add(1)
	}
}

// post sends one broadcast and returns the server's "recipients" figure, or
// -1 when its answer has none.
func (b *broadcaster) post(ctx context.Context, body []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.rs.cfg.adminURL, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return -1, fmt.Errorf("loadtest: POST %s: %w", b.rs.cfg.adminURL, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return -1, fmt.Errorf("loadtest: POST %s: status %d: %s", b.rs.cfg.adminURL, resp.StatusCode, truncate(answer, 200))
	}
	var r struct {
		Recipients *int64 `json:"recipients"`
	}
	if json.Unmarshal(answer, &r) == nil && r.Recipients != nil {
		return *r.Recipients, nil
	}
	return -1, nil
}
