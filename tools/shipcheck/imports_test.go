package shipcheck

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// pkg is one package of "go list -deps -json ./...", without test files.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// listDeps returns every package the module's packages are built from,
// by import path.
func listDeps(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard,Imports", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := make(map[string]pkg)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// Third-party libraries and the only packages of this module that may
// import them (directly). Everything else reaches them through these.
var ownedImports = []struct{ lib, owner, why string }{
	{"github.com/panjf2000/gnet", "sioloop/loop", "only the engine talks to the reactors"},
	{"github.com/redis/go-redis", "sioloop/loop/cluster", "Redis is the cluster adapter's business"},
	{"github.com/vmihailenco/msgpack", "sioloop/loop/cluster", "msgpack is the Redis adapter's wire format"},
	{"github.com/golang-jwt/jwt", "sioloop/api", "authentication lives in api (jwt.go)"},
}

// ioImports are the packages protocol/ may not reach: protocol/ is bytes
// in, bytes out (no sockets, files, system calls, reactors, goroutines or
// locks, clocks or logs).
var ioImports = []string{
	"net", "os", "syscall", "golang.org/x/sys", "github.com/panjf2000/gnet",
	"sync", "context", "time", "log",
}

// protocolLibs are the third-party packages protocol/ may import, and
// why. Their own imports are not checked: gobwas/ws holds a whole
// WebSocket stack with I/O, of which wsframe calls only Cipher, the SIMD
// XOR of RFC 6455 §5.3 masking.
var protocolLibs = map[string]string{
	"github.com/gobwas/ws": "ws.Cipher (wsframe.Unmask)",
}

// TestImportRules keeps the layout honest, from what the packages really
// import (go list -deps, test files excluded):
//   - gnet only in loop/, go-redis and msgpack only in loop/cluster, the
//     JWT library only in api/;
//   - protocol/ imports no I/O (ioImports), directly or through another
//     package of this module, and no third-party package but
//     protocolLibs; standard packages are not followed (crypto/sha1
//     reaches os for its FIPS self-test, not for our sake);
//   - nothing under loop/ or protocol/ imports api/, metrics/, tools/ or
//     the composition root (package main), and protocol/ does not import
//     loop/.
func TestImportRules(t *testing.T) {
	pkgs := listDeps(t)
	for path, p := range pkgs {
		if !under(path, "sioloop") {
			continue
		}
		for _, imp := range p.Imports {
			for _, o := range ownedImports {
				if strings.HasPrefix(imp, o.lib) && !under(path, o.owner) {
					t.Errorf("%s imports %s: only %s may (%s)", path, imp, o.owner, o.why)
				}
			}
			if under(path, "sioloop/loop") || under(path, "sioloop/protocol") {
				for _, above := range []string{"sioloop/api", "sioloop/metrics", "sioloop/tools"} {
					if under(imp, above) {
						t.Errorf("%s imports %s: the engine and the codecs import nothing above them", path, imp)
					}
				}
				if imp == "sioloop" {
					t.Errorf("%s imports the composition root", path)
				}
			}
			if under(path, "sioloop/protocol") && under(imp, "sioloop/loop") {
				t.Errorf("%s imports %s: protocol/ is below loop/", path, imp)
			}
		}
	}
	// protocol/: walk its imports through this module's packages.
	seen := make(map[string]bool)
	var walk func(path, from string)
	walk = func(path, from string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, imp := range pkgs[path].Imports {
			for _, bad := range ioImports {
				if under(imp, bad) {
					t.Errorf("%s (from %s) imports %s: protocol/ does no I/O", path, from, imp)
				}
			}
			switch {
			case under(imp, "sioloop"):
				walk(imp, from)
			case !pkgs[imp].Standard && protocolLibs[imp] == "":
				t.Errorf("%s (from %s) imports %s, which is not among the libraries protocol/ may use", path, from, imp)
			}
		}
	}
	n := 0
	for path := range pkgs {
		if under(path, "sioloop/protocol") {
			walk(path, path)
			n++
		}
	}
	if n == 0 {
		t.Fatal("go list found no package under protocol/")
	}
}
