package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend serves fn on every path and returns its URL.
func backend(t *testing.T, fn http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(fn)
	t.Cleanup(s.Close)
	return s.URL
}

// verify is the backend's check of a signed request, as README.md shows it.
func verify(secret string, r *http.Request, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.Header.Get("X-Sioloop-Timestamp") + "." + string(body)))
	return hmac.Equal([]byte(r.Header.Get("X-Sioloop-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
}

type connectResult struct {
	a   ConnectAnswer
	err error
}

func connectOnce(t *testing.T, c *Client) connectResult {
	t.Helper()
	ch := make(chan connectResult, 1)
	c.Connect(&ConnectRequest{ID: "s1", Namespace: "/", Query: map[string]string{}, Headers: map[string]string{}}, func(a ConnectAnswer, err error) { ch <- connectResult{a, err} })
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		return connectResult{}
	}
}

func TestSignature(t *testing.T) {
	const secret = "s3cret"
	var ok, signed atomic.Bool
	url := backend(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		signed.Store(r.Header.Get(SignatureHeader) != "")
		ok.Store(verify(secret, r, body))
		io.WriteString(w, `{}`)
	})
	r := connectOnce(t, New(Config{ConnectURL: url, Secret: secret, Log: quiet}))
	if r.err != nil || !r.a.Accept || !ok.Load() {
		t.Fatalf("signed call: %+v, verified %v", r, ok.Load())
	}
	// A wrong secret does not verify; no secret sends no signature.
	if r := connectOnce(t, New(Config{ConnectURL: url, Secret: "other", Log: quiet})); r.err != nil || ok.Load() {
		t.Fatalf("a wrong secret verified: %+v", r)
	}
	if connectOnce(t, New(Config{ConnectURL: url, Log: quiet})); signed.Load() {
		t.Fatal("unsigned call carries a signature")
	}
}

func TestConnectAnswers(t *testing.T) {
	f := func(status int, body string, want ConnectAnswer, kind string) {
		t.Helper()
		url := backend(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
		})
		before := Errors(Connect, orDefault(kind))
		r := connectOnce(t, New(Config{ConnectURL: url, Log: quiet}))
		if kind != "" {
			var e *Error
			if !errors.As(r.err, &e) || e.Kind != kind {
				t.Errorf("%d %s: err %v, want kind %s", status, body, r.err, kind)
			}
			if Errors(Connect, kind) != before+1 {
				t.Errorf("%d %s: kind %s not counted", status, body, kind)
			}
			return
		}
		if r.err != nil {
			t.Errorf("%d %s: %v", status, body, r.err)
			return
		}
		g, _ := json.Marshal(r.a)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%d %s: %s, want %s", status, body, g, w)
		}
	}
	f(200, `{"user":"42","channels":["a","b"],"data":{"plan":"pro"}}`, ConnectAnswer{Accept: true, User: "42", Channels: []string{"a", "b"}, Data: json.RawMessage(`{"plan":"pro"}`)}, "")
	f(200, `{}`, ConnectAnswer{Accept: true}, "")
	f(200, `{"data":null}`, ConnectAnswer{Accept: true}, "")
	f(403, `{"message":"banned","data":{"until":5}}`, ConnectAnswer{Message: "banned", ErrData: json.RawMessage(`{"until":5}`)}, "")
	f(403, `not json`, ConnectAnswer{Message: DefaultRefusal}, "")
	f(401, ``, ConnectAnswer{Message: DefaultRefusal}, "")
	f(200, `not json`, ConnectAnswer{}, KindBadAnswer)
	f(200, `[1,2]`, ConnectAnswer{}, KindBadAnswer)
	f(200, `{"user":42}`, ConnectAnswer{}, KindBadAnswer)
	f(200, `{"channels":"a"}`, ConnectAnswer{}, KindBadAnswer)
	f(200, `{"user":"a"} trailing`, ConnectAnswer{}, KindBadAnswer)
	f(200, `{"data":"`+strings.Repeat("x", MaxAnswerBytes)+`"}`, ConnectAnswer{}, KindBadAnswer)
	f(500, `oops`, ConnectAnswer{}, KindStatus)
	f(404, ``, ConnectAnswer{}, KindStatus)
	f(302, ``, ConnectAnswer{}, KindStatus)
}

func orDefault(kind string) string {
	if kind == "" {
		return KindStatus
	}
	return kind
}

