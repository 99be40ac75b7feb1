package interop

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"sioloop/loop/cluster/redistest"
	"sioloop/tools/testnet"
)

// adminHash is the bcrypt hash (cost 4, for speed) of "secret".
const adminHash = "$2a$04$r0RDA/FXbBPpFLzeUemsUO.EdR4aH6cbk8MmhQv7TWc3g2rFBRQ4a"

// TestAdminUI runs the official Socket.IO Admin UI (the page of the npm
// package @socket.io/admin-ui 0.5.1, ui/dist, installed in
// tools/peers/node) in headless Chromium against a sioloop in development
// mode with 20 socket.io-client clients in 4 rooms, and drives it through
// the Chrome DevTools protocol: wrong credentials are refused, the right
// ones log in, the page shows the server, the 20 sockets and their rooms,
// and the disconnect button of a socket's row disconnects that client. The
// screenshot goes to $ARTIFACTS_DIR (or the test's temporary directory).
// With INTEROP_TARGET=node the same test runs against Node's instrument()
// (tools/peers/node), the reference.
func TestAdminUI(t *testing.T) { runAdminUI(t, 1) }

// TestAdminUICluster is TestAdminUI with two replicas on one Redis, the
// page on the first and the clients on both: the page shows both servers
// and all 20 sockets, and disconnects a client of the second replica.
func TestAdminUICluster(t *testing.T) { runAdminUI(t, 2) }

