// Command zishang is a benchmark peer: the sioloop application behaviour on
// github.com/zishang520/socket.io/v2, the idiomatic net/http, goroutine-per-
// connection Go port of Node's socket.io. scripts/bench.sh runs it beside
// sioloop and the Node peer (tools/peers/node).
//
// One HTTP server on HOST:PORT (default 127.0.0.1:3000) serves:
//
//	/socket.io/               Socket.IO: `message` is emitted back to the sender with the
//	                          same arguments (and acknowledged with them when the client
//	                          asks); `subscribe` / `unsubscribe` join and leave rooms and
//	                          acknowledge with the socket's rooms
//	POST /SendWebsocketEvent  {"channel":C,"payload":P} emits C with {"payload":P};
//	                          {"channels":[...],"payload":P} one event per channel;
//	                          {"event":E,"data":D} emits E with D; optional "rooms",
//	                          "except", "namespace" (default "/")
//	GET  /health              {"status":"healthy",...}
//
// Environment: PORT, HOST, PING_INTERVAL and PING_TIMEOUT (milliseconds).
//
// Known defect, kept on purpose: engine.io/v2 v2.5.0 drops
// every pre-encoded broadcast packet after the first of a flush, so io.Emit
// loses broadcasts under bursts. The load test reports delivered/expected.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/zishang520/socket.io/v2/socket"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "zishang-peer:", err)
		os.Exit(1)
	}
}

func run() error {
	port, err := intEnv("PORT", 3000)
	if err != nil {
		return err
	}
	pingInterval, err := intEnv("PING_INTERVAL", 25000)
	if err != nil {
		return err
	}
	pingTimeout, err := intEnv("PING_TIMEOUT", 20000)
	if err != nil {
		return err
	}
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}

	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetPingInterval(time.Duration(pingInterval) * time.Millisecond)
	opts.SetPingTimeout(time.Duration(pingTimeout) * time.Millisecond)
	sio := socket.NewServer(nil, nil)
	sio.On("connection", func(clients ...any) { onConnection(clients[0].(*socket.Socket)) })

	started := time.Now()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", sio.ServeHandler(opts))
	mux.HandleFunc("/SendWebsocketEvent", func(w http.ResponseWriter, r *http.Request) { sendWebsocketEvent(sio, w, r) })
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status": "healthy", "service": "zishang-peer",
			"uptime": time.Since(started).Seconds(), "connectedClients": sio.Sockets().Sockets().Len(),
		})
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("zishang-peer listening on %s (socket.io at /socket.io/)", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Printf("zishang-peer: %v, exiting", context.Cause(ctx))
	sio.Close(nil)
	srv.Close()
	return nil
}

func intEnv(name string, def int) (int, error) {
	raw := os.Getenv(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a non-negative integer", name, raw)
	}
	return n, nil
}

// splitAck separates the acknowledgement callback a client asked for.
func splitAck(args []any) ([]any, socket.Ack) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			return args[:n-1], ack
		}
	}
	return args, nil
}

// channelNames flattens subscribe/unsubscribe arguments (names or arrays of names).
func channelNames(args []any) []socket.Room {
	var out []socket.Room
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if v != "" {
				out = append(out, socket.Room(v))
			}
		case []any:
			for _, b := range v {
				if s, ok := b.(string); ok && s != "" {
					out = append(out, socket.Room(s))
				}
			}
		}
	}
	return out
}

func roomList(s *socket.Socket) []string {
	var out []string
	for _, r := range s.Rooms().Keys() {
		out = append(out, string(r))
	}
	return out
}

func onConnection(s *socket.Socket) {
	s.On("message", func(raw ...any) {
		args, ack := splitAck(raw)
		s.Emit("message", args...)
		if ack != nil {
			ack(args, nil)
		}
	})
	s.On("subscribe", func(raw ...any) {
		args, ack := splitAck(raw)
		if rooms := channelNames(args); len(rooms) > 0 {
			s.Join(rooms...)
		}
		if ack != nil {
			ack([]any{roomList(s)}, nil)
		}
	})
	s.On("unsubscribe", func(raw ...any) {
		args, ack := splitAck(raw)
		for _, r := range channelNames(args) {
			if string(r) != string(s.Id()) {
				s.Leave(r)
			}
		}
		if ack != nil {
			ack([]any{roomList(s)}, nil)
		}
	})
}

