#!/usr/bin/env bash
# scripts/test.sh — the test command of sioloop.
#
# On a Debian machine with Go and Node.js (>= 18), it:
#   1. installs redis-server from Debian's packages when it is missing (the Redis adapter tests
#      start their own on a free loopback port and stop it by PID; also, from the same binary, a
#      master, a replica and three Sentinels (redis-server --sentinel), and a 3-master Redis
#      Cluster; the sharded-adapter tests need Redis 7, Debian 12's), and the Node packages of
#      the interop harness (npm ci in tools/interop and tools/peers/node), skipped when
#      node_modules already matches package-lock.json;
#   2. checks that gofmt would change no Go file (node_modules aside), runs go vet ./... and
#      checks that go mod tidy would change nothing, in the server's
#      module and in the benchmark peer's own (tools/peers/zishang, which is also vetted);
#   3. runs go test -race -count=1 ./... (the interop tests start real servers and drive them
#      with the official Node clients, see tools/interop/README.md);
#   4. runs the allocation guards (go test -run Allocs) once more without -race;
# then prints a summary and exits non-zero if any step failed.
#
# Usage: ./scripts/test.sh [go test packages, default ./...]
# Environment:
#   GO_TEST_TIMEOUT   go test -timeout (default 12m)
#   GO_TEST_FLAGS     extra go test flags, e.g. "-short" or "-run TestSocketIO -v"
#   INTEROP_TARGET    sioloop (default) or node: the server the interop tests run against
#   NEED_REDIS=0      do not install redis-server (Debian package) when it is missing: the
#                     Redis adapter tests then skip instead of failing (default 1: install it)
#   NEED_CHROMIUM=0   do not install Debian's chromium when it is missing: the headless-browser
#                     test then skips instead of failing (default 1: install it)
#   REQUIRE_IO_URING  1 (set here when the kernel allows io_uring): the io_uring send tests fail
#                     instead of skipping when a ring cannot be set up
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

# CI may run without HOME; Go and npm keep their caches under it.
if [ -z "${HOME:-}" ]; then
	HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
	export HOME="${HOME:-/root}"
fi
export DEBIAN_FRONTEND=noninteractive

GO_TEST_TIMEOUT=${GO_TEST_TIMEOUT:-12m}
read -r -a GO_TEST_EXTRA <<<"${GO_TEST_FLAGS:-}"
PACKAGES=("$@")
if [ ${#PACKAGES[@]} -eq 0 ]; then
	PACKAGES=(./...)
fi

SUMMARY=()
FAILED=0

log() { printf '\n==> %s\n' "$*"; }

# record STEP STATUS SECONDS [NOTE]
record() {
	SUMMARY+=("$(printf '  %-34s %-7s %5ss  %s' "$1" "$2" "$3" "${4:-}")")
	if [ "$2" = FAILED ]; then
		FAILED=1
	fi
}

need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "test.sh: $1 is not installed: $2" >&2
		exit 1
	fi
}

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: need root to apt-get install $*" >&2
		return 1
	fi
	if [ -z "${APT_UPDATED:-}" ]; then
		apt-get update -qq
		APT_UPDATED=1
	fi
	apt-get install -y -qq --no-install-recommends "$@"
}

# ensure_redis installs Debian's redis-server when it is missing (for the Redis adapter tests).
# ensure_chromium installs Debian's chromium when it is missing (for the headless-browser test).
ensure_chromium() {
	if command -v chromium >/dev/null 2>&1; then
		return 0
	fi
	log "installing chromium (Debian package)"
	apt_install chromium
}

ensure_redis() {
	if command -v redis-server >/dev/null 2>&1; then
		return 0
	fi
	log "installing redis-server (Debian package)"
	apt_install redis-server
}

# npm_install DIR runs npm ci in DIR unless DIR/node_modules was installed from the same
# package-lock.json by the same Node major version (a stamp file holds both).
npm_install() {
	local dir=$1 stamp want start
	stamp="$dir/node_modules/.sioloop-install-stamp"
	want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1) node$(node -p 'process.versions.node.split(".")[0]')"
	start=$SECONDS
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		record "npm ci ${dir#"$ROOT"/}" ok 0 "(up to date)"
		return 0
	fi
	log "npm ci in ${dir#"$ROOT"/}"
	if (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error); then
		printf '%s\n' "$want" >"$stamp"
		record "npm ci ${dir#"$ROOT"/}" ok $((SECONDS - start))
	else
		record "npm ci ${dir#"$ROOT"/}" FAILED $((SECONDS - start))
	fi
}

