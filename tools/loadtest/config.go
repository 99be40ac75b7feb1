package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Scenarios and transports.
const (
	ScenarioEcho    = "echo"
	ScenarioFanout  = "fanout"
	ScenarioConnect = "connect"
	// ScenarioEchoLadder runs the echo scenario at increasing rates
	// (ladder.go).
	ScenarioEchoLadder = "echo-ladder"

	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
)

// Config is one load-test run. Every field says its flag and default; the
// zero value of a field means its default (resolved by Config.resolve).
type Config struct {
	Connections int           // --connections: clients to open. Default 100.
	Duration    time.Duration // --duration: measured phase, after every client is connected. Default 10s.
	Interval    time.Duration // --interval: time between two messages of one client (echo). Default 1000ms.
	Server      string        // --server: base URL of the Socket.IO server, or several comma-separated (clients spread over them in turn). Default http://localhost:3000.
	Path        string        // --path: Socket.IO path. Default /socket.io/.
	Scenario    string        // --scenario: echo, fanout, connect or echo-ladder. Default echo.
	Transport   string        // --transport: websocket or polling. Default websocket.
	Ramp        float64       // --ramp: new connections per second, 0 = as fast as possible.
	Inflight    int           // --inflight: most handshakes in progress at once. Default 128 (websocket), 64 (polling).
	Payload     int           // --payload: bytes of padding in every message. Default 0.
	Namespace   string        // --namespace: Socket.IO namespace. Default /.
	AuthToken   string        // --auth-token: sent as CONNECT auth {"token":...}. Default none.
	AdminURL    string        // --admin-url: where POST /SendWebsocketEvent goes. Default --server.
	Channel     string        // --channel: event name of the fanout broadcasts. Default bench.
	Rate        float64       // --rate: broadcasts per second (fanout). Default 10.
	Posters     int           // --posters: broadcast requests in flight at most (fanout). Default 1, which keeps them in order.
	Rooms       int           // --rooms: fanout clients subscribe to one of this many rooms, each broadcast goes to one room. Default 0 (no rooms, every client).
	Affinity    bool          // --room-affinity: with --rooms, every client of a room dials the same --server. Default off (servers in turn).
	PostTimeout time.Duration // --post-timeout: a broadcast request not answered after this fails (fanout). Default 30s.
	PIDs        []int         // --pid: server processes (comma-separated) to read RSS and CPU from, summed. Default none.
	JSONFile    string        // --json: write the result as JSON to this file.
	ReportFile  string        // --report: write a self-contained HTML report to this file.
	MaxLoss     string        // --max-loss: lost messages tolerated, a count or a percentage ("0.5%"). Default 0.
	MaxErrors   int           // --max-errors: errors tolerated. Default 0.
	AllowRemote bool          // --allow-remote: allow a target that is not on loopback.
	Sources     int           // --sources: 127.0.0.x source addresses to spread over. Default one per 2,500 clients on an IPv4 loopback target (see autoSources), else 1.
	Workers     int           // --workers: epoll worker goroutines per process. Default GOMAXPROCS.
	Procs       int           // --procs: load-generator processes, each with its share of the clients and source addresses. Default 1.
	Grace       time.Duration // --grace: wait this long after --duration for replies in flight. Default 5s.
	Handshake   time.Duration // --handshake-timeout: a client not connected after this counts as an error. Default 10s.
	ConnectWait time.Duration // --connect-timeout: longest connect phase before the measured phase starts anyway. Default 60s plus the ramp time.
	Quiet       bool          // --quiet: no live line.
	CPUProfile  string        // --cpuprofile: write the tool's own CPU profile here (for work on the tool).
	Ladder      string        // --ladder: total echo rates of the echo-ladder steps, messages/s, comma-separated. Default 5000,10000,20000,30000,40000,50000.
	Step        time.Duration // --step: measured time of one ladder step. Default 5s.
	Warmup      time.Duration // --warmup: an unjudged echo run at the first rate before the ladder, 0 for none. Default 3s.
	StepTries   int           // --step-tries: runs of a rate before it counts as failed. Default 1.
	LadderP99   time.Duration // --ladder-p99: highest round-trip p99 of a passing step. Default 10ms.
	Interleave  bool          // --interleave: echo-ladder over every --server in turn at each rate (ladder_interleave.go). Default off.
	Names       string        // --names: comma-separated names of the --server entries of an interleaved ladder. Default their URLs.

	// Resolved by resolve.
	target     netip.AddrPort   // address to dial (the first of targets)
	host       string           // Host header value (the first of hosts)
	targets    []netip.AddrPort // every --server address; client i dials targets[(clientBase+i) % len]
	hosts      []string         // Host header value of each target
	clientBase int              // index of this process's first client among all processes' (child processes)
	sourceBase int              // this process's first source address is 127.0.0.(1+sourceBase) (child processes)
	base       string           // http://host:port (polling requests)
	adminURL   string           // full POST URL
	metricsURL string           // /metrics of the admin server, for its broadcast timing
	authJSON   []byte           // CONNECT payload after the namespace
	pad        string           // Payload bytes of 'x'
	maxLossN   uint64           // when maxLossPct < 0
	maxLossPct float64          // -1 when MaxLoss is a count
	rates      []float64        // the parsed --ladder
}

