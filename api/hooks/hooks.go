// Package hooks calls the application's backend over HTTP: the connect,
// subscribe, event and disconnect hooks of sioloop (CONNECT_HOOK_URL,
// SUBSCRIBE_HOOK_URL, EVENT_HOOK_URL, DISCONNECT_HOOK_URL). It owns the
// HTTP side only: the request and answer JSON of each hook, the signature,
// the bounds (HOOK_TIMEOUT, HOOK_CONCURRENCY, the answer size), the
// disconnect batches and the metrics. Package api decides what a socket
// does with an answer, on the socket's reactor.
//
// Every call runs on a goroutine of its own and hands its result to a
// callback on that goroutine; no method waits for the backend. A caller on
// a reactor therefore never blocks: it hands the call off, and comes back
// to the socket with loop.Socket.Do.
//
// This is the cold path: net/http, encoding/json and locks are fine here.
package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Hook is one of the four hooks.
type Hook int

// The hooks, in the order of a socket's life.
const (
	Connect Hook = iota
	Subscribe
	Event
	Disconnect
	numHooks
)

var hookNames = [numHooks]string{"connect", "subscribe", "event", "disconnect"}

// String returns the hook's name, as in the hook label of the metrics.
func (h Hook) String() string { return hookNames[h] }

// Defaults of Config.
const (
	DefaultTimeout       = 3 * time.Second
	DefaultConcurrency   = 64
	DefaultBatchInterval = time.Second
	DefaultBatchSize     = 100
)

// Bounds that are not settings.
const (
	// MaxAnswerBytes is the largest answer body read from a backend
	// (1 MiB); a larger one is a bad answer.
	MaxAnswerBytes = 1 << 20
	// WaitingPerSlot is how many calls may wait for a free slot per
	// HOOK_CONCURRENCY slot; past HOOK_CONCURRENCY × (1 + WaitingPerSlot)
	// calls a new one fails at once with ErrBusy.
	WaitingPerSlot = 16
	// DisconnectRetryFor is how long a disconnect batch is retried, with
	// backoff from 250ms to 10s, before it is dropped and counted.
	DisconnectRetryFor = time.Minute
	// MaxPendingDisconnects bounds the disconnect records waiting for a
	// batch; past it new records are dropped and counted.
	MaxPendingDisconnects = 100_000
)

// Signature headers. The signature is the hex HMAC-SHA256, keyed with
// HOOK_SECRET, of the timestamp (Unix seconds, as sent in
// TimestampHeader), a dot and the request body; SignatureHeader carries it
// as "sha256=<hex>".
const (
	TimestampHeader = "X-Sioloop-Timestamp"
	SignatureHeader = "X-Sioloop-Signature"
)

// Config says which hooks are on and how they are called. The zero value
// of each field means its documented default.
type Config struct {
	// ConnectURL (CONNECT_HOOK_URL) is POSTed every CONNECT; "" for none.
	ConnectURL string
	// SubscribeURL (SUBSCRIBE_HOOK_URL) is POSTed every subscribe.
	SubscribeURL string
	// EventURL (EVENT_HOOK_URL) is POSTed every event that is not one of
	// the service's own.
	EventURL string
	// DisconnectURL (DISCONNECT_HOOK_URL) is POSTed batches of
	// disconnects.
	DisconnectURL string
	// Secret (HOOK_SECRET) signs every request; "" for unsigned.
	Secret string
	// Timeout (HOOK_TIMEOUT) bounds one call, the wait for a slot
	// included. Default DefaultTimeout.
	Timeout time.Duration
	// Concurrency (HOOK_CONCURRENCY) bounds the calls in flight, all hooks
	// together (a disconnect batch aside). Default DefaultConcurrency.
	Concurrency int
	// FailOpen (HOOK_FAIL_OPEN) accepts a CONNECT the connect hook could
	// not answer.
	FailOpen bool
	// ForwardHeaders (HOOK_FORWARD_HEADERS) are the handshake headers
	// the connect hook receives.
	ForwardHeaders []string
	// BatchInterval (HOOK_BATCH_INTERVAL) is the longest a disconnect
	// waits for its batch. Default DefaultBatchInterval.
	BatchInterval time.Duration
	// BatchSize (HOOK_BATCH_SIZE) is the most disconnects in a batch; a
	// full batch goes at once. Default DefaultBatchSize.
	BatchSize int
	// Client makes the requests. Default: a keep-alive client with a
	// connection per slot, no proxy, no redirects.
	Client *http.Client
	// Log receives the failures, at most one line per hook a second.
	// Default slog.Default().
	Log *slog.Logger
}

