package shipcheck

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the configuration table of README.md from the settings table")

// The configuration table of README.md lies between these two lines.
const (
	tableBegin = "<!-- configuration table: generated from the settings table (config.go) by go test ./tools/shipcheck -run TestREADMEConfigTable -update -->"
	tableEnd   = "<!-- end of the configuration table -->"
)

// configTable renders the settings table as the README's markdown table.
func configTable(settings []setting) string {
	// '|' would end the cell and '*' could start emphasis.
	cell := strings.NewReplacer("|", `\|`, "*", `\*`).Replace
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		def := "(none)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s |\n", s.Env, s.Flag, def, cell(s.Usage))
	}
	return b.String()
}

func TestConfigTable(t *testing.T) {
	got := configTable([]setting{
		{Env: "PORT", Flag: "port", Default: "3000", Usage: "client port"},
		{Env: "ADMIN_TOKEN", Flag: "admin-token", Usage: "a | b, '*' c*"},
	})
	want := "| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n" +
		"| `PORT` | `--port` | `3000` | client port |\n" +
		"| `ADMIN_TOKEN` | `--admin-token` | (none) | a \\| b, '\\*' c\\* |\n"
	if got != want {
		t.Errorf("configTable:\n%s\nwant:\n%s", got, want)
	}
}

// readme returns README.md.
func readme(t testing.TB) string {
	t.Helper()
	return string(readRepoFile(t, "README.md"))
}

func TestREADMEConfigTable(t *testing.T) {
	text := readme(t)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md: no configuration table between\n%s\nand\n%s", tableBegin, tableEnd)
	}
	settings, err := serverSettings(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := configTable(settings)
	got := text[i+len(tableBegin)+1 : j]
	if got == want {
		return
	}
	if *update {
		text = text[:i+len(tableBegin)+1] + want + text[j:]
		if err := os.WriteFile(filepath.Join(repoRoot(t), "README.md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("README.md: configuration table rewritten from the settings table")
		return
	}
	t.Errorf("README.md: the configuration table is not the settings table; run\n\tgo test ./tools/shipcheck -run TestREADMEConfigTable -update\nwant:\n%s", want)
}

// codeBlock is one fenced code block of a markdown text.
type codeBlock struct {
	lang string
	line int // of its first content line
	text string
}

// codeBlocks returns the fenced (```) code blocks of md.
func codeBlocks(md string) []codeBlock {
	var (
		out []codeBlock
		cur *codeBlock
		sb  strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if cur == nil {
				cur = &codeBlock{lang: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "```")), line: n + 1}
				sb.Reset()
			} else {
				cur.text = sb.String()
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			sb.WriteString(line)
			sb.WriteByte('\n')
		}
	}
	return out
}

func TestREADMEFirstCommands(t *testing.T) {
	blocks := codeBlocks(readme(t))
	if len(blocks) == 0 {
		t.Fatal("README.md has no code block")
	}
	lines := strings.Split(blocks[0].text, "\n")
	for i, want := range []string{"go run .", "./scripts/test.sh"} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], want+" ") && lines[i] != want {
			t.Errorf("README.md: line %d of the first code block is %q, want the command %q", i+1, lines[min(i, len(lines)-1)], want)
		}
	}
}

