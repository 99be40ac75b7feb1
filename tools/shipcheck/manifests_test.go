package shipcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// exampleManifests are the files of deploy/ that kustomization.yaml leaves
// out, with the reason.
var exampleManifests = map[string]string{
	"ingress.yaml":        "needs a host name and a TLS Secret",
	"servicemonitor.yaml": "needs the Prometheus Operator's CRDs",
}

// knownKinds are the kinds deploy/ may hold.
var knownKinds = []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor", "Ingress", "Kustomization"}

// manifest is one YAML document of deploy/, decoded into generic maps.
type manifest struct {
	file string
	obj  map[string]any
}

func (m manifest) kind() string { s, _ := dig(m.obj, "kind").(string); return s }
func (m manifest) name() string { s, _ := dig(m.obj, "metadata", "name").(string); return s }
func (m manifest) String() string {
	return fmt.Sprintf("%s (%s %s)", m.file, m.kind(), m.name())
}

// loadManifests decodes every document of every file in deploy/.
func loadManifests(t testing.TB) []manifest {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for _, e := range entries {
		if e.Name() == "grafana-dashboard.json" {
			continue // not a manifest: see TestGrafanaDashboard
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			t.Errorf("deploy/%s: deploy/ holds manifests only, *.yaml files", e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for n := 1; ; n++ {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("deploy/%s, document %d: %v", e.Name(), n, err)
			}
			if obj == nil {
				continue // an empty document between two "---"
			}
			out = append(out, manifest{file: e.Name(), obj: obj})
		}
	}
	return out
}

// dig walks v along path: a string indexes a map, an int a list. It
// returns nil when the path does not exist.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// digList and digMap are dig with a type; a missing or mistyped value
// gives nil.
func digList(v any, path ...any) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

func digMap(v any, path ...any) map[string]any {
	m, _ := dig(v, path...).(map[string]any)
	return m
}

// scalar formats a YAML scalar as Kubernetes reads it into a string field.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// only returns the single manifest of kind named name.
func only(t testing.TB, ms []manifest, kind, name string) manifest {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if m.kind() == kind && (name == "" || m.name() == name) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("deploy/: %d %s named %q, want 1", len(found), kind, name)
	}
	return found[0]
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false // an empty selector is a mistake here, not "everything"
	}
	for k, v := range sel {
		if scalar(labels[k]) != scalar(v) {
			return false
		}
	}
	return true
}

func TestManifestsParse(t *testing.T) {
	ms := loadManifests(t)
	seen := make(map[string]string)
	for _, m := range ms {
		if scalar(dig(m.obj, "apiVersion")) == "" || m.kind() == "" {
			t.Errorf("%s: no apiVersion or kind", m)
		}
		if !slices.Contains(knownKinds, m.kind()) {
			t.Errorf("%s: kind %q is none of %q", m, m.kind(), knownKinds)
		}
		if m.kind() == "Kustomization" {
			continue
		}
		if m.name() == "" {
			t.Errorf("%s: no metadata.name", m)
		}
		key := m.kind() + "/" + m.name()
		if f, dup := seen[key]; dup {
			t.Errorf("%s: %s also in %s", m, key, f)
		}
		seen[key] = m.file
	}
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "ServiceMonitor"} {
		if !slices.ContainsFunc(ms, func(m manifest) bool { return m.kind() == kind }) {
			t.Errorf("deploy/ has no %s", kind)
		}
	}
}