func runAdminUI(t *testing.T, replicas int) {
	h := getHarness(t)
	if h.target == targetNode && replicas > 1 {
		// Node's instrument() names a server by its hostname: two replicas
		// on one host are one row of the Servers page.
		t.Skip("two Node replicas on one host share their serverId (the hostname)")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil && os.Getenv("NEED_CHROMIUM") == "0" {
		t.Skip("chromium is not installed and NEED_CHROMIUM=0")
	}
	if err != nil {
		t.Fatalf("chromium is not installed: run ./scripts/test.sh (it installs Debian's chromium package): %v", err)
	}
	dist := filepath.Join(h.root, "tools", "peers", "node", "node_modules", "@socket.io", "admin-ui", "ui", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("the Admin UI page is missing: run npm ci in tools/peers/node: %v", err)
	}

	pageLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + pageLn.Addr().String()
	settings := []string{"ADMIN_UI=true", "ADMIN_UI_USERNAME=admin", "ADMIN_UI_PASSWORD_HASH=" + adminHash, "ADMIN_UI_MODE=development"}
	if replicas > 1 {
		settings = append(settings, "REDIS_URL="+redistest.Start(t).URL)
	}
	var urls []string
	for i := range replicas {
		s := h.startServer(t, "sio-adminui-"+strconv.Itoa(i), serverConfig{app: appSocketIO, corsOrigins: origin, settings: settings})
		urls = append(urls, s.url)
	}
	pageServer := urls[0]
	page := &http.Server{Handler: http.FileServer(http.Dir(dist)), ReadHeaderTimeout: 5 * time.Second}
	go page.Serve(pageLn) //nolint:errcheck // ends with Close below
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// The 20 clients.
	clients := exec.CommandContext(ctx, h.node, filepath.Join(h.dir, "adminui.js"), "--url", strings.Join(urls, ","), "--count", "20", "--timeout", "110")
	out, err := clients.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	clients.Stderr = os.Stderr
	if err := clients.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = clients.Process.Kill(); _ = clients.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var byID map[string]string // socket id → server URL
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "ready ") || json.Unmarshal([]byte(l[len("ready "):]), &byID) != nil || len(byID) != 20 {
			t.Fatalf("clients: %q", l)
		}
	case <-ctx.Done():
		t.Fatal("the 20 clients did not connect")
	}

	// Chromium, with the DevTools protocol on a port of its own.
	debugPort := testnet.FreePort(t)
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--window-size=1400,1000", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port="+strconv.Itoa(debugPort),
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
	b, err := dialDevTools(ctx, debugPort, origin)
	if err != nil {
		t.Fatalf("DevTools: %v\n--- chromium stderr ---\n%s", err, tail(stderr.String(), 4000))
	}
	defer b.conn.Close()

	// The page is loaded once an evaluation survives (the first may run in
	// the document that the navigation replaces).
	for i := 0; ; i++ {
		v, err := b.eval(`(async () => { await waitFor(() => document.readyState === "complete" && document.querySelector(".v-application")); await sleep(500); return location.href; })()`)
		if err == nil {
			t.Logf("page loaded: %s", v)
			break
		}
		if i == 20 {
			t.Fatalf("the page did not load: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Wrong credentials, then the right ones.
	login := func(password string, wantError bool) string {
		t.Helper()
		js := `(async () => {
  const inputs = await waitFor(() => { const i = document.querySelectorAll(".v-dialog--active input"); return i.length >= 3 && i; });
  const set = (el, v) => { el.value = v; el.dispatchEvent(new Event("input", { bubbles: true })); };
  set(inputs[0], ` + strconv.Quote(pageServer) + `);
  set(inputs[1], "admin");
  set(inputs[2], ` + strconv.Quote(password) + `);
  await sleep(200);
  document.querySelector(".v-dialog--active button[type=submit]").click();
  return await waitFor(() => {
    const err = document.querySelector(".v-dialog--active .red--text");
    if (` + strconv.FormatBool(wantError) + ` && err && err.textContent.trim()) return "error: " + err.textContent.trim();
    if (!document.querySelector(".v-dialog--active")) return "logged in";
  });
})()`
		v, err := b.eval(js)
		if err != nil {
			t.Fatalf("login with %q: %v", password, err)
		}
		return v
	}
	if got := login("wrong", true); !strings.Contains(strings.ToLower(got), "invalid credentials") {
		t.Fatalf("wrong password: the page says %q, want invalid credentials", got)
	}
	if got := login("secret", false); got != "logged in" {
		t.Fatalf("right password: the page says %q", got)
	}

	// The server, the 20 sockets, their rooms.
	host, _ := os.Hostname()
	// The server id is the hostname, "#<adapter uid>" appended in a cluster.
	servers, err := b.eval(`(async () => { location.hash = "#/servers/";
  return await waitFor(() => { const rows = [...document.querySelectorAll("tbody tr")].filter((r) => r.querySelector("td") && r.querySelector("td").textContent.trim().startsWith(` + strconv.Quote(host) + `));
    return rows.length === ` + strconv.Itoa(replicas) + ` && rows.map((r) => r.textContent).join(" / "); }); })()`)
	if err != nil {
		t.Fatalf("servers page: not %d rows for the servers (hostname %s): %v", replicas, host, err)
	}
	t.Logf("servers page: %s", servers)
	sockets, err := b.eval(`(async () => { location.hash = "#/sockets/";
  return await waitFor(() => { const f = document.querySelector(".v-data-footer__pagination"); return f && f.textContent.includes("of 20") && f.textContent.trim(); }); })()`)
	if err != nil {
		t.Fatalf("sockets page: %v", err)
	}
	t.Logf("sockets page: %s", sockets)
	rooms, err := b.eval(`(async () => { location.hash = "#/rooms/";
  return await waitFor(() => { const t = document.querySelector("tbody") && document.querySelector("tbody").textContent;
    return t && ["room-0", "room-1", "room-2", "room-3"].every((r) => t.includes(r)) && t; }); })()`)
	if err != nil {
		t.Fatalf("rooms page: %v", err)
	}
	t.Logf("rooms page: %.200s", rooms)

	// A disconnect clicked in the page.
	// The victim is a client of the last replica: with two, the page's
	// click crosses the cluster.
	var ids []string
	for id, u := range byID {
		if u == urls[len(urls)-1] {
			ids = append(ids, id)
		}
	}
	idsJSON, _ := json.Marshal(ids)
	victim, err := b.eval(`(async () => { location.hash = "#/sockets/"; const ids = ` + string(idsJSON) + `;
  const row = await waitFor(() => [...document.querySelectorAll("tbody tr")].find((r) => r.querySelector("td") && ids.includes(r.querySelector("td").textContent.trim()) && r.querySelector("button")));
  const id = row.querySelector("td").textContent.trim();
  row.querySelector("button").click();
  return id; })()`)
	if err != nil {
		t.Fatalf("disconnect click: %v", err)
	}
	deadline := time.After(15 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the clients exited")
			}
			if l == "disconnect "+victim+" io server disconnect" {
				done = true
			} else {
				t.Logf("clients: %s", l)
			}
		case <-deadline:
			t.Fatalf("client %s was not disconnected by the page's click", victim)
		}
	}
	// The click reaches the row too, which opens the socket's page.
	after, err := b.eval(`(async () => { location.hash = "#/sockets/"; await sleep(500); return await waitFor(() => { const f = document.querySelector(".v-data-footer__pagination"); return f && f.textContent.includes("of 19") && f.textContent.trim(); }); })()`)
	if err != nil {
		dbg, _ := b.eval(`(async () => { const st = document.querySelector("#app").__vue__.$store.state.main; return location.hash + " | " + [...document.querySelectorAll(".v-data-footer__pagination")].map((f) => f.textContent).join(",") + " | " + st.namespaces.map((n) => n.name + ":" + n.sockets.length).join(","); })()`)
		t.Errorf("the page still lists the disconnected socket (%s): %v", dbg, err)
	}
	t.Logf("sockets page after the disconnect: %s", after)

	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, filepath.Join(dir, "adminui-sockets-"+strconv.Itoa(replicas)+".png"))
	if _, err := b.eval(`(async () => { location.hash = "#/"; await sleep(2500); return "ok"; })()`); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, filepath.Join(dir, "adminui-dashboard-"+strconv.Itoa(replicas)+".png"))
}