func TestUnreachableAndTimeout(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close()
	r := connectOnce(t, New(Config{ConnectURL: url, Log: quiet}))
	if e := (*Error)(nil); !errors.As(r.err, &e) || e.Kind != KindUnreachable {
		t.Fatalf("closed backend: %v", r.err)
	}
	release := make(chan struct{})
	defer close(release)
	slow := backend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	r = connectOnce(t, New(Config{ConnectURL: slow, Timeout: 200 * time.Millisecond, Log: quiet}))
	if e := (*Error)(nil); !errors.As(r.err, &e) || e.Kind != KindTimeout {
		t.Fatalf("slow backend: %v", r.err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout after %v, want about 200ms", d)
	}
}

// TestBusy fills the slots and the waiting room: one more call fails at
// once, the waiting ones fail after HOOK_TIMEOUT without a slot.
func TestBusy(t *testing.T) {
	release := make(chan struct{})
	var inside atomic.Int64
	url := backend(t, func(w http.ResponseWriter, r *http.Request) {
		inside.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, `{}`)
	})
	c := New(Config{ConnectURL: url, Concurrency: 2, Timeout: 5 * time.Second, Log: quiet})
	n := 2 * (1 + WaitingPerSlot)
	results := make(chan error, n)
	for range n {
		c.Connect(&ConnectRequest{}, func(_ ConnectAnswer, err error) { results <- err })
	}
	deadline := time.Now().Add(5 * time.Second)
	for inside.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := inside.Load(); got != 2 {
		t.Fatalf("%d calls reached the backend, want HOOK_CONCURRENCY (2)", got)
	}
	var refused error
	c.Connect(&ConnectRequest{}, func(_ ConnectAnswer, err error) { refused = err }) // at once, on this goroutine
	if !errors.Is(refused, ErrBusy) || !strings.Contains(refused.Error(), "too many calls waiting") {
		t.Fatalf("one call too many: %v", refused)
	}
	close(release)
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("an admitted call failed: %v", err)
		}
	}
}

func TestEventAnswers(t *testing.T) {
	f := func(status int, body string, want EventAnswer, kind string) {
		t.Helper()
		url := backend(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
		})
		ch := make(chan connectResult, 1)
		var got EventAnswer
		New(Config{EventURL: url, Log: quiet}).Event([]byte(`{}`), func(a EventAnswer, err error) { got = a; ch <- connectResult{err: err} })
		err := (<-ch).err
		if kind != "" {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Kind != kind {
				t.Errorf("%d %s: %v, want kind %s", status, body, err, kind)
			}
			return
		}
		if err != nil || string(got.Args) != string(want.Args) || got.Refusal != want.Refusal {
			t.Errorf("%d %s: %q %q %v, want %q %q", status, body, got.Args, got.Refusal, err, want.Args, want.Refusal)
		}
	}
	f(200, `{"ok":true}`, EventAnswer{Args: []byte(`{"ok":true}`)}, "")
	f(200, ` [1, 2] `, EventAnswer{Args: []byte(`[1, 2]`)}, "")
	f(204, ``, EventAnswer{}, "")
	f(400, `{"error":"no such order"}`, EventAnswer{Refusal: "no such order"}, "")
	f(422, `nope`, EventAnswer{Refusal: "event refused by backend (HTTP 422)"}, "")
	f(200, `{"ok":`, EventAnswer{}, KindBadAnswer)
	f(503, ``, EventAnswer{}, KindStatus)
}

func TestSubscribeAnswers(t *testing.T) {
	f := func(status int, body string, want SubscribeAnswer, kind string) {
		t.Helper()
		url := backend(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
		})
		ch := make(chan struct{})
		var got SubscribeAnswer
		var err error
		New(Config{SubscribeURL: url, Log: quiet}).Subscribe(&SubscribeRequest{Channels: []string{"a"}}, func(a SubscribeAnswer, e error) { got, err = a, e; close(ch) })
		<-ch
		if kind != "" {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Kind != kind {
				t.Errorf("%d %s: %v, want kind %s", status, body, err, kind)
			}
			return
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if err != nil || string(g) != string(w) {
			t.Errorf("%d %s: %s %v, want %s", status, body, g, err, w)
		}
	}
	f(200, `{"channels":["a"]}`, SubscribeAnswer{Channels: []string{"a"}}, "")
	f(200, `{"channels":[]}`, SubscribeAnswer{Channels: []string{}}, "")
	f(403, `{"message":"not yours"}`, SubscribeAnswer{Refused: true, Message: "not yours"}, "")
	f(200, `{}`, SubscribeAnswer{}, KindBadAnswer)
	f(200, `{"channels":[1]}`, SubscribeAnswer{}, KindBadAnswer)
}

