package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/golang-jwt/jwt/v5"
)

// TestRecoveryChecksTheTokenAgain runs the service with JWT_SECRET and
// CONNECTION_STATE_RECOVERY: a client whose transport dropped comes back
// with its pid; an expired token is refused even with that valid pid, a
// valid token of another user does not take the session (it gets a new
// one), and the session's own user gets its socket id back.
func TestRecoveryChecksTheTokenAgain(t *testing.T) {
	const secret = "recovery-test-secret"
	addr, _ := runService(t, "--jwt-secret", secret, "--connection-state-recovery", "1m")
	token := func(sub string, ttl time.Duration) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "exp": time.Now().Add(ttl).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// connect opens a WebSocket session and sends CONNECT with auth; it
	// returns the server's answer and a func that drops the transport.
	connect := func(auth map[string]string) (string, func()) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, br, _, err := ws.Dial(ctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
		if err != nil {
			t.Fatal(err)
		}
		// The open packet may come with the 101 answer, in br.
		var rw io.ReadWriter = conn
		if br != nil {
			rw = struct {
				io.Reader
				io.Writer
			}{br, conn}
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		read := func() string {
			t.Helper()
			for {
				b, err := wsutil.ReadServerText(rw)
				if err != nil {
					t.Fatalf("reading: %v", err)
				}
				if string(b) != "2" {
					return string(b)
				}
				_ = wsutil.WriteClientText(conn, []byte("3"))
			}
		}
		if open := read(); !strings.HasPrefix(open, "0{") {
			t.Fatalf("open packet %q", open)
		}
		a, _ := json.Marshal(auth)
		if err := wsutil.WriteClientText(conn, append([]byte("40"), a...)); err != nil {
			t.Fatal(err)
		}
		return read(), func() { conn.Close() }
	}
	var first struct{ Sid, Pid string }
	answer, drop := connect(map[string]string{"token": token("alice", time.Minute)})
	if err := json.Unmarshal([]byte(strings.TrimPrefix(answer, "40")), &first); err != nil || first.Sid == "" || first.Pid == "" {
		t.Fatalf("CONNECT answer %q: want a sid and a pid", answer)
	}
	drop() // a transport close: the session is kept for the window
	time.Sleep(200 * time.Millisecond)

	answer, drop = connect(map[string]string{"token": token("alice", -time.Minute), "pid": first.Pid})
	drop()
	if !strings.HasPrefix(answer, `44{"message":"unauthorized"`) || !strings.Contains(answer, "expired") {
		t.Fatalf("expired token with a valid pid: %q, want the unauthorized CONNECT_ERROR", answer)
	}
	answer, drop = connect(map[string]string{"token": token("mallory", time.Minute), "pid": first.Pid})
	drop()
	if !strings.HasPrefix(answer, `40{"sid":"`) || strings.Contains(answer, first.Sid) {
		t.Fatalf("another user's token with alice's pid: %q, want a new session", answer)
	}
	answer, drop = connect(map[string]string{"token": token("alice", time.Minute), "pid": first.Pid})
	defer drop()
	if !strings.HasPrefix(answer, `40{"sid":"`+first.Sid+`"`) {
		t.Fatalf("alice again with her pid: %q, want her socket id %s back", answer, first.Sid)
	}
}