need go "install Go (see go.mod for the version)"
need node "install Node.js >= 18 (Debian: apt-get install nodejs npm)"
need npm "install npm (Debian: apt-get install npm)"
log "$(go version), node $(node --version), npm $(npm --version), $(nproc) cores"

if [ "${NEED_REDIS:-1}" = 1 ]; then
	start=$SECONDS
	if ensure_redis; then
		record "redis-server" ok $((SECONDS - start)) "$(redis-server --version | cut -d' ' -f3)"
	else
		record "redis-server" FAILED $((SECONDS - start))
	fi
	# The Redis tests fail instead of skipping when redis-server is missing.
	export NEED_REDIS=1
fi

if [ "${NEED_CHROMIUM:-1}" = 1 ]; then
	start=$SECONDS
	if ensure_chromium; then
		record "chromium" ok $((SECONDS - start)) "$(chromium --version 2>/dev/null | cut -d' ' -f2)"
	else
		record "chromium" FAILED $((SECONDS - start))
	fi
	# The browser test fails instead of skipping when chromium is missing.
	export NEED_CHROMIUM=1
fi

# Broadcasts go out through io_uring where the kernel allows it; here it
# does, so the tests of that path must run, not skip.
if [ -z "${REQUIRE_IO_URING:-}" ] && [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
	export REQUIRE_IO_URING=1
fi

npm_install "$ROOT/tools/peers/node"
npm_install "$ROOT/tools/interop"

log "go vet ${PACKAGES[*]}"
start=$SECONDS
if go vet "${PACKAGES[@]}"; then
	record "go vet ${PACKAGES[*]}" ok $((SECONDS - start))
else
	record "go vet ${PACKAGES[*]}" FAILED $((SECONDS - start))
fi

log "gofmt -l"
start=$SECONDS
unformatted=$(find . -name '*.go' -not -path '*/node_modules/*' -print0 | xargs -0 gofmt -l)
if [ -z "$unformatted" ]; then
	record "gofmt -l" ok $((SECONDS - start))
else
	echo "$unformatted"
	record "gofmt -l" FAILED $((SECONDS - start)) "gofmt -w $(echo $unformatted)"
fi

log "go mod tidy -diff (., tools/peers/zishang)"
start=$SECONDS
if go mod tidy -diff && (cd tools/peers/zishang && go mod tidy -diff && go vet ./...); then
	record "go mod tidy -diff" ok $((SECONDS - start))
else
	record "go mod tidy -diff" FAILED $((SECONDS - start)) "run go mod tidy (and in tools/peers/zishang)"
fi

log "go test -race -count=1 -timeout $GO_TEST_TIMEOUT ${GO_TEST_EXTRA[*]} ${PACKAGES[*]}"
start=$SECONDS
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
go test -race -count=1 -timeout "$GO_TEST_TIMEOUT" "${GO_TEST_EXTRA[@]}" "${PACKAGES[@]}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# Package result lines: "ok  pkg 1.2s", "FAIL pkg 1.2s" or "FAIL pkg [build failed]", "?   pkg [no test files]".
n_ok=$(grep -cE '^ok\s' "$out" || true)
failed_pkgs=$(grep -E '^FAIL\s+\S+' "$out" | awk '{print $2}' | sort -u | tr '\n' ' ' || true)
n_fail=$(wc -w <<<"$failed_pkgs")
n_none=$(grep -cE '^\?\s' "$out" || true)
note="packages: $n_ok ok, $n_fail failed, $n_none without tests"
if [ "$status" -eq 0 ]; then
	record "go test -race ${PACKAGES[*]}" ok $((SECONDS - start)) "$note"
else
	record "go test -race ${PACKAGES[*]}" FAILED $((SECONDS - start)) "$note${failed_pkgs:+ (${failed_pkgs% })}"
fi

# The allocation guards (files tagged !race: the race detector allocates on
# its own) run once more without -race.
log "go test -count=1 -run Allocs ${PACKAGES[*]} (allocation guards, without -race)"
start=$SECONDS
if go test -count=1 -run Allocs "${PACKAGES[@]}" >"$out" 2>&1; then
	record "go test -run Allocs (no -race)" ok $((SECONDS - start))
else
	grep -vE '^(ok|\?)\s' "$out" || true
	record "go test -run Allocs (no -race)" FAILED $((SECONDS - start))
fi

log "summary"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
	echo "test.sh: FAILED"
	exit 1
fi
echo "test.sh: all steps passed"