// ErrHelp is returned by ParseFlags for -h/--help.
var ErrHelp = flag.ErrHelp

// ParseFlags reads the command line into a Config. Usage and errors go to out.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&c.Connections, "connections", 100, "clients to open")
	fs.Var(durationFlag{&c.Duration, time.Second}, "duration", "measured phase once every client is connected (10s; a bare number is seconds)")
	fs.Var(durationFlag{&c.Interval, time.Millisecond}, "interval", "time between two messages of one client, echo scenario (1000ms; a bare number is milliseconds)")
	fs.StringVar(&c.Server, "server", "http://localhost:3000", "base URL of the Socket.IO server; several comma-separated URLs spread the clients over them in turn (websocket only)")
	fs.StringVar(&c.Path, "path", "/socket.io/", "Socket.IO path")
	fs.StringVar(&c.Scenario, "scenario", ScenarioEcho, "echo: clients emit `message` and count the echoes; echo-ladder: echo at each --ladder rate in turn until a step fails; fanout: clients listen while the tool POSTs /SendWebsocketEvent at --rate; connect: open and hold")
	fs.StringVar(&c.Transport, "transport", TransportWebSocket, "websocket or polling")
	fs.Float64Var(&c.Ramp, "ramp", 0, "new connections per second (0: as fast as possible)")
	fs.IntVar(&c.Inflight, "inflight", 0, "most handshakes in progress at once (0: 128 for websocket, 64 for polling); handshake latency grows with it, the connect rate hardly does past ~64 on 2 cores")
	fs.IntVar(&c.Payload, "payload", 0, "bytes of padding in every message")
	fs.StringVar(&c.Namespace, "namespace", "/", "Socket.IO namespace")
	fs.StringVar(&c.AuthToken, "auth-token", "", `sent as the CONNECT auth {"token":...}`)
	fs.StringVar(&c.AdminURL, "admin-url", "", "base URL for POST /SendWebsocketEvent (default: the first --server)")
	fs.StringVar(&c.Channel, "channel", "bench", "event name of the fanout broadcasts")
	fs.Float64Var(&c.Rate, "rate", 10, "broadcasts per second, fanout scenario")
	fs.IntVar(&c.Rooms, "rooms", 0, `fanout scenario: client i subscribes to "room-(i mod N)" once connected (the server's subscribe event) and broadcasts target one room each, in turn; the expected deliveries of a broadcast are its room's members (0: no rooms)`)
	fs.BoolVar(&c.Affinity, "room-affinity", false, "with --rooms: every client of a room dials the same --server (room mod servers), as sticky room-based routing places them; without it clients take the servers in turn")
	fs.DurationVar(&c.PostTimeout, "post-timeout", 30*time.Second, "a broadcast request not answered after this counts as failed (its deliveries then count as unexpected), fanout scenario")
	fs.IntVar(&c.Posters, "posters", 1, "broadcast requests in flight at most, fanout scenario (above 1 they may reach the server out of order)")
	fs.Var(pidsFlag{&c.PIDs}, "pid", "server process id, or several comma-separated: report their RSS (VmRSS) and CPU, summed")
	fs.StringVar(&c.JSONFile, "json", "", "write the machine-readable result to this file")
	fs.StringVar(&c.ReportFile, "report", "", "write a self-contained HTML report to this file")
	fs.StringVar(&c.MaxLoss, "max-loss", "0", `lost messages tolerated before exiting non-zero: a count or a percentage ("0.5%")`)
	fs.IntVar(&c.MaxErrors, "max-errors", 0, "errors tolerated before exiting non-zero")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on loopback")
	fs.IntVar(&c.Sources, "sources", 0, "127.0.0.x source addresses to spread connections over (0: one per 2,500 connections on an IPv4 loopback target)")
	fs.IntVar(&c.Workers, "workers", 0, "epoll worker goroutines per process (0: GOMAXPROCS)")
	fs.IntVar(&c.Procs, "procs", 1, "load-generator processes: the tool starts this many copies of itself, each with its share of the clients and of the source addresses, and merges their figures (a process may hold at most RLIMIT_NOFILE clients)")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "after --duration, wait at most this long for replies in flight")
	fs.DurationVar(&c.Handshake, "handshake-timeout", 10*time.Second, "a client not connected after this counts as an error")
	fs.DurationVar(&c.ConnectWait, "connect-timeout", 0, "longest connect phase (0: 60s plus connections/ramp)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no live line")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
	fs.StringVar(&c.Ladder, "ladder", defaultLadder, "echo-ladder: total message rates of the steps (messages/s over all clients, comma-separated, increasing)")
	fs.DurationVar(&c.Step, "step", 5*time.Second, "echo-ladder: measured time of one step")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "echo-ladder: unjudged echo run at the first rate before the steps (0: none)")
	fs.IntVar(&c.StepTries, "step-tries", 1, "echo-ladder: runs of a rate before the step counts as failed (2 tells a stall of a shared machine from a rate the server cannot hold)")
	fs.DurationVar(&c.LadderP99, "ladder-p99", 10*time.Millisecond, "echo-ladder: highest round-trip p99 of a passing step")
	fs.BoolVar(&c.Interleave, "interleave", false, "echo-ladder: --server lists servers to compare (already running, one --pid each, in the same order); at each rate every server still climbing runs its step in turn, the order rotated by rate, so that the servers of one rate share the same minutes of the machine")
	fs.StringVar(&c.Names, "names", "", "echo-ladder --interleave: comma-separated names of the servers, in --server order (default: their URLs)")
	c.Duration, c.Interval = 10*time.Second, time.Second
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: every setting is a --flag", fs.Arg(0))
	}
	return c, nil
}

