package shipcheck

import (
	"bufio"
	"bytes"
	"io/fs"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sioloop/api"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
	line int // of the instruction's first line
}

// parseDockerfile splits a Dockerfile into instructions. Comment lines,
// parser directives included, are dropped, also inside continuations, as
// Docker does.
func parseDockerfile(b []byte) []instruction {
	var (
		out  []instruction
		cur  strings.Builder
		from int
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			from = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), from})
		cur.Reset()
	}
	return out
}

// dockerfile returns the instructions of the repository's Dockerfile.
func dockerfile(t testing.TB) []instruction {
	t.Helper()
	ins := parseDockerfile(readRepoFile(t, "Dockerfile"))
	if len(ins) == 0 {
		t.Fatal("Dockerfile has no instructions")
	}
	return ins
}

// stages groups instructions by build stage, in order.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

// stripFlags drops the leading --flag=value words of an instruction
// (FROM --platform=…, RUN --mount=…, HEALTHCHECK --interval=…) and returns
// them by name.
func stripFlags(args string) (flags map[string]string, rest string) {
	flags = make(map[string]string)
	for strings.HasPrefix(args, "--") {
		word, after, _ := strings.Cut(args, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		flags[k] = v
		args = strings.TrimSpace(after)
	}
	return flags, args
}

// buildLine is the "go build" command of the Dockerfile, split into words.
type buildLine struct {
	env  []string // NAME=value words before "go"
	args []string // after "go build"
	out  string   // value of -o
}

// dockerBuildLine finds the RUN that runs "go build" and splits it with
// vars as the build arguments.
func dockerBuildLine(t testing.TB, vars map[string]string) buildLine {
	t.Helper()
	var found []buildLine
	for _, in := range dockerfile(t) {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		_, cmd := stripFlags(in.args)
		words, err := splitWords(cmd, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.line, err)
		}
		var bl buildLine
		i := 0
		for ; i < len(words) && strings.Contains(words[i], "=") && isEnvName(strings.SplitN(words[i], "=", 2)[0]); i++ {
			bl.env = append(bl.env, words[i])
		}
		if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
			t.Fatalf("Dockerfile:%d: want [VAR=value…] go build …, one command, got %q", in.line, words)
		}
		bl.args = words[i+2:]
		for j, w := range bl.args {
			if w == "-o" && j+1 < len(bl.args) {
				bl.out = bl.args[j+1]
			}
		}
		found = append(found, bl)
	}
	if len(found) != 1 {
		t.Fatalf("Dockerfile: %d RUN instructions with go build, want 1", len(found))
	}
	return found[0]
}

// ldflags returns the value of -ldflags in args.
func ldflags(args []string) string {
	for i, a := range args {
		if a == "-ldflags" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			return v
		}
	}
	return ""
}

// versionLdflag is the -X flag that sets the version GET / reports.
const versionLdflag = "-X sioloop/api.Version="

