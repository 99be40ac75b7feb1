package hooks

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// retryFor and retryFirst are DisconnectRetryFor and the first backoff;
// tests shorten them.
var (
	retryFor   = DisconnectRetryFor
	retryFirst = 250 * time.Millisecond
)

// DisconnectRecord is one disconnect of a disconnect hook batch; the body
// of a call is a JSON array of them, oldest first.
type DisconnectRecord struct {
	ID        string          `json:"id"`
	User      string          `json:"user"` // "" for none
	Namespace string          `json:"namespace"`
	Reason    string          `json:"reason"` // Node's reason: "client namespace disconnect", "transport close", "ping timeout", ...
	At        int64           `json:"at"`     // Unix milliseconds
	Data      json.RawMessage `json:"data,omitempty"`
	// UserSocketsLeft is the number of sockets of User still connected to
	// this server, all namespaces together, after this one left (0
	// without a user).
	UserSocketsLeft int `json:"user_sockets_left"`
	// Last is set when this was the user's last socket on this server:
	// "user 42 is offline" here.
	Last bool `json:"last"`
}

// Disconnect queues rec for the next batch and returns at once; any
// goroutine, reactors included (one short lock). Past
// MaxPendingDisconnects waiting records it is dropped and counted.
func (c *Client) Disconnect(rec DisconnectRecord) {
	if c.batch == nil {
		return
	}
	c.batch.add(rec)
}

// batcher collects disconnect records and posts them in batches of at
// most BatchSize, at most BatchInterval after the first one of a batch
// arrived, one batch at a time, each retried with backoff for
// DisconnectRetryFor before it is dropped.
type batcher struct {
	c       *Client
	mu      sync.Mutex
	pending []DisconnectRecord
	kick    chan struct{} // a full batch waits
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newBatcher(c *Client) *batcher {
	b := &batcher{c: c, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

func (b *batcher) add(rec DisconnectRecord) {
	b.mu.Lock()
	if len(b.pending) >= MaxPendingDisconnects {
		b.mu.Unlock()
		b.c.Fail(&Error{Hook: Disconnect, Kind: KindDropped, Msg: "disconnect dropped: " + strconv.Itoa(MaxPendingDisconnects) + " waiting for the backend already"})
		return
	}
	b.pending = append(b.pending, rec)
	full := len(b.pending) >= b.c.cfg.BatchSize
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// take removes and returns the next batch, nil when nothing waits.
func (b *batcher) take() []DisconnectRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.pending), b.c.cfg.BatchSize)
	if n == 0 {
		return nil
	}
	batch := make([]DisconnectRecord, n)
	copy(batch, b.pending)
	rest := copy(b.pending, b.pending[n:])
	clear(b.pending[rest:])
	b.pending = b.pending[:rest]
	return batch
}

func (b *batcher) run() {
	defer close(b.done)
	t := time.NewTicker(b.c.cfg.BatchInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			// Shutdown: one try for what waits, no retries.
			for batch := b.take(); batch != nil; batch = b.take() {
				if !b.post(batch) {
					b.drop(len(batch)+b.dropAll(), "the server is stopping")
					return
				}
			}
			return
		case <-t.C:
		case <-b.kick:
		}
		for batch := b.take(); batch != nil; batch = b.take() {
			if !b.send(batch) {
				break
			}
			if len(batch) < b.c.cfg.BatchSize {
				break // a partial batch: wait for the next tick
			}
		}
	}
}

// send posts batch until it is taken or DisconnectRetryFor has passed,
// then drops it; it reports false when it was stopped meanwhile.
func (b *batcher) send(batch []DisconnectRecord) bool {
	deadline := time.Now().Add(retryFor)
	wait := retryFirst
	for !b.post(batch) {
		if time.Now().Add(wait).After(deadline) {
			b.drop(len(batch), "not taken within "+retryFor.String())
			return true
		}
		select {
		case <-b.stop:
			// Close is waiting: its flush gives the batch a last try.
			b.mu.Lock()
			b.pending = append(batch, b.pending...)
			b.mu.Unlock()
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
	return true
}

// post makes one call with batch and reports whether the backend took it
// (a 2xx). A 4xx other than 408 and 429 is not retried either: the
// backend will not take it later; the batch is dropped and counted.
func (b *batcher) post(batch []DisconnectRecord) bool {
	body, err := json.Marshal(batch)
	if err != nil {
		panic("BUG: hooks: disconnect batch: " + err.Error())
	}
	status, answer, e := b.c.call(Disconnect, body)
	switch {
	case e != nil:
		return false
	case status >= 200 && status < 300:
		return true
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		b.c.badStatus(Disconnect, status, answer)
		b.drop(len(batch), "refused with HTTP "+strconv.Itoa(status))
		return true
	}
	b.c.badStatus(Disconnect, status, answer)
	return false
}

// drop counts n dropped records.
func (b *batcher) drop(n int, why string) {
	if n == 0 {
		return
	}
	hookMetrics[Disconnect].errors[kindIndex(KindDropped)].Add(n - 1)
	b.c.Fail(&Error{Hook: Disconnect, Kind: KindDropped, Msg: strconv.Itoa(n) + " disconnects dropped: " + why})
}

// dropAll empties the queue and returns how many records it held.
func (b *batcher) dropAll() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.pending)
	b.pending = nil
	return n
}

// close stops run after a last try for the records waiting, within
// HOOK_TIMEOUT (each call is bounded by it).
func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.done
}