var (
	// underscoreNameRE matches upper-case names with an underscore, the
	// shape of most settings: ADMIN_ADDR, JWT_SECRET.
	underscoreNameRE = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b`)
	// assignmentRE matches NAME= in examples: PORT=3000 go run .
	assignmentRE = regexp.MustCompile(`\b([A-Z][A-Z0-9_]*)=`)
	// localPortRE matches a loopback URL's port.
	localPortRE = regexp.MustCompile(`(?:localhost|127\.0\.0\.1):(\d+)`)
)

func TestREADMEEnvNames(t *testing.T) {
	text := readme(t)
	settings := settingsByEnv(t)
	names := make(map[string]bool)
	for _, m := range underscoreNameRE.FindAllString(text, -1) {
		names[m] = true
	}
	for _, m := range assignmentRE.FindAllStringSubmatch(text, -1) {
		names[m[1]] = true
	}
	for name := range names {
		_, isSetting := settings[name]
		if !isSetting && runtimeEnv[name] == "" && comingEnv[name] == "" && readmeOtherNames[name] == "" {
			t.Errorf("README.md names %s, which is no setting of the settings table; if it is another kind of name, list it in readmeOtherNames (names_test.go)", name)
		}
	}
	for name, why := range readmeOtherNames {
		if !names[name] {
			t.Errorf("readmeOtherNames lists %s (%s), which README.md no longer mentions: delete it", name, why)
		}
	}
}

func TestREADMELocalPorts(t *testing.T) {
	cfg := defaultConfig(t)
	admin, err := adminPort(cfg.AdminAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range localPortRE.FindAllStringSubmatch(readme(t), -1) {
		if p, _ := strconv.Atoi(m[1]); p != cfg.Port && p != admin {
			t.Errorf("README.md: %s is neither PORT (%d) nor the admin port (%d)", m[0], cfg.Port, admin)
		}
	}
}

// curlExample is one curl command of README.md with the answer the README
// says it gets.
type curlExample struct {
	line       int
	method     string
	url        string
	header     [][2]string
	body       string
	hasBody    bool
	wantStatus int
	wantEvents int // "events_sent":N in the stated answer; -1 when none
}

// expectRE matches the comment line under a curl example that states its
// answer: "# → 200 {…}".
var expectRE = regexp.MustCompile(`^#\s*→\s*(\d{3})\b(.*)$`)

// eventsSentRE finds "events_sent":N in a stated answer.
var eventsSentRE = regexp.MustCompile(`"events_sent":(\d+)`)

// readmeCurls parses every curl command in the sh code blocks of README.md.
// Each must be followed by a "# → <status> …" line.
func readmeCurls(t testing.TB) []curlExample {
	t.Helper()
	var out []curlExample
	for _, b := range codeBlocks(readme(t)) {
		if b.lang != "sh" {
			continue
		}
		lines := strings.Split(b.text, "\n")
		for i := 0; i < len(lines); i++ {
			if !strings.HasPrefix(lines[i], "curl ") {
				continue
			}
			start := i
			cmd := lines[i]
			for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
				i++
				cmd = strings.TrimSuffix(cmd, "\\") + " " + lines[i]
			}
			ex, err := parseCurl(cmd)
			ex.line = b.line + start
			if err != nil {
				t.Errorf("README.md:%d: %v", ex.line, err)
				continue
			}
			m := []string(nil)
			if i+1 < len(lines) {
				m = expectRE.FindStringSubmatch(lines[i+1])
			}
			if m == nil {
				t.Errorf("README.md:%d: curl example without a \"# → <status> <body>\" line under it", ex.line)
				continue
			}
			ex.wantStatus, _ = strconv.Atoi(m[1])
			ex.wantEvents = -1
			if e := eventsSentRE.FindStringSubmatch(m[2]); e != nil {
				ex.wantEvents, _ = strconv.Atoi(e[1])
			}
			out = append(out, ex)
		}
	}
	return out
}