func TestKustomization(t *testing.T) {
	ms := loadManifests(t)
	k := only(t, ms, "Kustomization", "")
	var listed []string
	for _, r := range digList(k.obj, "resources") {
		listed = append(listed, scalar(r))
	}
	files := make(map[string]bool)
	for _, m := range ms {
		files[m.file] = true
	}
	for _, r := range listed {
		if !files[r] {
			t.Errorf("kustomization.yaml lists %s, which deploy/ does not hold", r)
		}
		if why, ok := exampleManifests[r]; ok {
			t.Errorf("kustomization.yaml lists %s, an example (%s)", r, why)
		}
	}
	for f := range files {
		if f != k.file && !slices.Contains(listed, f) && exampleManifests[f] == "" {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	// The image name of the Deployment is the one kustomize rewrites.
	image := scalar(dig(only(t, ms, "Deployment", "sioloop").obj, "spec", "template", "spec", "containers", 0, "image"))
	if !slices.ContainsFunc(digList(k.obj, "images"), func(v any) bool { return scalar(dig(v, "name")) == image }) {
		t.Errorf("kustomization.yaml images: no entry for the Deployment's image %q", image)
	}
}

// podSpec is what the tests read from the Deployment.
type podSpec struct {
	dep       manifest
	pod       map[string]any // spec.template.spec
	c         map[string]any // the sioloop container
	labels    map[string]any // spec.template.metadata.labels
	ports     map[string]int // container port by name
	env       map[string]string
	secretEnv []string // names from Secrets: unknown here
	cfg       config
	cfgErr    error // of "sioloop config": the binary would exit 2
	// problems found while reading the environment, reported once by
	// TestDeploymentEnv.
	problems []string
}

// loadPod reads the Deployment and resolves the environment its container
// gets: literal values, the ConfigMaps of envFrom and the resource fields.
func loadPod(t testing.TB, ms []manifest) podSpec {
	t.Helper()
	dep := only(t, ms, "Deployment", "sioloop")
	p := podSpec{dep: dep, pod: digMap(dep.obj, "spec", "template", "spec"),
		labels: digMap(dep.obj, "spec", "template", "metadata", "labels"),
		ports:  make(map[string]int), env: make(map[string]string)}
	containers := digList(p.pod, "containers")
	if len(containers) != 1 || scalar(dig(containers, 0, "name")) != "sioloop" {
		t.Fatalf("%s: want one container named sioloop, got %d", dep, len(containers))
	}
	p.c = digMap(containers, 0)
	for _, port := range digList(p.c, "ports") {
		n, _ := dig(port, "containerPort").(int)
		p.ports[scalar(dig(port, "name"))] = n
	}
	for _, src := range digList(p.c, "envFrom") {
		name := scalar(dig(src, "configMapRef", "name"))
		if name == "" {
			t.Fatalf("%s: envFrom %v: only configMapRef is read by this test", dep, src)
		}
		for k, v := range digMap(only(t, ms, "ConfigMap", name).obj, "data") {
			p.env[k] = scalar(v)
		}
	}
	for _, e := range digList(p.c, "env") {
		name := scalar(dig(e, "name"))
		if _, dup := p.env[name]; dup {
			p.problems = append(p.problems, name+" is set twice (env and a ConfigMap): one place per variable")
		}
		switch {
		case dig(e, "value") != nil:
			p.env[name] = scalar(dig(e, "value"))
		case dig(e, "valueFrom", "resourceFieldRef") != nil:
			v, err := resourceField(p.c, digMap(e, "valueFrom", "resourceFieldRef"))
			if err != nil {
				p.problems = append(p.problems, name+": "+err.Error())
			}
			p.env[name] = v
		case dig(e, "valueFrom", "secretKeyRef") != nil:
			p.secretEnv = append(p.secretEnv, name)
			if dig(e, "valueFrom", "secretKeyRef", "optional") != true {
				p.problems = append(p.problems, name+" from a Secret: want optional: true, so that the pod starts before anyone creates the Secret")
			}
		default:
			p.problems = append(p.problems, name+": want value, resourceFieldRef or secretKeyRef")
		}
	}
	known, settings := settingsByEnv(t), make(map[string]string)
	for k, v := range p.env {
		if _, ok := known[k]; ok {
			settings[k] = v
		}
	}
	p.cfg, p.cfgErr = loadConfig(t, settings)
	return p
}

// resourceField computes a resourceFieldRef as the kubelet does: the
// container's limit (or request) divided by the divisor, rounded up.
func resourceField(c map[string]any, ref map[string]any) (string, error) {
	res := scalar(ref["resource"])
	kind, what, _ := strings.Cut(res, ".")
	q, err := parseQuantity(scalar(dig(c, "resources", kind, what)))
	if err != nil {
		return "", fmt.Errorf("resourceFieldRef %s: %w", res, err)
	}
	div := 1.0
	if d := scalar(ref["divisor"]); d != "" {
		if div, err = parseQuantity(d); err != nil || div <= 0 {
			return "", fmt.Errorf("resourceFieldRef divisor %q: %v", d, err)
		}
	}
	return strconv.FormatFloat(math.Ceil(q/div), 'f', 0, 64), nil
}

// quantitySuffixes are the Kubernetes quantity suffixes.
var quantitySuffixes = []struct {
	s string
	m float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// parseQuantity reads a Kubernetes resource quantity ("500m", "1Gi", "2").
func parseQuantity(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("no such resource set")
	}
	mul := 1.0
	for _, suf := range quantitySuffixes {
		if num, ok := strings.CutSuffix(s, suf.s); ok {
			s, mul = num, suf.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("quantity %q: want a number with an optional suffix like 500m or 1Gi", s)
	}
	return f * mul, nil
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: a number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	mul := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if num, ok := strings.CutSuffix(s, suf.s); ok {
			s, mul = num, suf.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("GOMEMLIMIT %q: want bytes with an optional KiB, MiB, GiB or TiB suffix", s)
	}
	return n * mul, nil
}

func TestParseGoMemLimit(t *testing.T) {
	f := func(in string, want int64) {
		t.Helper()
		if got, err := parseGoMemLimit(in); err != nil || got != want {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	f("1073741824", 1<<30)
	f("900MiB", 900<<20)
	f("1GiB", 1<<30)
	f("512B", 512)
	for _, bad := range []string{"", "1Gi", "1GB", "x"} {
		if _, err := parseGoMemLimit(bad); err == nil {
			t.Errorf("parseGoMemLimit(%q): want an error", bad)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	f := func(in string, want float64) {
		t.Helper()
		if got, err := parseQuantity(in); err != nil || got != want {
			t.Errorf("parseQuantity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	f("2", 2)
	f("1500m", 1.5)
	f("0.5", 0.5)
	f("512Mi", 512<<20)
	f("1Gi", 1<<30)
	f("1G", 1e9)
	for _, bad := range []string{"", "1GiB", "-1", "lots"} {
		if _, err := parseQuantity(bad); err == nil {
			t.Errorf("parseQuantity(%q): want an error", bad)
		}
	}
}

func TestComingEnvNotYetSettings(t *testing.T) {
	settings := settingsByEnv(t)
	for name, why := range comingEnv {
		if _, ok := settings[name]; ok {
			t.Errorf("%s (%s) is now in the settings table: delete it from comingEnv in names_test.go", name, why)
		}
	}
	for name := range runtimeEnv {
		if _, ok := settings[name]; ok {
			t.Errorf("%s is in the settings table: delete it from runtimeEnv in names_test.go", name)
		}
	}
}

func TestDeploymentEnv(t *testing.T) {
	p := loadPod(t, loadManifests(t))
	for _, pr := range p.problems {
		t.Errorf("%s: %s", p.dep, pr)
	}
	settings := settingsByEnv(t)
	for name, v := range p.env {
		_, isSetting := settings[name]
		if !isSetting && runtimeEnv[name] == "" && comingEnv[name] == "" {
			t.Errorf("%s sets %s=%q, which is no setting of the settings table (nor listed in names_test.go)", p.dep, name, v)
		}
	}
	for _, name := range p.secretEnv {
		_, isSetting := settings[name]
		if !isSetting && comingEnv[name] == "" {
			t.Errorf("%s reads %s from a Secret, which is no setting of the settings table", p.dep, name)
		}
	}
	appConfig(t, p)
	// The Go runtime's variables and the reactors follow the limits.
	for _, name := range []string{"GOMAXPROCS", "EVENT_LOOPS"} {
		n, err := strconv.Atoi(p.env[name])
		if err != nil || n <= 0 {
			t.Errorf("%s: %s=%q, want a positive number from the container's limits", p.dep, name, p.env[name])
		}
	}
	memLimit, _ := parseQuantity(scalar(dig(p.c, "resources", "limits", "memory")))
	if n, err := parseGoMemLimit(p.env["GOMEMLIMIT"]); err != nil || n <= 0 || float64(n) > memLimit {
		t.Errorf("%s: GOMEMLIMIT=%q, want at most the memory limit (%.0f bytes): %v", p.dep, p.env["GOMEMLIMIT"], memLimit, err)
	}
	for _, e := range digList(p.c, "env") {
		name, res := scalar(dig(e, "name")), scalar(dig(e, "valueFrom", "resourceFieldRef", "resource"))
		want := map[string]string{"GOMAXPROCS": "limits.cpu", "EVENT_LOOPS": "limits.cpu", "GOMEMLIMIT": "limits.memory"}[name]
		// A literal GOMEMLIMIT below the limit is fine (the README says so).
		if want != "" && res != want && !(name == "GOMEMLIMIT" && dig(e, "value") != nil) {
			t.Errorf("%s: %s from resourceFieldRef %q, want %s", p.dep, name, res, want)
		}
	}
	if !slices.Contains(p.secretEnv, "REDIS_URL") && p.env["REDIS_URL"] == "" {
		t.Errorf("%s: want REDIS_URL from an optional Secret (or a ConfigMap) for the Redis adapter", p.dep)
	}
}

func TestDeploymentPortsAndProbes(t *testing.T) {
	p := loadPod(t, loadManifests(t))
	c := appConfig(t, p)
	admin, err := adminPort(c.AdminAddr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"http": c.Port, "admin": admin}
	if fmt.Sprint(p.ports) != fmt.Sprint(want) {
		t.Errorf("%s: container ports %v, want %v (PORT and ADMIN_ADDR as the binary reads them)", p.dep, p.ports, want)
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		get := digMap(p.c, probe, "httpGet")
		if get == nil {
			t.Errorf("%s: no %s.httpGet", p.dep, probe)
			continue
		}
		if path := scalar(get["path"]); path != "/health" {
			t.Errorf("%s: %s path %q, want /health", p.dep, probe, path)
		}
		if port := p.resolvePort(get["port"]); port != admin {
			t.Errorf("%s: %s port %v is %d, want the admin port %d", p.dep, probe, get["port"], port, admin)
		}
	}
	ann := digMap(p.dep.obj, "spec", "template", "metadata", "annotations")
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(admin), "prometheus.io/path": "/metrics"} {
		if got := scalar(ann[k]); got != want {
			t.Errorf("%s: pod annotation %s=%q, want %q", p.dep, k, got, want)
		}
	}
}

// appConfig returns the resolved configuration of the pod, or stops.
func appConfig(t testing.TB, p podSpec) config {
	t.Helper()
	if p.cfgErr != nil {
		t.Fatalf("%s: the binary would refuse its environment: %v", p.dep, p.cfgErr)
	}
	return p.cfg
}

// resolvePort turns a probe or Service targetPort (a name or a number)
// into the container port number; 0 when it names no port.
func (p podSpec) resolvePort(v any) int {
	switch x := v.(type) {
	case int:
		for _, n := range p.ports {
			if n == x {
				return x
			}
		}
	case string:
		return p.ports[x]
	}
	return 0
}

func TestDeploymentShutdown(t *testing.T) {
	p := loadPod(t, loadManifests(t))
	c := appConfig(t, p)
	grace, ok := dig(p.pod, "terminationGracePeriodSeconds").(int)
	if !ok {
		t.Fatalf("%s: no terminationGracePeriodSeconds", p.dep)
	}
	sleep, ok := dig(p.c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if !ok || sleep <= 0 {
		t.Errorf("%s: want lifecycle.preStop.sleep.seconds > 0, so that the endpoint leaves the Service before SIGTERM", p.dep)
	}
	// The kubelet counts the preStop hook in the grace period.
	need := time.Duration(sleep)*time.Second + c.ShutdownTimeout
	if time.Duration(grace)*time.Second <= need {
		t.Errorf("%s: terminationGracePeriodSeconds %d, want more than preStop %ds + SHUTDOWN_TIMEOUT %s = %s",
			p.dep, grace, sleep, c.ShutdownTimeout, need)
	}
	if n, _ := dig(p.dep.obj, "spec", "replicas").(int); n < 2 {
		t.Errorf("%s: replicas %d, want at least 2", p.dep, n)
	}
}

func TestDeploymentResources(t *testing.T) {
	p := loadPod(t, loadManifests(t))
	for _, r := range []string{"cpu", "memory"} {
		req, err1 := parseQuantity(scalar(dig(p.c, "resources", "requests", r)))
		lim, err2 := parseQuantity(scalar(dig(p.c, "resources", "limits", r)))
		if err1 != nil || err2 != nil {
			t.Errorf("%s: resources %s: want requests and limits (%v, %v)", p.dep, r, err1, err2)
			continue
		}
		if req > lim {
			t.Errorf("%s: %s request %v above its limit %v", p.dep, r, req, lim)
		}
	}
}

func TestDeploymentSecurityContext(t *testing.T) {
	p := loadPod(t, loadManifests(t))
	sc := digMap(p.c, "securityContext")
	if sc["readOnlyRootFilesystem"] != true {
		t.Errorf("%s: want securityContext.readOnlyRootFilesystem: true", p.dep)
	}
	if sc["allowPrivilegeEscalation"] != false {
		t.Errorf("%s: want securityContext.allowPrivilegeEscalation: false", p.dep)
	}
	if !slices.ContainsFunc(digList(sc, "capabilities", "drop"), func(v any) bool { return scalar(v) == "ALL" }) {
		t.Errorf("%s: want securityContext.capabilities.drop: [ALL]", p.dep)
	}
	podSC := digMap(p.pod, "securityContext")
	if sc["runAsNonRoot"] != true && podSC["runAsNonRoot"] != true {
		t.Errorf("%s: want runAsNonRoot: true", p.dep)
	}
	uid, ok := sc["runAsUser"].(int)
	if !ok {
		uid, ok = podSC["runAsUser"].(int)
	}
	var user string
	for _, in := range dockerfile(t) {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	want, err := dockerUID(user)
	if err != nil {
		t.Fatalf("Dockerfile USER %q: %v", user, err)
	}
	if ok && uid != want {
		t.Errorf("%s: runAsUser %d, but the image's USER is %d", p.dep, uid, want)
	}
}

// serviceTargets maps each Service to its ports, by name and by number,
// and each port to the container port it reaches (0: none). It checks on
// the way that every Service selects the Deployment's pods.
func serviceTargets(t *testing.T, ms []manifest, p podSpec) map[string]map[string]int {
	t.Helper()
	targets := make(map[string]map[string]int)
	for _, m := range ms {
		if m.kind() != "Service" {
			continue
		}
		if !subset(digMap(m.obj, "spec", "selector"), p.labels) {
			t.Errorf("%s: selector does not match the Deployment's pods", m)
		}
		targets[m.name()] = make(map[string]int)
		for _, port := range digList(m.obj, "spec", "ports") {
			tp := dig(port, "targetPort")
			if tp == nil {
				tp = dig(port, "port")
			}
			n := p.resolvePort(tp)
			if n == 0 {
				t.Errorf("%s: targetPort %v is no container port", m, tp)
			}
			targets[m.name()][scalar(dig(port, "name"))] = n
			targets[m.name()][scalar(dig(port, "port"))] = n
		}
	}
	return targets
}

func TestServices(t *testing.T) {
	ms := loadManifests(t)
	p := loadPod(t, ms)
	c := appConfig(t, p)
	if !subset(digMap(p.dep.obj, "spec", "selector", "matchLabels"), p.labels) {
		t.Errorf("%s: spec.selector.matchLabels does not match the pod template's labels", p.dep)
	}
	admin, _ := adminPort(c.AdminAddr)
	targets := serviceTargets(t, ms, p)
	if !slices.Contains(mapValues(targets["sioloop"]), c.Port) {
		t.Errorf("Service sioloop does not reach PORT %d", c.Port)
	}
	if !slices.Contains(mapValues(targets["sioloop-admin"]), admin) {
		t.Errorf("Service sioloop-admin does not reach the admin port %d", admin)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	ms := loadManifests(t)
	p := loadPod(t, ms)
	pdb := only(t, ms, "PodDisruptionBudget", "sioloop")
	if !subset(digMap(pdb.obj, "spec", "selector", "matchLabels"), p.labels) {
		t.Errorf("%s: selector does not match the Deployment's pods", pdb)
	}
	replicas, _ := dig(p.dep.obj, "spec", "replicas").(int)
	maxU, hasMax := dig(pdb.obj, "spec", "maxUnavailable").(int)
	minA, hasMin := dig(pdb.obj, "spec", "minAvailable").(int)
	if !(hasMax && maxU >= 1 || hasMin && minA < replicas) {
		t.Errorf("%s: want an integer maxUnavailable >= 1 or minAvailable < %d replicas, or no node drain can proceed", pdb, replicas)
	}
}

func TestServiceMonitor(t *testing.T) {
	ms := loadManifests(t)
	p := loadPod(t, ms)
	admin, _ := adminPort(appConfig(t, p).AdminAddr)
	targets := serviceTargets(t, ms, p)
	sm := only(t, ms, "ServiceMonitor", "sioloop")
	var selected []string
	for _, m := range ms {
		if m.kind() == "Service" && subset(digMap(sm.obj, "spec", "selector", "matchLabels"), digMap(m.obj, "metadata", "labels")) {
			selected = append(selected, m.name())
		}
	}
	if len(selected) != 1 || selected[0] != "sioloop-admin" {
		t.Errorf("%s selects Services %q, want [sioloop-admin]", sm, selected)
	}
	eps := digList(sm.obj, "spec", "endpoints")
	if len(eps) == 0 {
		t.Errorf("%s: no endpoints", sm)
	}
	for _, ep := range eps {
		if n := targets["sioloop-admin"][scalar(dig(ep, "port"))]; n != admin {
			t.Errorf("%s: endpoint port %q reaches %d, want the admin port %d", sm, scalar(dig(ep, "port")), n, admin)
		}
		if path := scalar(dig(ep, "path")); path != "/metrics" {
			t.Errorf("%s: endpoint path %q, want /metrics", sm, path)
		}
	}
}

func TestIngress(t *testing.T) {
	ms := loadManifests(t)
	p := loadPod(t, ms)
	c := appConfig(t, p)
	targets := serviceTargets(t, ms, p)
	ing := only(t, ms, "Ingress", "sioloop")
	var paths int
	for _, rule := range digList(ing.obj, "spec", "rules") {
		for _, hp := range digList(rule, "http", "paths") {
			paths++
			svc := scalar(dig(hp, "backend", "service", "name"))
			port := dig(hp, "backend", "service", "port", "name")
			if port == nil {
				port = dig(hp, "backend", "service", "port", "number")
			}
			if n, ok := targets[svc][scalar(port)]; !ok || n != c.Port {
				t.Errorf("%s: backend %s port %v does not reach PORT %d", ing, svc, port, c.Port)
			}
			// Only Socket.IO goes out: the admin routes stay inside.
			if path := scalar(dig(hp, "path")); strings.TrimSuffix(path, "/") != strings.TrimSuffix(c.SocketIOPath, "/") {
				t.Errorf("%s: path %q, want SOCKETIO_PATH %q", ing, path, c.SocketIOPath)
			}
		}
	}
	if paths == 0 {
		t.Errorf("%s: no paths", ing)
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