// pidsFlag reads --pid 123 or --pid 123,456,789.
type pidsFlag struct{ p *[]int }

func (f pidsFlag) String() string {
	if f.p == nil {
		return ""
	}
	s := make([]string, len(*f.p))
	for i, v := range *f.p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (f pidsFlag) Set(s string) error {
	*f.p = nil
	for _, w := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || v < 0 {
			return fmt.Errorf("want a process id or a comma-separated list of them")
		}
		if v > 0 {
			*f.p = append(*f.p, v)
		}
	}
	return nil
}

// durationFlag accepts a Go duration ("250ms") or a bare number in unit, like
// the old Node tool's --duration 10 and --interval 1000.
type durationFlag struct {
	d    *time.Duration
	unit time.Duration
}

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		*f.d = time.Duration(v * float64(f.unit))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like 1500ms or a bare number")
	}
	*f.d = d
	return nil
}

// resolve checks every field, fills the defaults and the derived fields. It
// refuses targets off loopback unless AllowRemote.
func (c *Config) resolve(ctx context.Context) error {
	if c.Connections <= 0 {
		return fmt.Errorf("invalid --connections %d: want at least 1", c.Connections)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("invalid --path %q: want a path starting with /", c.Path)
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	switch c.Scenario {
	case "":
		c.Scenario = ScenarioEcho
	case ScenarioEcho, ScenarioFanout, ScenarioConnect:
	case ScenarioEchoLadder:
		if err := c.resolveLadder(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("invalid --scenario %q: want echo, fanout, connect or echo-ladder", c.Scenario)
	}
	if c.Interleave && c.Scenario != ScenarioEchoLadder {
		return fmt.Errorf("invalid --interleave: it runs the echo ladder (--scenario echo-ladder), not %s", c.Scenario)
	}
	if c.Names != "" && !c.Interleave {
		return fmt.Errorf("invalid --names %q: it names the servers of --interleave", c.Names)
	}
	switch c.Transport {
	case "":
		c.Transport = TransportWebSocket
	case TransportWebSocket, TransportPolling:
	default:
		return fmt.Errorf("invalid --transport %q: want websocket or polling", c.Transport)
	}
	if c.Ramp < 0 {
		return fmt.Errorf("invalid --ramp %g: want connections per second, or 0 for as fast as possible", c.Ramp)
	}
	if c.Inflight <= 0 {
		c.Inflight = 128
		if c.Transport == TransportPolling {
			c.Inflight = 64
		}
	}
	if c.Payload < 0 || c.Payload > 1<<20 {
		return fmt.Errorf("invalid --payload %d: want 0 to 1048576 bytes", c.Payload)
	}
	c.pad = strings.Repeat("x", c.Payload)
	if c.Namespace == "" {
		c.Namespace = "/"
	}
	if !strings.HasPrefix(c.Namespace, "/") || !plainJSON(c.Namespace) || strings.ContainsAny(c.Namespace, ",?") {
		return fmt.Errorf("invalid --namespace %q: want a name like /chat (no quotes, commas or question marks)", c.Namespace)
	}
	if c.Channel == "" {
		c.Channel = "bench"
	}
	if !plainJSON(c.Channel) {
		return fmt.Errorf("invalid --channel %q: want a name without quotes, backslashes or control characters", c.Channel)
	}
	c.authJSON = nil
	if c.AuthToken != "" {
		b, _ := json.Marshal(map[string]string{"token": c.AuthToken})
		c.authJSON = b
	}
	if c.Rooms < 0 || c.Rooms > 0 && (c.Scenario != ScenarioFanout || c.Transport != TransportWebSocket) {
		return fmt.Errorf("invalid --rooms %d: want a count of rooms, for the fanout scenario over websocket", c.Rooms)
	}
	if c.Affinity && c.Rooms == 0 {
		return fmt.Errorf("invalid --room-affinity: it needs --rooms")
	}
	if c.Scenario == ScenarioFanout && (c.Rate <= 0 || c.Rate > 100000) {
		return fmt.Errorf("invalid --rate %g: want broadcasts per second above 0", c.Rate)
	}
	if c.Posters <= 0 {
		c.Posters = 1
	}
	if c.PostTimeout <= 0 {
		c.PostTimeout = 30 * time.Second
	}
	if c.Posters > 256 {
		return fmt.Errorf("invalid --posters %d: at most 256", c.Posters)
	}
	if err := c.parseMaxLoss(); err != nil {
		return err
	}
	if c.MaxErrors < 0 {
		return fmt.Errorf("invalid --max-errors %d: want 0 or more", c.MaxErrors)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Grace < 0 {
		c.Grace = 0
	}
	if c.Handshake <= 0 {
		c.Handshake = 10 * time.Second
	}
	if c.ConnectWait <= 0 {
		c.ConnectWait = 60 * time.Second
		if c.Ramp > 0 {
			c.ConnectWait += time.Duration(float64(c.Connections) / c.Ramp * float64(time.Second))
		}
	}
	if c.Sources > 254 {
		return fmt.Errorf("invalid --sources %d: at most 254 addresses 127.0.0.1-127.0.0.254", c.Sources)
	}

	if c.Procs <= 0 {
		c.Procs = 1
	}
	if c.Procs > 64 {
		return fmt.Errorf("invalid --procs %d: at most 64", c.Procs)
	}
	if c.Procs > c.Connections {
		return fmt.Errorf("invalid --procs %d: more processes than --connections %d", c.Procs, c.Connections)
	}
	c.targets, c.hosts = c.targets[:0], c.hosts[:0]
	v4loop := true // every target is an IPv4 loopback address
	for _, s := range strings.Split(c.Server, ",") {
		_, host, ap, err := resolveURL(ctx, strings.TrimSpace(s), "--server", c.AllowRemote)
		if err != nil {
			return err
		}
		c.targets, c.hosts = append(c.targets, ap), append(c.hosts, host)
		v4loop = v4loop && ap.Addr().Is4() && ap.Addr().IsLoopback()
	}
	c.target, c.host = c.targets[0], c.hosts[0]
	if len(c.targets) > 1 && c.Transport != TransportWebSocket {
		return fmt.Errorf("invalid --server %q: several servers need --transport websocket", c.Server)
	}
	if c.Procs > 1 && c.Transport != TransportWebSocket {
		return fmt.Errorf("invalid --procs %d: several processes need --transport websocket", c.Procs)
	}
	// Requests go to the resolved address: "localhost" may resolve to ::1
	// first while the server listens on 127.0.0.1 only.
	c.base = "http://" + c.target.String()
	if c.Sources <= 0 {
		c.Sources = 1
		if v4loop {
			c.Sources = autoSources(c.Connections)
		}
	}
	if (c.Sources > 1 || c.sourceBase > 0) && !v4loop {
		return fmt.Errorf("invalid --sources %d: spreading over 127.0.0.x needs IPv4 loopback targets, not %s", c.Sources, c.Server)
	}
	if c.sourceBase+c.Sources > 254 {
		return fmt.Errorf("invalid --sources %d: at most 254 addresses 127.0.0.1-127.0.0.254 over every process", c.Sources)
	}
	admin := c.AdminURL
	if admin == "" {
		admin, _, _ = strings.Cut(c.Server, ",")
		admin = strings.TrimSpace(admin)
	}
	au, _, aap, err := resolveURL(ctx, admin, "--admin-url", c.AllowRemote)
	if err != nil {
		return err
	}
	au.Host = aap.String()
	if au.Path == "" || au.Path == "/" {
		au.Path = "/SendWebsocketEvent"
	}
	c.adminURL = au.String()
	c.metricsURL = (&url.URL{Scheme: au.Scheme, Host: au.Host, Path: "/metrics"}).String()
	return nil
}

// autoSources is the default --sources for an IPv4 loopback target: one
// source address per 2,500 clients, up to 64. With a single source address
// every connection to the one server port needs its own ephemeral port, and
// Linux's connect(2) scans the port range for a free one: measured here, it
// cost ~320 µs per connect at 19,000 clients (75 % of the tool's CPU) against
// ~20 µs with 8 sources, where each port serves one connection per source.
// Spreading also leaves more room before the 28,000-port range runs out.
func autoSources(connections int) int {
	return min(max((connections+2499)/2500, 1), 64)
}

// parseMaxLoss reads --max-loss as a count ("10") or a percentage ("0.5%").
func (c *Config) parseMaxLoss() error {
	s := strings.TrimSpace(c.MaxLoss)
	if s == "" {
		s = "0"
	}
	c.maxLossPct = -1
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || v > 100 {
			return fmt.Errorf("invalid --max-loss %q: want a count like 10 or a percentage like 0.5%%", c.MaxLoss)
		}
		c.maxLossPct = v
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid --max-loss %q: want a count like 10 or a percentage like 0.5%%", c.MaxLoss)
	}
	c.maxLossN = v
	return nil
}

// lossAllowed returns how many lost messages out of expected pass --max-loss.
func (c *Config) lossAllowed(expected uint64) uint64 {
	if c.maxLossPct >= 0 {
		return uint64(c.maxLossPct / 100 * float64(expected))
	}
	return c.maxLossN
}

// plainJSON reports whether s can be written between JSON quotes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// resolveURL parses an http:// (or ws://) base URL and resolves its host. It
// refuses a host that does not resolve only to loopback addresses unless
// allowRemote, and prefers an IPv4 address.
func resolveURL(ctx context.Context, raw, flagName string, allowRemote bool) (*url.URL, string, netip.AddrPort, error) {
	var zero netip.AddrPort
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, "", zero, fmt.Errorf("invalid %s %q: want a URL like http://127.0.0.1:3000", flagName, raw)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	default:
		return nil, "", zero, fmt.Errorf("invalid %s %q: want http:// or ws:// (TLS is not supported)", flagName, raw)
	}
	hostname, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return nil, "", zero, fmt.Errorf("invalid %s %q: bad port %q", flagName, raw, port)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(hostname); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostname)
		if err != nil || len(ips) == 0 {
			return nil, "", zero, fmt.Errorf("invalid %s %q: cannot resolve %q: %v", flagName, raw, hostname, err)
		}
		for _, a := range ips {
			addrs = append(addrs, a.Unmap())
		}
	}
	pick := addrs[0]
	for _, a := range addrs {
		if !a.IsLoopback() && !allowRemote {
			return nil, "", zero, fmt.Errorf("%w: %s %q resolves to %s", ErrRemoteTarget, flagName, raw, a)
		}
		if a.Is4() && !pick.Is4() {
			pick = a
		}
	}
	if pick.Zone() != "" {
		return nil, "", zero, errors.New("invalid " + flagName + ": zoned IPv6 addresses are not supported")
	}
	return u, u.Host, netip.AddrPortFrom(pick, uint16(pn)), nil
}