// On reports whether any hook is configured.
func (c Config) On() bool {
	return c.ConnectURL != "" || c.SubscribeURL != "" || c.EventURL != "" || c.DisconnectURL != ""
}

func (c Config) resolve() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Client == nil {
		c.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // a backend is called directly, whatever HTTP_PROXY says
				DialContext:         (&net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        c.Concurrency * 2,
				MaxIdleConnsPerHost: c.Concurrency,
				IdleConnTimeout:     90 * time.Second,
				TLSHandshakeTimeout: c.Timeout,
			},
			// A redirect is an unexpected status, not followed: the
			// signed body must not go elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// Client calls the hooks of one Config. Create it with New; any goroutine
// may call its methods.
type Client struct {
	cfg  Config
	urls [numHooks]string
	// slots holds one token per call in flight (HOOK_CONCURRENCY).
	slots chan struct{}
	// admitted counts the calls in flight and waiting for a slot; past
	// maxAdmitted a call fails at once (ErrBusy).
	admitted    atomic.Int64
	maxAdmitted int64
	logs        [numHooks]logLimiter

	batch *batcher // nil without DisconnectURL
}

// New returns the hook client of cfg. With a DisconnectURL it starts the
// goroutine that sends the batches; Close stops it.
func New(cfg Config) *Client {
	cfg = cfg.resolve()
	c := &Client{
		cfg:         cfg,
		urls:        [numHooks]string{cfg.ConnectURL, cfg.SubscribeURL, cfg.EventURL, cfg.DisconnectURL},
		slots:       make(chan struct{}, cfg.Concurrency),
		maxAdmitted: int64(cfg.Concurrency) * (1 + WaitingPerSlot),
	}
	if cfg.DisconnectURL != "" {
		c.batch = newBatcher(c)
	}
	return c
}

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// On reports whether hook h is configured.
func (c *Client) On(h Hook) bool { return c != nil && c.urls[h] != "" }

// Close sends the disconnects still waiting (within HOOK_TIMEOUT) and
// stops the batches. The other hooks need no closing.
func (c *Client) Close() {
	if c.batch != nil {
		c.batch.close()
	}
}

// Kinds of hook errors, the kind label of sioloop_hook_errors_total.
const (
	KindTimeout     = "timeout"     // no answer within HOOK_TIMEOUT
	KindUnreachable = "unreachable" // no connection, or it broke
	KindStatus      = "status"      // an HTTP status the hook does not expect (a 5xx, a 404, a redirect)
	KindBadAnswer   = "bad_answer"  // not JSON, over MaxAnswerBytes, or the wrong shape
	KindBusy        = "busy"        // every HOOK_CONCURRENCY slot taken and too many calls waiting, or no slot within HOOK_TIMEOUT
	KindQueueFull   = "queue_full"  // events: the socket's queue (MaxSocketQueue) was full
	KindDropped     = "dropped"     // disconnects: given up after DisconnectRetryFor, or MaxPendingDisconnects reached
)

var errorKinds = []string{KindTimeout, KindUnreachable, KindStatus, KindBadAnswer, KindBusy, KindQueueFull, KindDropped}

// Error is a failed hook call: what went wrong (Kind, one of the Kind
// constants) and the details for the log. The client of a socket never
// sees Msg: it gets a fixed text (see package api).
type Error struct {
	Hook   Hook
	Kind   string
	Status int // the HTTP status, for KindStatus and KindBadAnswer
	Msg    string
}

func (e *Error) Error() string {
	return "hooks: " + e.Hook.String() + " hook: " + e.Msg
}

// ErrBusy matches (errors.Is) every error of KindBusy.
var ErrBusy = &Error{Kind: KindBusy}

// Is matches errors of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// Fail counts and logs err (rate-limited) under its hook and kind. The
// callers of the hooks use it for the errors they find in an answer.
func (c *Client) Fail(err *Error) *Error {
	m := &hookMetrics[err.Hook]
	m.errors[kindIndex(err.Kind)].Inc()
	c.logs[err.Hook].log(c.cfg.Log, err)
	return err
}

// call POSTs body to hook h and returns the status and the answer body.
// It waits for a slot, then for the answer, HOOK_TIMEOUT in all. A
// transport failure, a timeout or an answer over MaxAnswerBytes is an
// *Error, counted and logged; the status is for the caller to judge.
func (c *Client) call(h Hook, body []byte) (int, []byte, *Error) {
	m := &hookMetrics[h]
	m.calls.Inc()
	start := time.Now()
	defer m.duration.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	if h != Disconnect {
		m.waiting.Add(1)
		select {
		case c.slots <- struct{}{}:
			m.waiting.Add(-1)
			defer func() { <-c.slots }()
		case <-ctx.Done():
			m.waiting.Add(-1)
			return 0, nil, c.Fail(&Error{Hook: h, Kind: KindBusy, Msg: "no free HOOK_CONCURRENCY slot (" + strconv.Itoa(c.cfg.Concurrency) + ") within HOOK_TIMEOUT (" + c.cfg.Timeout.String() + ")"})
		}
	}
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urls[h], bytes.NewReader(body))
	if err != nil {
		return 0, nil, c.Fail(&Error{Hook: h, Kind: KindUnreachable, Msg: err.Error()})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sioloop-hooks")
	if c.cfg.Secret != "" {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(c.cfg.Secret, ts, body))
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, c.Fail(&Error{Hook: h, Kind: KindTimeout, Msg: "no answer within HOOK_TIMEOUT (" + c.cfg.Timeout.String() + ")"})
		}
		return 0, nil, c.Fail(&Error{Hook: h, Kind: KindUnreachable, Msg: err.Error()})
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return 0, nil, c.Fail(&Error{Hook: h, Kind: KindTimeout, Msg: "answer not read within HOOK_TIMEOUT (" + c.cfg.Timeout.String() + ")"})
	case err != nil:
		return 0, nil, c.Fail(&Error{Hook: h, Kind: KindUnreachable, Msg: "reading the answer: " + err.Error()})
	case len(answer) > MaxAnswerBytes:
		return 0, nil, c.Fail(&Error{Hook: h, Kind: KindBadAnswer, Status: resp.StatusCode, Msg: "answer over " + strconv.Itoa(MaxAnswerBytes) + " bytes"})
	}
	return resp.StatusCode, answer, nil
}

