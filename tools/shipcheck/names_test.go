package shipcheck

// The names below look like settings but are not in the settings table (config.go, printed by "sioloop config"). Each
// list says why it is allowed, and a test fails when an entry is no longer
// needed, so that the lists stay short and true.

// runtimeEnv are variables the Go runtime reads: deploy/deployment.yaml
// sets them from the container's resource limits.
var runtimeEnv = map[string]string{
	"GOMAXPROCS": "Go runtime: number of Ps",
	"GOMEMLIMIT": "Go runtime: soft memory limit",
}

// comingEnv are variables the manifests may set before the binary reads
// them, each with the issue that brings it. TestComingEnvNotYetSettings
// fails once the settings table lists one of them: delete it here then.
var comingEnv = map[string]string{}

// readmeOtherNames are names README.md mentions that have the shape of a
// variable (upper case with an underscore, or NAME=value) and are not
// sioloop settings.
var readmeOtherNames = map[string]string{
	"CGO_ENABLED":           "Go build variable (Docker section)",
	"RLIMIT_NOFILE":         "kernel resource limit (FAQ)",
	"SO_REUSEPORT":          "socket option (REUSE_PORT)",
	"CONNECT_ERROR":         "Socket.IO packet type",
	"BENCH_CLUSTER_CLIENTS": "scripts/bench.sh variable",
	"BENCH_QUICK":           "scripts/bench.sh variable",
	"BENCH_LADDER":          "scripts/bench.sh variable",
	"BENCH_SCENARIOS":       "scripts/bench.sh variable",
	"BENCH_SERVERS":         "scripts/bench.sh variable",
	"VERSION":               "Docker build argument (docker build --build-arg VERSION=…)",
	"EIO":                   "Engine.IO query parameter (?EIO=4)",
	"GODEBUG":               "Go runtime variable (GODEBUG=gctrace=1, Benchmarks)",
}
