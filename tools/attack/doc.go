// Package attack is the attack battery: one Go test per known way a
// client can hurt a sioloop server, run against the real binary.
//
// TestMain builds the server once per test binary (go build from the
// module root into a temporary directory). Every test then starts that
// binary as a child process on free loopback ports with the settings of
// its attack, output captured for asserting log lines, and waits for it to
// listen. The canary, two raw WebSocket Socket.IO clients (the server runs
// EVENT_LOOPS=2 and deals connections out round robin, so one sits on each
// reactor), connects first and emits "message" every 50 ms per client for
// the whole test, timing the echo. The
// test runs its attack for a bounded time (at most 15 s) while the
// server's VmRSS is sampled every 100 ms, and asserts:
//
//   - the process is alive at the end and exits 0 on SIGTERM;
//   - peak RSS − baseline RSS stays under the bound the test states;
//   - the canary's echo round trip p99 stays under its bound and the
//     canary never lost its connection;
//   - the refusal the attack must meet (a status, a close, an ack, a log
//     line), as the test's doc comment says.
//
// Each test logs its figures (baseline and peak RSS, canary p50/p99/max,
// outcome) on one "figures:" line: go test -v ./tools/attack.
//
// Layout: harness_test.go holds TestMain, the child process and its log;
// rss_test.go the RSS sampler; wsclient_test.go a raw WebSocket client
// (masked frames, Engine.IO open, Socket.IO CONNECT); canary_test.go the
// canary; rawhttp_test.go raw TCP and HTTP/1.1 helpers; run_test.go ties
// them into begin/finish. Each attack has a file of its own.
//
// The tests run one after another (no t.Parallel): they measure latency
// and memory on a shared machine, and several open a thousand sockets.
// The whole package takes about two to three minutes.
//
// A server that ignores a setting the test relies on (an unknown
// environment variable is ignored) fails the test on its refusal
// assertion, never by hanging: every wait has a deadline, and the child is
// killed by PID when the test ends. A safety cap stops an attack early
// when the server's RSS grows past 1.5 GiB over its baseline, so that a
// leaking server does not take the machine down with it.
package attack
