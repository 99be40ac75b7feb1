package shipcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot returns the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(b, []byte("module sioloop\n")) {
		t.Fatalf("%s is not the sioloop module root (go.mod: %v)", root, err)
	}
	return root
}

// readRepoFile returns the content of a file given relative to the root.
func readRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setting is one entry of the server's settings table, as "sioloop
// config" prints it (package main cannot be imported).
type setting struct {
	Env     string `json:"env"`
	Flag    string `json:"flag"`
	Default string `json:"default"`
	Usage   string `json:"usage"`
	Value   string `json:"value"`
}

// config is what these tests read of the configuration the binary would
// run with.
type config struct {
	Port            int
	AdminAddr       string
	SocketIOPath    string
	ShutdownTimeout time.Duration
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// serverBinary builds the server once per test run (a plain go build of
// the module root) and returns its path.
func serverBinary(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "shipcheck-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "sioloop")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// serverSettings runs "sioloop config" in the environment env (and
// nothing else) and returns the settings with the values the server would
// run with, or the error it would stop with.
func serverSettings(t testing.TB, env map[string]string) ([]setting, error) {
	t.Helper()
	cmd := exec.Command(serverBinary(t), "config")
	cmd.Env = []string{} // not nil: nothing of the test's own environment
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			return nil, errors.New(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "sioloop: "))
		}
		t.Fatalf("sioloop config: %v\n%s", err, stderr.Bytes())
	}
	var settings []setting
	if err := json.Unmarshal(out, &settings); err != nil {
		t.Fatalf("sioloop config: %v\n%s", err, out)
	}
	return settings, nil
}

// settingsByEnv returns the server's settings table keyed by environment
// variable.
func settingsByEnv(t testing.TB) map[string]setting {
	t.Helper()
	settings, err := serverSettings(t, nil)
	if err != nil {
		t.Fatalf("defaults of the settings table do not load: %v", err)
	}
	m := make(map[string]setting)
	for _, s := range settings {
		m[s.Env] = s
	}
	return m
}

// loadConfig resolves the configuration the binary would run with in the
// environment env, exactly as main does.
func loadConfig(t testing.TB, env map[string]string) (config, error) {
	t.Helper()
	settings, err := serverSettings(t, env)
	if err != nil {
		return config{}, err
	}
	var c config
	for _, s := range settings {
		switch s.Env {
		case "PORT":
			c.Port, err = strconv.Atoi(s.Value)
		case "ADMIN_ADDR":
			c.AdminAddr = s.Value
		case "SOCKETIO_PATH":
			c.SocketIOPath = s.Value
		case "SHUTDOWN_TIMEOUT":
			c.ShutdownTimeout, err = time.ParseDuration(s.Value)
		}
		if err != nil {
			t.Fatalf("sioloop config: %s=%q: %v", s.Env, s.Value, err)
		}
	}
	return c, nil
}

// defaultConfig is the configuration of an empty environment.
func defaultConfig(t testing.TB) config {
	t.Helper()
	c, err := loadConfig(t, nil)
	if err != nil {
		t.Fatalf("defaults of the settings table do not load: %v", err)
	}
	return c
}

// adminPort returns the port number of an ADMIN_ADDR value.
func adminPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("ADMIN_ADDR %q: %w", addr, err)
	}
	return strconv.Atoi(p)
}

// isEnvName reports whether s has the shape of an environment variable
// name as sioloop spells them: upper-case letters, digits and '_'.
func isEnvName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// splitWords splits one shell command line into words the way sh would for
// the simple commands of a Dockerfile RUN or a README example: blanks
// separate words; '…' is literal; "…" and bare text expand $NAME and
// ${NAME} through expand, and a backslash escapes the next character
// ("\\\n" joins lines). Anything fancier (substitutions, globs, operators
// other than a leading "VAR=value") is the caller's problem.
func splitWords(s string, expand func(string) (string, bool)) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // cur holds a word, perhaps an empty quoted one
	)
	flush := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	// dollar expands the variable at s[i] == '$' and returns the index
	// after it.
	dollar := func(i int) (int, error) {
		j := i + 1
		var name string
		if j < len(s) && s[j] == '{' {
			k := strings.IndexByte(s[j:], '}')
			if k < 0 {
				return 0, fmt.Errorf("unterminated ${ in %q", s)
			}
			name, j = s[j+1:j+k], j+k+1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			name, j = s[j:k], k
		}
		if name == "" {
			cur.WriteByte('$')
			return i + 1, nil
		}
		v, ok := expand(name)
		if !ok {
			return 0, fmt.Errorf("variable $%s in %q has no value here", name, s)
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
			i++
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			in = true
			i += 2
		case c == '\'':
			k := strings.IndexByte(s[i+1:], '\'')
			if k < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+k])
			in = true
			i += k + 2
		case c == '"':
			in = true
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated \" in %q", s)
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					cur.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '$' {
					var err error
					if i, err = dollar(i); err != nil {
						return nil, err
					}
					continue
				}
				cur.WriteByte(s[i])
				i++
			}
		case c == '$':
			// An unquoted expansion to "" makes no word of its own.
			var err error
			if i, err = dollar(i); err != nil {
				return nil, err
			}
			in = in || cur.Len() > 0
		default:
			cur.WriteByte(c)
			in = true
			i++
		}
	}
	flush()
	return words, nil
}

func TestSplitWords(t *testing.T) {
	vars := map[string]string{"VERSION": "1.2", "EMPTY": ""}
	expand := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	f := func(in string, want ...string) {
		t.Helper()
		got, err := splitWords(in, expand)
		if err != nil {
			t.Errorf("splitWords(%q): %v", in, err)
			return
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitWords(%q) = %q, want %q", in, got, want)
		}
	}
	f(`go build .`, "go", "build", ".")
	f("  a \\\n  b\t", "a", "b")
	f(`-ldflags "-s -w -X p.V=${VERSION}"`, "-ldflags", "-s -w -X p.V=1.2")
	f(`-d '{"a":"$VERSION"}'`, "-d", `{"a":"$VERSION"}`)
	f(`X=$VERSION y`, "X=1.2", "y")
	f(`"" '' $EMPTY`, "", "")
	f(`"a\"b" a\ b`, `a"b`, "a b")
	f(`cost $`, "cost", "$")
	bad := func(in string) {
		t.Helper()
		if got, err := splitWords(in, expand); err == nil {
			t.Errorf("splitWords(%q) = %q, want an error", in, got)
		}
	}
	bad(`'open`)
	bad(`"open`)
	bad(`${VERSION`)
	bad(`$UNKNOWN`)
}