// parseCurl reads the curl options README examples use.
func parseCurl(cmd string) (curlExample, error) {
	ex := curlExample{method: "GET"}
	// A README example may show the token of a server that has one; the
	// test server has none and ignores it.
	words, err := splitWords(cmd, func(k string) (string, bool) { return "token", k == "ADMIN_TOKEN" })
	if err != nil {
		return ex, err
	}
	explicitMethod := false
	for i := 1; i < len(words); i++ {
		w := words[i]
		arg := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("curl %s wants a value", w)
			}
			i++
			return words[i], nil
		}
		switch w {
		case "-s", "-S", "-sS", "-i", "--silent", "--show-error", "--fail-with-body":
		case "-X", "--request":
			if ex.method, err = arg(); err != nil {
				return ex, err
			}
			explicitMethod = true
		case "-H", "--header":
			h, err := arg()
			if err != nil {
				return ex, err
			}
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				return ex, fmt.Errorf("curl header %q: want Name: value", h)
			}
			ex.header = append(ex.header, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		case "-d", "--data", "--data-raw":
			if ex.body, err = arg(); err != nil {
				return ex, err
			}
			if strings.HasPrefix(ex.body, "@") && w != "--data-raw" {
				return ex, fmt.Errorf("curl %s @file: the test cannot follow it; inline the body", w)
			}
			ex.hasBody = true
		default:
			if strings.HasPrefix(w, "-") {
				return ex, fmt.Errorf("curl option %s: not understood by the README test (readme_test.go parseCurl)", w)
			}
			if ex.url != "" {
				return ex, fmt.Errorf("curl with two URLs, %s and %s", ex.url, w)
			}
			ex.url = w
		}
	}
	if ex.url == "" {
		return ex, fmt.Errorf("curl without a URL: %q", cmd)
	}
	if ex.hasBody {
		if !explicitMethod {
			ex.method = "POST"
		}
		// curl -d sends this type unless a header says otherwise.
		if !slices.ContainsFunc(ex.header, func(h [2]string) bool { return strings.EqualFold(h[0], "Content-Type") }) {
			ex.header = append(ex.header, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
		}
	}
	return ex, nil
}

func TestParseCurl(t *testing.T) {
	ex, err := parseCurl(`curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"a":1}' http://localhost:3001/x`)
	if err != nil {
		t.Fatal(err)
	}
	if ex.method != "POST" || ex.url != "http://localhost:3001/x" || ex.body != `{"a":1}` ||
		fmt.Sprint(ex.header) != "[[Content-Type application/json] [Authorization Bearer token]]" {
		t.Errorf("parseCurl = %+v", ex)
	}
	ex, err = parseCurl(`curl -d 'x' http://localhost:3001/y`)
	if err != nil || ex.method != "POST" || fmt.Sprint(ex.header) != "[[Content-Type application/x-www-form-urlencoded]]" {
		t.Errorf("parseCurl -d without a type = %+v, %v", ex, err)
	}
	ex, err = parseCurl(`curl -X DELETE http://localhost:3001/z`)
	if err != nil || ex.method != "DELETE" || ex.hasBody {
		t.Errorf("parseCurl -X = %+v, %v", ex, err)
	}
	for _, bad := range []string{`curl -d @big.json http://a/`, `curl --json {} http://a/`, `curl -s`, `curl http://a/ http://b/`} {
		if _, err := parseCurl(bad); err == nil {
			t.Errorf("parseCurl(%q): want an error", bad)
		}
	}
}

func TestREADMECurlExamples(t *testing.T) {
	exs := readmeCurls(t)
	// One per /SendWebsocketEvent form at least, and the read routes.
	if len(exs) < 8 {
		t.Errorf("README.md: %d curl examples, want every route and every /SendWebsocketEvent form", len(exs))
	}
	seen := make(map[string]bool)
	for _, ex := range exs {
		for _, field := range []string{`"channel"`, `"channels"`, `"event"`, `"rooms"`, `"except"`, `"to"`, `"namespace"`, `"volatile"`} {
			if strings.Contains(ex.body, field) {
				seen[field] = true
			}
		}
		if strings.Contains(ex.body, `"payload":[`) {
			seen["payload array"] = true
		}
	}
	for _, want := range []string{`"channel"`, `"channels"`, "payload array", `"event"`, `"rooms"`, `"except"`, `"to"`, `"namespace"`, `"volatile"`} {
		if !seen[want] {
			t.Errorf("README.md: no curl example of /SendWebsocketEvent with %s", want)
		}
	}
}
