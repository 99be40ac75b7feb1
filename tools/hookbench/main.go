// Command hookbench measures events forwarded to the event hook (issue
// 18): it serves a backend that answers at once, starts a sioloop binary
// with EVENT_HOOK_URL pointing at it, connects --clients WebSocket clients
// that each emit --rate events a second with an ack, and reports the ack
// round trip (p50, p99, p99.9) and the server's CPU per forwarded event
// (utime + stime of the server process from /proc, over the measured
// phase). With --event message the same load measures the plain echo, the
// baseline without a hook.
//
//	go build -o /tmp/sioloop . && go run ./tools/hookbench --bin /tmp/sioloop
//
// The clients and the backend share the machine with the server; their
// own CPU is reported too.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func main() {
	bin := flag.String("bin", "", "sioloop binary to start (required)")
	clients := flag.Int("clients", 1000, "WebSocket clients")
	rate := flag.Float64("rate", 10, "events per second of each client")
	dur := flag.Duration("duration", 20*time.Second, "measured phase")
	event := flag.String("event", "order", `event the clients emit with an ack: any name goes to the hook, "message" is the echo baseline`)
	port := flag.Int("port", 0, "server port (0: a free one)")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "hookbench: --bin is required (go build -o /tmp/sioloop .)")
		os.Exit(2)
	}
	if err := run(*bin, *clients, *rate, *dur, *event, *port); err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(bin string, clients int, rate float64, dur time.Duration, event string, port int) error {
	var hookCalls atomic.Int64
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hookCalls.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = backend.Serve(bl) }()
	defer backend.Close()

	if port == 0 {
		port = freePort()
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "ADMIN_ADDR=off", "LOG_LEVEL=warn",
		"EVENT_HOOK_URL=http://"+bl.Addr().String()+"/event")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + "/socket.io/?EIO=4&transport=websocket"
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not listening: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	conns := make([]*client, clients)
	for i := range conns {
		c, err := dial(url)
		if err != nil {
			return fmt.Errorf("client %d: %v", i, err)
		}
		conns[i] = c
	}
	fmt.Printf("%d clients connected; %s for %v at %.0f events/s each\n", clients, event, dur, rate)

	var (
		mu      sync.Mutex
		lat     []time.Duration
		sent    atomic.Int64
		errs    atomic.Int64
		measure atomic.Bool
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the clients over one interval.
			time.Sleep(time.Duration(i) * interval / time.Duration(clients))
			t := time.NewTicker(interval)
			defer t.Stop()
			local := make([]time.Duration, 0, int(rate*dur.Seconds())+16)
			for n := 1; ; n++ {
				select {
				case <-ctx.Done():
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
					return
				case <-t.C:
				}
				d, err := c.call(n, event)
				if err != nil {
					errs.Add(1)
					continue
				}
				if measure.Load() {
					sent.Add(1)
					local = append(local, d)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second) // warm-up
	cpu0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	self0 := selfCPU()
	calls0 := hookCalls.Load()
	measure.Store(true)
	start := time.Now()
	time.Sleep(dur)
	measure.Store(false)
	elapsed := time.Since(start)
	cpu1, _ := procCPU(cmd.Process.Pid)
	self1 := selfCPU()
	calls := hookCalls.Load() - calls0
	cancel()
	wg.Wait()
	for _, c := range conns {
		c.conn.Close()
	}

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	n := sent.Load()
	serverCPU := cpu1 - cpu0
	fmt.Printf("acked events: %d in %v (%.0f/s), errors %d, hook calls %d (%.0f/s)\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), errs.Load(), calls, float64(calls)/elapsed.Seconds())
	fmt.Printf("ack round trip: p50 %v, p99 %v, p99.9 %v, max %v\n", q(.5).Round(time.Microsecond), q(.99).Round(time.Microsecond), q(.999).Round(time.Microsecond), q(1).Round(time.Microsecond))
	fmt.Printf("server CPU: %v (%.0f%% of a core), %.1f µs per event\n", serverCPU.Round(time.Millisecond), 100*serverCPU.Seconds()/elapsed.Seconds(), float64(serverCPU.Microseconds())/float64(max(n, 1)))
	fmt.Printf("clients + backend CPU (this process): %v (%.0f%% of a core)\n", (self1 - self0).Round(time.Millisecond), 100*(self1-self0).Seconds()/elapsed.Seconds())
	return nil
}

// client is one Socket.IO client with one call at a time (its ticker
// waits for the ack).
type client struct {
	conn net.Conn
	rw   io.ReadWriter
}

func dial(url string) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	c := &client{conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
	if p, err := c.read(); err != nil || !strings.HasPrefix(p, "0{") {
		return nil, fmt.Errorf("open packet %q: %v", p, err)
	}
	if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
		return nil, err
	}
	if p, err := c.read(); err != nil || !strings.HasPrefix(p, "40{") {
		return nil, fmt.Errorf("CONNECT answer %q: %v", p, err)
	}
	return c, nil
}

func (c *client) read() (string, error) {
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := wsutil.ReadServerText(c.rw)
		if err != nil {
			return "", err
		}
		if string(b) == "2" {
			if err := wsutil.WriteClientText(c.conn, []byte("3")); err != nil {
				return "", err
			}
			continue
		}
		return string(b), nil
	}
}

// call emits event with ack id n and waits for its ack (the echo of
// "message" comes first and is skipped).
func (c *client) call(n int, event string) (time.Duration, error) {
	id := strconv.Itoa(n)
	start := time.Now()
	if err := wsutil.WriteClientText(c.conn, []byte(`42`+id+`["`+event+`",{"n":`+id+`}]`)); err != nil {
		return 0, err
	}
	want := []byte("43" + id)
	for {
		p, err := c.read()
		if err != nil {
			return 0, err
		}
		if bytes.HasPrefix([]byte(p), want) {
			if strings.Contains(p, `"error"`) {
				return 0, fmt.Errorf("ack %s", p)
			}
			return time.Since(start), nil
		}
	}
}

// procCPU returns the user + system CPU time of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