func TestAppendEvent(t *testing.T) {
	b := AppendEvent(nil, "sid", "u\"1", "/", "order", []byte(`1,{"_placeholder":true,"num":0}`), [][]byte{{0xff, 0}}, []byte(`{"plan":"pro"}`), true)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := `{"id":"sid","user":"u\"1","namespace":"/","event":"order","args":[1,{"_placeholder":true,"num":0}],"attachments":["/wA="],"data":{"plan":"pro"},"ack":true}`
	if string(b) != want {
		t.Fatalf("%s\nwant %s", b, want)
	}
	if b := AppendEvent(nil, "s", "", "/", "e", nil, nil, nil, false); string(b) != `{"id":"s","user":"","namespace":"/","event":"e","args":[],"data":null,"ack":false}` {
		t.Fatalf("%s", b)
	}
}

// TestDisconnectBatches checks the batch size and interval, the retries
// of a failing backend and the drop after retryFor.
func TestDisconnectBatches(t *testing.T) {
	retryFor, retryFirst = 300*time.Millisecond, 20*time.Millisecond
	defer func() { retryFor, retryFirst = DisconnectRetryFor, 250*time.Millisecond }()
	var mu sync.Mutex
	var batches [][]DisconnectRecord
	var fail atomic.Int64 // calls still to fail
	url := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Add(-1) >= 0 {
			w.WriteHeader(503)
			return
		}
		var b []DisconnectRecord
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("batch: %v", err)
		}
		mu.Lock()
		batches = append(batches, b)
		mu.Unlock()
	})
	c := New(Config{DisconnectURL: url, BatchSize: 3, BatchInterval: 100 * time.Millisecond, Log: quiet})
	defer c.Close()
	got := func(n int) [][]DisconnectRecord {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			b := append([][]DisconnectRecord(nil), batches...)
			mu.Unlock()
			if len(b) >= n || time.Now().After(deadline) {
				return b
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := range 4 {
		c.Disconnect(DisconnectRecord{ID: string(rune('a' + i)), Reason: "transport close"})
	}
	b := got(2)
	if len(b) != 2 || len(b[0]) != 3 || len(b[1]) != 1 || b[0][0].ID != "a" || b[1][0].ID != "d" {
		t.Fatalf("batches %+v, want [a b c] [d]", b)
	}
	// Two failures, then taken.
	fail.Store(2)
	c.Disconnect(DisconnectRecord{ID: "e"})
	if b := got(3); len(b) != 3 || b[2][0].ID != "e" {
		t.Fatalf("retried batch not received: %+v", b)
	}
	// Always failing: dropped and counted.
	dropped := Errors(Disconnect, KindDropped)
	fail.Store(1 << 30)
	c.Disconnect(DisconnectRecord{ID: "f"})
	c.Disconnect(DisconnectRecord{ID: "g"})
	deadline := time.Now().Add(5 * time.Second)
	for Errors(Disconnect, KindDropped) < dropped+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := Errors(Disconnect, KindDropped) - dropped; n != 2 {
		t.Fatalf("%d disconnects counted dropped, want 2", n)
	}
}

// TestDisconnectFlushOnClose: Close sends what waits, without waiting for
// BatchInterval.
func TestDisconnectFlushOnClose(t *testing.T) {
	var got atomic.Int64
	url := backend(t, func(w http.ResponseWriter, r *http.Request) {
		var b []DisconnectRecord
		_ = json.NewDecoder(r.Body).Decode(&b)
		got.Add(int64(len(b)))
	})
	c := New(Config{DisconnectURL: url, BatchSize: 2, BatchInterval: time.Hour, Log: quiet})
	for range 5 {
		c.Disconnect(DisconnectRecord{ID: "x", Reason: "server shutting down"})
	}
	c.Close()
	if n := got.Load(); n != 5 {
		t.Fatalf("%d disconnects received by Close, want 5", n)
	}
}