// screenshot saves the page as a PNG at path.
func (d *devTools) screenshot(t *testing.T, path string) {
	t.Helper()
	shot, err := d.call("Page.captureScreenshot", map[string]any{"format": "png"})
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	var img struct{ Data string }
	_ = json.Unmarshal(shot, &img)
	png, err := base64.StdEncoding.DecodeString(img.Data)
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// devTools is a connection to one page of Chromium over the Chrome
// DevTools protocol: JSON commands on a WebSocket.
type devTools struct {
	conn net.Conn
	r    io.Reader
	id   int
}

// pageHelpers are defined in the page before each evaluation.
const pageHelpers = `window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
window.waitFor = async (fn, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + fn.toString().slice(0, 200));
    await sleep(100);
  }
};`

// dialDevTools waits for Chromium's page target at origin and connects.
func dialDevTools(ctx context.Context, port int, origin string) (*devTools, error) {
	var wsURL string
	for wsURL == "" {
		if ctx.Err() != nil {
			return nil, errors.New("no page target")
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/json/list")
		if err == nil {
			var targets []struct{ Type, URL, WebSocketDebuggerURL string }
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && strings.HasPrefix(tg.URL, origin) {
					wsURL = tg.WebSocketDebuggerURL
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn, br, _, err := ws.Dial(ctx, wsURL)
	if err != nil {
		return nil, err
	}
	d := &devTools{conn: conn, r: conn}
	if br != nil {
		d.r = br
	}
	return d, nil
}

// call sends one command and returns its result.
func (d *devTools) call(method string, params any) (json.RawMessage, error) {
	d.id++
	msg, _ := json.Marshal(map[string]any{"id": d.id, "method": method, "params": params})
	_ = d.conn.SetDeadline(time.Now().Add(60 * time.Second))
	if err := wsutil.WriteClientText(d.conn, msg); err != nil {
		return nil, err
	}
	for {
		b, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{d.r, d.conn})
		if err != nil {
			return nil, err
		}
		var m struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if json.Unmarshal(b, &m) != nil || m.ID != d.id {
			continue // an event, or the answer to an earlier command
		}
		if m.Error != nil {
			return nil, errors.New(m.Error.Message)
		}
		return m.Result, nil
	}
}

// eval runs an expression (a promise is awaited) in the page, with
// pageHelpers defined, and returns its value as a string.
func (d *devTools) eval(expr string) (string, error) {
	res, err := d.call("Runtime.evaluate", map[string]any{"expression": pageHelpers + "\n" + expr,
		"awaitPromise": true, "returnByValue": true})
	if err != nil {
		return "", err
	}
	var r struct {
		Result struct {
			Value any
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return "", err
	}
	if e := r.ExceptionDetails; e != nil {
		return "", fmt.Errorf("%s %s", e.Text, e.Exception.Description)
	}
	return fmt.Sprint(r.Result.Value), nil
}
