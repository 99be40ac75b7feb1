package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browserPage is the page headless Chromium loads from its own origin: the
// official socket.io-client browser bundle talks to sioloop cross-origin,
// over polling only, with the polling → WebSocket upgrade, and over
// WebSocket only, then tries a server whose CORS allow-list does not name
// the page's origin. It reports each line to /result.
const browserPage = `<!doctype html>
<meta charset="utf-8">
<title>sioloop browser check</title>
<script src="/socket.io.min.js"></script>
<script>
const ALLOWED = %q, REFUSED = %q;
const report = (line) => fetch("/result", { method: "POST", body: line });
function connected(s) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no connect in 5s")), 5000);
    s.on("connect", () => { clearTimeout(t); resolve(); });
    s.on("connect_error", (e) => { clearTimeout(t); reject(e); });
  });
}
async function check(name, opts) {
  const s = io(ALLOWED, Object.assign({ forceNew: true, reconnection: false }, opts));
  try {
    await connected(s);
    const ack = await s.timeout(5000).emitWithAck("message", { n: 1, text: "€ from " + name });
    if (!ack || ack.n !== 1 || ack.text !== "€ from " + name) throw new Error("ack " + JSON.stringify(ack));
    if (name === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await new Promise((resolve, reject) => {
        s.io.engine.once("upgrade", resolve);
        setTimeout(() => reject(new Error("no upgrade in 5s")), 5000);
      });
    }
    const echo = new Promise((resolve) => s.once("message", resolve));
    s.emit("message", { n: 2 });
    const got = await echo;
    if (!got || got.n !== 2) throw new Error("echo " + JSON.stringify(got));
    return "ok " + name + " " + s.io.engine.transport.name;
  } finally {
    s.close();
  }
}
(async () => {
  const lines = [];
  try {
    lines.push(await check("polling", { transports: ["polling"] }));
    lines.push(await check("upgrade", {}));
    lines.push(await check("websocket", { transports: ["websocket"] }));
    const s = io(REFUSED, { forceNew: true, reconnection: false, transports: ["polling"] });
    try {
      await connected(s);
      lines.push("FAIL: connected to a server whose CORS allow-list does not name this origin");
    } catch (e) {
      lines.push("ok refused " + e.message);
    } finally {
      s.close();
    }
  } catch (e) {
    const ctx = e.context || {};
    lines.push("FAIL: " + e.message + " (" + (e.description && (e.description.message || e.description)) +
      ", status " + ctx.status + ", " + (ctx.responseText || "") + ")");
  }
  await report(lines.join("\n"));
})();
</script>
`

// TestBrowser drives sioloop from a real headless Chromium (Debian's
// chromium package, installed by scripts/test.sh): the official
// socket.io-client bundle in a page of another origin, where CORS decides
// whether polling works at all.
func TestBrowser(t *testing.T) {
	h := getHarness(t)
	if h.target != targetSioloop {
		t.Skip("the browser check is about sioloop's CORS_ORIGINS")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil && os.Getenv("NEED_CHROMIUM") == "0" {
		t.Skip("chromium is not installed and NEED_CHROMIUM=0")
	}
	if err != nil {
		t.Fatalf("chromium is not installed: run ./scripts/test.sh (it installs Debian's chromium package): %v", err)
	}
	pageLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + pageLn.Addr().String()
	allowed := h.startServer(t, "sio-cors", serverConfig{app: appSocketIO, corsOrigins: origin})
	refused := h.startServer(t, "sio-cors-other", serverConfig{app: appSocketIO, corsOrigins: "https://other.example"})

	bundle := filepath.Join(h.dir, "node_modules", "socket.io-client", "dist", "socket.io.min.js")
	results := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case results <- string(b):
		default:
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, browserPage, allowed.url, refused.url)
	})
	page := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go page.Serve(pageLn) //nolint:errcheck // ends with Close below
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The flags keep Chromium off the network it cannot reach here and
	// out of the machine's profile.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), origin+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	var got string
	select {
	case got = <-results:
	case <-ctx.Done():
		t.Fatalf("no result from the page within 60s\n--- chromium stderr ---\n%s", tail(stderr.String(), 4000))
	}
	for _, line := range strings.Split(got, "\n") {
		t.Log("browser: " + line)
	}
	for _, want := range []string{"ok polling polling", "ok upgrade websocket", "ok websocket websocket", "ok refused"} {
		if !strings.Contains(got, want) {
			t.Errorf("the page did not report %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "FAIL") {
		t.Errorf("the page failed:\n%s", got)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