// goCall runs call on a goroutine of its own and hands its result to
// done there, or fails at once with KindBusy (done then runs on the
// caller's goroutine) when HOOK_CONCURRENCY × (1 + WaitingPerSlot) calls
// are in flight or waiting: the goroutines are bounded.
func (c *Client) goCall(h Hook, body []byte, done func(status int, answer []byte, err *Error)) {
	if c.admitted.Add(1) > c.maxAdmitted {
		c.admitted.Add(-1)
		hookMetrics[h].calls.Inc()
		done(0, nil, c.Fail(&Error{Hook: h, Kind: KindBusy, Msg: "too many calls waiting: HOOK_CONCURRENCY (" + strconv.Itoa(c.cfg.Concurrency) + ") in flight and " + strconv.Itoa(c.cfg.Concurrency*WaitingPerSlot) + " waiting"}))
		return
	}
	go func() {
		defer c.admitted.Add(-1)
		status, answer, err := c.call(h, body)
		done(status, answer, err)
	}()
}

// Sign returns the SignatureHeader value of body sent at timestamp ts
// (Unix seconds, decimal) with secret: "sha256=" and the hex
// HMAC-SHA256 of ts + "." + body.
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// logLimiter lets one log line a second through, and says how many it
// held back since the last one.
type logLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *logLimiter) log(log *slog.Logger, err *Error) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	args := []any{"hook", err.Hook.String(), "kind", err.Kind, "err", err.Msg}
	if err.Status != 0 {
		args = append(args, "status", err.Status)
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn("backend hook failed", args...)
}