// emitRequest is the body of POST /SendWebsocketEvent.
type emitRequest struct {
	Channel   *string         `json:"channel"`
	Channels  []string        `json:"channels"`
	Event     *string         `json:"event"`
	Payload   json.RawMessage `json:"payload"`
	Data      json.RawMessage `json:"data"`
	Rooms     stringList      `json:"rooms"`
	Except    stringList      `json:"except"`
	Namespace string          `json:"namespace"`
}

// stringList accepts a string or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		if one != "" {
			*l = []string{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or an array of strings")
	}
	*l = many
	return nil
}

// decodeAny decodes JSON keeping numbers exact (json.Number), so sequence
// numbers and nanosecond timestamps survive the round trip.
func decodeAny(b json.RawMessage) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func sendWebsocketEvent(srv *socket.Server, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed: use POST"})
		return
	}
	body, err := readLimited(r.Body, 1<<20)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
		return
	}
	var req emitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return
	}
	type event struct {
		name string
		data any
	}
	var events []event
	switch {
	case req.Channel != nil && *req.Channel != "":
		p, err := decodeAny(req.Payload)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid payload: " + err.Error()})
			return
		}
		events = append(events, event{*req.Channel, map[string]any{"payload": p}})
	case len(req.Channels) > 0:
		p, err := decodeAny(req.Payload)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid payload: " + err.Error()})
			return
		}
		if ps, ok := p.([]any); ok {
			for i := 0; i < len(req.Channels) && i < len(ps); i++ {
				events = append(events, event{req.Channels[i], map[string]any{"payload": ps[i]}})
			}
		} else {
			for _, c := range req.Channels {
				events = append(events, event{c, map[string]any{"payload": p}})
			}
		}
	case req.Event != nil && *req.Event != "":
		d, err := decodeAny(req.Data)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid data: " + err.Error()})
			return
		}
		events = append(events, event{*req.Event, d})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing field: one of channel, channels or event"})
		return
	}
	nsName := req.Namespace
	if nsName == "" {
		nsName = "/"
	}
	nsp := srv.Of(nsName, nil)
	recipients := 0
	nsp.Sockets().Range(func(_ socket.SocketId, s *socket.Socket) bool {
		rooms := s.Rooms()
		if len(req.Rooms) > 0 && !hasAny(rooms.Has, req.Rooms) {
			return true
		}
		if hasAny(rooms.Has, req.Except) {
			return true
		}
		recipients++
		return true
	})
	for _, ev := range events {
		var op *socket.BroadcastOperator
		switch {
		case len(req.Rooms) > 0:
			op = nsp.To(toRooms(req.Rooms)...)
			if len(req.Except) > 0 {
				op = op.Except(toRooms(req.Except)...)
			}
		case len(req.Except) > 0:
			op = nsp.Except(toRooms(req.Except)...)
		}
		var err error
		if op != nil {
			err = op.Emit(ev.name, ev.data)
		} else {
			err = nsp.Emit(ev.name, ev.data)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "success", "events_sent": len(events), "recipients": recipients,
		"duration": fmt.Sprintf("%.3fms", float64(time.Since(start))/1e6),
	})
}

func hasAny(has func(socket.Room) bool, names []string) bool {
	for _, n := range names {
		if has(socket.Room(n)) {
			return true
		}
	}
	return false
}

func toRooms(names []string) []socket.Room {
	out := make([]socket.Room, len(names))
	for i, n := range names {
		out[i] = socket.Room(n)
	}
	return out
}

// readLimited reads at most limit bytes of r, failing beyond.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("request body too large: more than %d bytes", limit)
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
