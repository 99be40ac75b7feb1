package shipcheck

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sioloop/tools/testnet"
)

// imageBudget is the goal for the whole image; distroBase is the
// size gcr.io/distroless/static-debian12 documents ("around 2 MiB").
const (
	imageBudget = 15_000_000
	distroBase  = 2 << 20
)

// buildLikeDocker builds the binary with the Dockerfile's own go build
// line, VERSION=test, into dir.
func buildLikeDocker(t *testing.T, dir string) string {
	t.Helper()
	bl := dockerBuildLine(t, map[string]string{"VERSION": "test", "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH})
	bin := filepath.Join(dir, "sioloop")
	args := slices.Clone(bl.args)
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = bin
		}
	}
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"build"}, args...)...)
	cmd.Dir = repoRoot(t)
	// The Dockerfile's variables; GOFLAGS as in the golang image, with no
	// VCS stamp since .dockerignore keeps .git out of the context.
	cmd.Env = append(append(os.Environ(), bl.env...), "GOFLAGS=-buildvcs=false")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if strings.ContainsAny(a, " \t") {
			quoted[i] = strconv.Quote(a)
		}
	}
	t.Logf("building: %s go build %s", strings.Join(bl.env, " "), strings.Join(quoted, " "))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// checkStatic fails unless bin is a static, stripped ELF executable built
// with the Dockerfile's settings.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s is no ELF file: %v", bin, err)
	}
	defer f.Close()
	// What ldd reports as "not a dynamic executable": no program
	// interpreter to load, no shared library needed.
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a PT_INTERP program header: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("binary needs shared libraries %q (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("binary has a symbol table: -ldflags -s was not applied")
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		t.Errorf("binary has DWARF: -ldflags -w was not applied")
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	got := make(map[string]string)
	for _, s := range bi.Settings {
		got[s.Key] = s.Value
	}
	// With -trimpath the go command leaves -ldflags out of the build info
	// (it may hold paths): GET / checks -X instead.
	if got["CGO_ENABLED"] != "0" || got["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q: want 0 and true", got["CGO_ENABLED"], got["-trimpath"])
	}
}

// healthcheck runs "bin healthcheck" with ADMIN_ADDR=:admin, as the
// Docker HEALTHCHECK does inside the container, and returns its exit code.
func healthcheck(t *testing.T, bin string, admin int) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, "healthcheck")
	cmd.Env = []string{"ADMIN_ADDR=:" + strconv.Itoa(admin)}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("healthcheck: %v", err)
	return -1, ""
}

func TestBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; this test runs the binary it holds")
	}
	bin := buildLikeDocker(t, t.TempDir())
	checkStatic(t, bin)
	info, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("binary: %d bytes (%.1f MiB); with distroless static (~2 MiB) the image is about %.1f MiB",
		info.Size(), float64(info.Size())/(1<<20), float64(info.Size()+distroBase)/(1<<20))
	if info.Size()+distroBase > imageBudget {
		t.Errorf("binary of %d bytes plus the ~2 MiB base exceeds the %d-byte image budget", info.Size(), imageBudget)
	}

	// A bad setting stops the process before it listens: exit code 2 and
	// one line naming the variable, the value and what was expected.
	bad := exec.Command(bin)
	bad.Env = append(os.Environ(), "PING_TIMEOUT=abc")
	out, err := bad.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || strings.Count(string(out), "\n") != 1 ||
		!strings.Contains(string(out), `invalid PING_TIMEOUT "abc": want a positive duration`) {
		t.Errorf("PING_TIMEOUT=abc: %v, output %q; want exit 2 and one line naming the variable", err, out)
	}

	// An Admin UI open to anyone only when asked for: ADMIN_UI alone stops it.
	open := exec.Command(bin)
	open.Env = append(os.Environ(), "ADMIN_UI=true")
	out, err = open.CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || strings.Count(string(out), "\n") != 1 ||
		!strings.Contains(string(out), "invalid ADMIN_UI=true: set ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD_HASH (bcrypt), or ADMIN_UI_NO_AUTH=true") {
		t.Errorf("ADMIN_UI=true without credentials: %v, output %q; want exit 2 and one line", err, out)
	}

	port, admin := testnet.FreePort(t), testnet.FreePort(t)
	for admin == port {
		admin = testnet.FreePort(t)
	}
	var logs bytes.Buffer
	srv := exec.Command(bin)
	// A clean environment: nothing of the caller's (JWT_SECRET, ADMIN_TOKEN…)
	// leaks in. NAMESPACES: the README's namespace example.
	srv.Env = []string{"PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(admin),
		"NAMESPACES=/chat", "EVENT_LOOPS=1", "LOG_LEVEL=warn"}
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once Wait has returned waitErr (and the output
	// copiers are done with logs).
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = srv.Process.Kill() // by PID: the process this test started
			<-exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	})

	adminURL := "http://127.0.0.1:" + strconv.Itoa(admin)
	waitHealthy(t, adminURL+"/health", exited)

	if code, out := healthcheck(t, bin, admin); code != 0 || !strings.HasPrefix(out, "healthy") {
		t.Errorf("healthcheck on a serving binary: exit %d, %q; want 0, healthy", code, out)
	}
	var root struct{ Version string }
	getJSON(t, adminURL+"/", &root)
	if root.Version != "test" {
		t.Errorf("GET / version %q, want \"test\" from %s${VERSION}: the -X path is wrong", root.Version, versionLdflag)
	}

	// Every curl example of README.md, against this server.
	ports := map[string]string{"3000": strconv.Itoa(port), "3001": strconv.Itoa(admin)}
	for _, ex := range readmeCurls(t) {
		t.Run("README.md:"+strconv.Itoa(ex.line), func(t *testing.T) { runCurl(t, ex, ports) })
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("after SIGTERM: %v, want exit status 0", waitErr)
		}
	case <-time.After(defaultConfig(t).ShutdownTimeout + 10*time.Second):
		t.Fatal("no exit within SHUTDOWN_TIMEOUT + 10 s of SIGTERM")
	}
	if code, out := healthcheck(t, bin, admin); code != 1 {
		t.Errorf("healthcheck after the exit: exit %d, %q; want 1", code, out)
	}
}

// waitHealthy polls url until it answers 200, the process exits or 30 s
// pass (a loaded 2-core machine starts processes slowly).
func waitHealthy(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatal("server exited at start")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 within 30 s (last error %v)", url, err)
		}
	}
}

// getJSON decodes the JSON answer of GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// runCurl sends a README curl example, its default ports mapped to the
// test server's, and checks the answer the README states.
func runCurl(t *testing.T, ex curlExample, ports map[string]string) {
	url := ex.url
	for from, to := range ports {
		url = strings.Replace(url, "localhost:"+from, "127.0.0.1:"+to, 1)
	}
	var body io.Reader
	if ex.hasBody {
		body = strings.NewReader(ex.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), ex.method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range ex.header {
		req.Header.Add(h[0], h[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != ex.wantStatus {
		t.Errorf("%s %s: %d %s; README.md says %d", ex.method, ex.url, resp.StatusCode, b, ex.wantStatus)
	}
	if ex.wantEvents >= 0 {
		var r struct {
			EventsSent int `json:"events_sent"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.EventsSent != ex.wantEvents {
			t.Errorf("%s %s: %s; README.md says events_sent %d", ex.method, ex.url, b, ex.wantEvents)
		}
	}
}
