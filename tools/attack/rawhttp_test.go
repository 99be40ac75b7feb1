package attack

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// readUntilClose reads c until the server closes it or d passes. closed
// says which: true when the server ended the connection (EOF or reset).
func readUntilClose(c net.Conn, d time.Duration) (got []byte, closed bool) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	return buf.Bytes(), !errors.Is(err, os.ErrDeadlineExceeded)
}

// exchange dials addr, writes req, and reads until the server closes or
// d passes.
func exchange(addr, req string, d time.Duration) (got []byte, closed bool, err error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return nil, false, err
	}
	got, closed = readUntilClose(c, d)
	return got, closed, nil
}

// responses parses b as a sequence of HTTP/1.1 responses (for requests of
// method GET or POST, not HEAD) and returns them with their bodies read.
// Trailing bytes that are no complete response are returned as rest.
func responses(b []byte) (out []*http.Response, bodies [][]byte, rest []byte) {
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		if _, err := br.Peek(1); err != nil {
			return out, bodies, nil
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			tail, _ := io.ReadAll(br)
			return out, bodies, tail
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, bodies, body
		}
		out = append(out, resp)
		bodies = append(bodies, body)
	}
}

// statusLine returns the first line of b, for outcomes and errors.
func statusLine(b []byte) string {
	if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
		return string(b[:i])
	}
	return clip(b)
}

// statusCode returns the status of the response b starts with, or 0.
func statusCode(b []byte) int {
	f := bytes.Fields([]byte(statusLine(b)))
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0
	}
	n, _ := strconv.Atoi(string(f[1]))
	return n
}

// dialMany opens n connections to addr, a few at a time, within d in all.
// It returns the connections it got and the time each was opened.
func dialMany(addr string, n int, d time.Duration) ([]net.Conn, []time.Time, error) {
	deadline := time.Now().Add(d)
	conns := make([]net.Conn, n)
	at := make([]time.Time, n)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Now().After(deadline) {
					return
				}
				dl := net.Dialer{Deadline: deadline, Timeout: 2 * time.Second}
				c, err := dl.Dial("tcp", addr)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i], at[i] = c, time.Now()
			}
		}()
	}
	wg.Wait()
	var okc []net.Conn
	var oka []time.Time
	for i, c := range conns {
		if c != nil {
			okc = append(okc, c)
			oka = append(oka, at[i])
		}
	}
	return okc, oka, firstErr
}

// closeWatch follows a set of connections and notes when the server
// closes each: a goroutine per connection reads and discards until EOF or
// an error.
type closeWatch struct {
	conns  []net.Conn
	opened []time.Time
	closed []atomic.Int64 // UnixNano of the server's close; 0 while open
	ours   atomic.Bool
	wg     sync.WaitGroup
}

func watchClose(conns []net.Conn, opened []time.Time) *closeWatch {
	w := &closeWatch{conns: conns, opened: opened, closed: make([]atomic.Int64, len(conns))}
	for i, c := range conns {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var buf [512]byte
			for {
				if _, err := c.Read(buf[:]); err != nil {
					if !w.ours.Load() {
						w.closed[i].Store(time.Now().UnixNano())
					}
					return
				}
			}
		}()
	}
	return w
}

// Open returns how many connections the server has not closed.
func (w *closeWatch) Open() int {
	n := 0
	for i := range w.closed {
		if w.closed[i].Load() == 0 {
			n++
		}
	}
	return n
}

// Wait waits until the server has closed every connection, or until
// deadline, or until stop is closed.
func (w *closeWatch) Wait(deadline time.Time, stop <-chan struct{}) {
	for w.Open() > 0 && time.Now().Before(deadline) {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CloseAfter returns, for each connection the server closed, the time
// from its opening to the close, sorted.
func (w *closeWatch) CloseAfter() []time.Duration {
	var out []time.Duration
	for i := range w.closed {
		if ns := w.closed[i].Load(); ns != 0 {
			out = append(out, time.Unix(0, ns).Sub(w.opened[i]))
		}
	}
	slices.Sort(out)
	return out
}

// Close closes every connection on the client side and waits for the
// readers.
func (w *closeWatch) Close() {
	w.ours.Store(true)
	for _, c := range w.conns {
		c.Close()
	}
	w.wg.Wait()
}

// setRcvBuf shrinks the receive buffer of c.
func setRcvBuf(c net.Conn, n int) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
	})
	return errors.Join(err, serr)
}

// httpDo sends req with a fresh client (no connection kept), within d,
// and returns the response, its body and the time it took.
func httpDo(req *http.Request, d time.Duration) (*http.Response, []byte, time.Duration, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: d}
	start := time.Now()
	resp, err := cl.Do(req)
	if err != nil {
		return nil, nil, time.Since(start), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, time.Since(start), err
}

// quantile returns the q-quantile of sorted d, or 0 for none.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}