func TestDockerfileBuildLine(t *testing.T) {
	bl := dockerBuildLine(t, map[string]string{"VERSION": "v", "TARGETOS": "linux", "TARGETARCH": "amd64"})
	if !contains(bl.env, "CGO_ENABLED=0") {
		t.Errorf("go build env %q: want CGO_ENABLED=0 (a static binary for a base image without libc)", bl.env)
	}
	if !contains(bl.args, "-trimpath") {
		t.Errorf("go build %q: want -trimpath", bl.args)
	}
	ld := strings.Fields(ldflags(bl.args))
	for _, want := range []string{"-s", "-w"} {
		if !contains(ld, want) {
			t.Errorf("-ldflags %q: want %s", ld, want)
		}
	}
	if !strings.Contains(ldflags(bl.args), versionLdflag+"v") {
		t.Errorf("-ldflags %q: want %s${VERSION}", ldflags(bl.args), versionLdflag)
	}
	if last := bl.args[len(bl.args)-1]; last != "." {
		t.Errorf("go build builds %q, want the main package \".\"", last)
	}
	if bl.out == "" {
		t.Fatal("go build has no -o")
	}
	// The final stage copies that very file to the ENTRYPOINT's path.
	st := stages(dockerfile(t))
	final := st[len(st)-1]
	var copied bool
	for _, in := range final {
		if in.cmd == "COPY" {
			flags, rest := stripFlags(in.args)
			if f := strings.Fields(rest); flags["from"] != "" && len(f) == 2 && f[0] == bl.out && f[1] == "/sioloop" {
				copied = true
			}
		}
	}
	if !copied {
		t.Errorf("final stage: want COPY --from=<build stage> %s /sioloop", bl.out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// goVersionRE matches the Go version of a golang image tag: golang:1.26,
// golang:1.26.1-bookworm.
var goVersionRE = regexp.MustCompile(`^golang:(\d+)\.(\d+)`)

func TestDockerfileStages(t *testing.T) {
	st := stages(dockerfile(t))
	if len(st) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a run stage", len(st))
	}
	// Build stage: the official Go image, at least go.mod's Go version,
	// with go.mod and go.sum copied and downloaded before the sources.
	_, from := stripFlags(st[0][0].args)
	m := goVersionRE.FindStringSubmatch(strings.Fields(from)[0])
	if m == nil {
		t.Fatalf("build stage FROM %q: want the official golang image", from)
	}
	goVersion := goModVersion(t)
	// golang:1.26 is the newest 1.26.x, which satisfies any "go 1.26.N".
	if img := m[1] + "." + m[2]; compareVersions(img, majorMinor(goVersion)) < 0 {
		t.Errorf("build image Go %s is older than go.mod's go %s", img, goVersion)
	}
	var modLayer, download, sources int
	for i, in := range st[0] {
		switch {
		case in.cmd == "COPY" && strings.Fields(in.args)[0] == "go.mod" && strings.Contains(in.args, "go.sum"):
			modLayer = i
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			download = i
		case in.cmd == "COPY" && strings.HasPrefix(in.args, ". "):
			sources = i
		}
	}
	if !(0 < modLayer && modLayer < download && download < sources) {
		t.Errorf("build stage: want COPY go.mod go.sum, RUN go mod download, then COPY . (module cache layer), got positions %d, %d, %d",
			modLayer, download, sources)
	}

	// Run stage: a static base, the non-root user, the two ports, the
	// healthcheck subcommand.
	final := st[len(st)-1]
	_, base := stripFlags(final[0].args)
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("run stage FROM %q: want gcr.io/distroless/static…:nonroot or scratch", base)
	}
	cfg := defaultConfig(t)
	ap, err := adminPort(cfg.AdminAddr)
	if err != nil {
		t.Fatal(err)
	}
	var expose []string
	var user, entrypoint, health string
	for _, in := range final {
		switch in.cmd {
		case "EXPOSE":
			expose = append(expose, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "HEALTHCHECK":
			health = in.args
		}
	}
	wantPorts := []string{strconv.Itoa(cfg.Port), strconv.Itoa(ap)}
	if strings.Join(expose, " ") != strings.Join(wantPorts, " ") {
		t.Errorf("EXPOSE %q, want %q (defaults of PORT and ADMIN_ADDR)", expose, wantPorts)
	}
	if uid, err := dockerUID(user); err != nil || uid == 0 {
		t.Errorf("USER %q: want a numeric non-root uid[:gid] (Kubernetes runAsNonRoot checks it): %v", user, err)
	}
	if entrypoint != `["/sioloop"]` {
		t.Errorf(`ENTRYPOINT %s, want ["/sioloop"] (exec form)`, entrypoint)
	}
	flags, cmd := stripFlags(health)
	if cmd != `CMD ["/sioloop", "healthcheck"]` && cmd != `CMD ["/sioloop","healthcheck"]` {
		t.Errorf(`HEALTHCHECK %s: want CMD ["/sioloop", "healthcheck"] (exec form: no shell in the image)`, cmd)
	}
	if d, err := time.ParseDuration(flags["timeout"]); err != nil || d <= api.HealthcheckTimeout {
		t.Errorf("HEALTHCHECK --timeout=%s: want a duration above api.HealthcheckTimeout (%s), the subcommand's own bound",
			flags["timeout"], api.HealthcheckTimeout)
	}
}

// goModVersion returns the version of go.mod's go directive.
func goModVersion(t testing.TB) string {
	t.Helper()
	for _, line := range strings.Split(string(readRepoFile(t, "go.mod")), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// majorMinor cuts "1.26.3" to "1.26".
func majorMinor(v string) string {
	if p := strings.SplitN(v, ".", 3); len(p) == 3 {
		return p[0] + "." + p[1]
	}
	return v
}

// dockerUID returns the uid of a USER value "uid" or "uid:gid".
func dockerUID(user string) (int, error) {
	u, _, _ := strings.Cut(user, ":")
	return strconv.Atoi(u)
}

// compareVersions compares dotted decimal versions ("1.26" < "1.26.1").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ---------------------------------------------------------------- .dockerignore

// ignoreRule is one .dockerignore line, compiled.
type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

// parseDockerignore compiles .dockerignore patterns with the rules of
// Docker's pattern matcher: paths relative to the context root, '*' and
// '?' within one path element, "**" across any number of them, "!"
// re-includes, the last matching line wins, and a pattern that matches a
// directory excludes everything below it.
func parseDockerignore(b []byte) ([]ignoreRule, error) {
	var rules []ignoreRule
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		var r ignoreRule
		if line[0] == '!' {
			r.negate, line = true, strings.TrimSpace(line[1:])
		}
		line = strings.TrimPrefix(path.Clean(line), "/")
		var sb strings.Builder
		sb.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				sb.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				sb.WriteString(".*")
				i++
			case c == '*':
				sb.WriteString("[^/]*")
			case c == '?':
				sb.WriteString("[^/]")
			default:
				sb.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		sb.WriteString("$")
		re, err := regexp.Compile(sb.String())
		if err != nil {
			return nil, err
		}
		r.re = re
		rules = append(rules, r)
	}
	return rules, nil
}

// ignored reports whether the slash-separated path rel is left out of the
// build context.
func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		// The path itself or any of its parent directories.
		for p := rel; ; {
			if r.re.MatchString(p) {
				out = !r.negate
				break
			}
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return out
}

func TestDockerignoreMatcher(t *testing.T) {
	rules, err := parseDockerignore([]byte("# c\n.git\n**/node_modules\n**/*.test\ntmp\n/bin\n*.md\n!KEEP.md\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := func(p string, want bool) {
		t.Helper()
		if got := ignored(rules, p); got != want {
			t.Errorf("ignored(%q) = %v, want %v", p, got, want)
		}
	}
	f(".git/HEAD", true)
	f("a/.git", false)
	f("node_modules/x/package.json", true)
	f("tools/interop/node_modules/x/package.json", true)
	f("loop.test", true)
	f("protocol/http1/http1.test", true)
	f("tmp/x", true)
	f("loop/tmp/x", false)
	f("bin", true)
	f("README.md", true)
	f("docs/README.md", false)
	f("KEEP.md", false)
	f("main.go", false)

	// An allow-list: everything out, Go files back in, some dirs out again.
	rules, err = parseDockerignore([]byte("*\n!go.mod\n!**/*.go\n**/*_test.go\ntools\n"))
	if err != nil {
		t.Fatal(err)
	}
	f("go.mod", false)
	f("main.go", false)
	f("protocol/wsframe/frame.go", false)
	f("protocol/wsframe/frame_test.go", true)
	f("protocol/wsframe/testdata/x", true)
	f("tools/loadtest/main.go", true)
	f("loadtest", true)
	f(".git/HEAD", true)
}

// buildInputs lists, relative to the root, the files "go build ." reads:
// go.mod, go.sum and the Go and embedded files of every package of the
// module that the binary imports, for the Dockerfile's GOOS and CGO.
func buildInputs(t testing.TB, root string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, ".")
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rel, err := filepath.Rel(root, f[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency from the module cache
		}
		for _, name := range f[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(rel, name)))
		}
	}
	return files
}

func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	root := repoRoot(t)
	rules, err := parseDockerignore(readRepoFile(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := buildInputs(t, root)
	if len(inputs) < 10 {
		t.Fatalf("go list found only %q: want the binary's packages", inputs)
	}
	for _, f := range inputs {
		if ignored(rules, f) {
			t.Errorf(".dockerignore leaves out %s, which the binary is built from", f)
		}
	}
	// What must stay out: VCS, Node packages, test and bench output.
	for _, p := range []string{".git/HEAD", "tools/interop/node_modules/ws/package.json",
		"tools/peers/node/node_modules/socket.io/package.json", "loop.test", "protocol/http1/http1.test",
		"cpu.out", "bench-results/latest.md", "sioloop"} {
		if !ignored(rules, p) {
			t.Errorf(".dockerignore sends %s to the builder", p)
		}
	}
}

func TestDockerBuildContextSize(t *testing.T) {
	root := repoRoot(t)
	rules, err := parseDockerignore(readRepoFile(t, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var n, size int64
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		// No SkipDir on an ignored directory: a "!" line may bring files
		// below it back, and the tree is small.
		if d.Type().IsRegular() && !ignored(rules, filepath.ToSlash(rel)) {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n++
			size += info.Size()
			if info.Size() > 1<<20 {
				t.Errorf("docker build context: %s is %d bytes", rel, info.Size())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker build context: %d files, %d bytes", n, size)
	// The sources are well under a megabyte or two; more means something
	// large (a binary, output, a vendored tree) slipped in.
	const limit = 4 << 20
	if size > limit {
		t.Errorf("docker build context is %d bytes, over %d: extend .dockerignore", size, limit)
	}
}
