package shipcheck

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sioloop/loop/app"
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

// settingsByEnv returns app.Settings() keyed by environment variable.
func settingsByEnv() map[string]app.Setting {
	m := make(map[string]app.Setting)
	for _, s := range app.Settings() {
		m[s.Env] = s
	}
	return m
}

// loadConfig resolves the configuration the binary would run with in the
// environment env, exactly as main does.
func loadConfig(env map[string]string) (app.Config, error) {
	return app.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
}

// defaultConfig is the configuration of an empty environment.
func defaultConfig(t testing.TB) app.Config {
	t.Helper()
	c, err := loadConfig(nil)
	if err != nil {
		t.Fatalf("defaults of app.Settings() do not load: %v", err)
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
