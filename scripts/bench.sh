#!/usr/bin/env bash
# bench.sh: sioloop side by side with Node socket.io 4.8 (tools/peers/node) and
# zishang520/socket.io/v2 (tools/peers/zishang). Every scenario runs against a
# freshly started server on a free loopback port, driven by tools/loadtest;
# the servers are stopped by PID. The result is one markdown table, with the
# ratio against Node on every row, printed and written to
# $BENCH_OUT/latest.md (raw JSON and logs in $BENCH_OUT/<stamp>/).
#
# Usage:
#   scripts/bench.sh                  full run, under 10 minutes on 2 cores
#   BENCH_QUICK=1 scripts/bench.sh    smaller and shorter (about 3 minutes)
#
# Environment:
#   BENCH_QUICK=1        smaller client counts and shorter runs
#   BENCH_SERVERS        servers to run, default "sioloop node zishang" (node is
#                        the ratio baseline; without it the ratio columns are empty);
#                        "sioloop-write" is sioloop with IO_URING=off (write(2) per
#                        recipient, as where a seccomp profile refuses io_uring);
#                        cluster-only variants (skipped elsewhere): "sioloop-streams"
#                        (REDIS_ADAPTER=streams), "sioloop-streams-csr" (the same with
#                        CONNECTION_STATE_RECOVERY=2m), "sioloop-sharded" (REDIS_ADAPTER=sharded)
#   BENCH_SCENARIOS      default "rss rss19k connect echo fan1k fan1k-burst fan10k fan10k-burst"
#   BENCH_LADDER         echo-ladder rates, msgs/s, default "2500,5000,10000,20000,30000,40000,45000,50000,52500,...,85000,90000"
#                        (5,000 apart from 40,000 and 2,500 from 50,000: a step of 5,000 at 60,000
#                        is 8 %, too coarse to tell 90 % of the ceiling)
#                        [5000,10000,20000]
#   BENCH_OUT            output directory, default bench-results
#   BENCH_RUN_TIMEOUT    seconds one loadtest run may take, default 150
#   BENCH_TABLE_ONLY=DIR rebuild the table from the JSON results of an earlier run in DIR
#
# Scenarios (full size; BENCH_QUICK=1 sizes in brackets):
#   rss          connect 10,000 [2,000] clients, hold 3 s: server RSS per connection
#   rss19k       the same with 19,000 [4,000] clients (one process may hold 20,000 descriptors)
#   connect      connect 19,000 [4,000] clients as fast as possible: connections/s, handshake p99
#   echo         1,000 [500] clients x 10 messages/s for 20 s [5 s]: RTT p50/p99, msg/s, losses
#   fan1k        1,000 clients, 20 broadcasts/s for 10 s [4 s], one POST at a time: time to last client
#   fan1k-burst  1,000 clients, 1,000 broadcasts/s asked, 4 POSTs in flight, 5 s [3 s]: deliveries/s
#   fan10k       10,000 [2,000] clients, one 100-byte broadcast every 500 ms for 50 s [4 s] (100 broadcasts): time to last client,
#                and from sioloop its own timing of the same broadcasts (sioloop_broadcast_*)
#   fan10k-burst 10,000 [2,000] clients, 100 broadcasts/s asked, 4 POSTs in flight, 5 s [3 s]: deliveries/s
#   fan10k-recovery  fan10k-burst with connection state recovery on (2 minutes): every event
#                carries its offset and is kept for replay (not in the default list)
#   cluster      3 replicas of each server on one redis-server started for the run (sioloop's
#                REDIS_URL, Node's @socket.io/redis-adapter), 19,000 [2,000] clients each,
#                spread over the replicas by 3 loadtest processes; one 100-byte broadcast every
#                500 ms POSTed to the first replica for 30 s [6 s] (up to 32 POSTs in flight, each
#                given 120 s, so a server slow to answer still gets one every 500 ms): time to last client,
#                deliveries/s, lost, RSS per client over the 3 replicas, CPU of every process
#                (not in the default list: BENCH_SCENARIOS=cluster; zishang is skipped)
#   echo-ladder  1,000 clients echo at each BENCH_LADDER rate (total msgs/s) for 5 s [2 s] after a
#                3 s [1 s] warm-up, until a step fails twice: the highest rate with p99 <= 10 ms, nothing
#                lost and no error, with the server's and the tool's CPU per message. Every
#                server of BENCH_SERVERS and tools/rawecho (a raw-epoll WebSocket echo server with
#                no protocol: the ceiling of this machine with the load generator on it) is
#                started at once, and one loadtest --interleave climbs them together: at each rate
#                every server still climbing runs its step in turn, the order rotated by rate,
#                so that the servers of a rate share the same minutes of the machine
#                (not in the default list: BENCH_SCENARIOS=echo-ladder)
#   cluster-rooms    cluster with BENCH_CLUSTER_ROOMS (default 100) rooms: every client subscribes
#                to one, each broadcast goes to one room in turn (loadtest --rooms), the clients
#                of every room spread over the 3 replicas; Redis pub/sub messages each replica
#                received (sioloop_redis_pubsub_messages_total, from /metrics before and after)
#   cluster-rooms-affinity  the same with the clients of a room all on one replica
#                (loadtest --room-affinity, as sticky room-based routing places them)
#
# Cluster settings: BENCH_CLUSTER_CLIENTS (clients per replica, default 19000 [2000]),
# BENCH_CLUSTER_PROCS (loadtest processes, default 3: one may hold at most ~19,900
# clients), BENCH_CLUSTER_DURATION (default 30s [6s]), BENCH_CLUSTER_GRACE (how long the
# deliveries still queued after the last broadcast may take before they count as lost, default
# 60s), BENCH_CLUSTER_TIMEOUT (seconds one cluster run may take, default 420), REDIS_SERVER
# (default redis-server).
#
# The load tool shares the machine's cores with the server: its own CPU is in
# the table; when it nears 100 % of a core per worker, it is the limit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${BENCH_QUICK:-0}
SERVERS=${BENCH_SERVERS:-"sioloop node zishang"}
SCENARIOS=${BENCH_SCENARIOS:-"rss rss19k connect echo fan1k fan1k-burst fan10k fan10k-burst"}
OUT=${BENCH_OUT:-$ROOT/bench-results}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-150}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=${BENCH_TABLE_ONLY:-$OUT/$STAMP}
BIN=$(mktemp -d "${TMPDIR:-/tmp}/sioloop-bench.XXXXXX")
SERVER_PID=""
CLUSTER_PIDS=()
LADDER_PIDS=()
REDIS_PID=""
SCENARIO_ENV=""
STARTED=$(date +%s)

log() { printf '[bench %4ds] %s\n' $(($(date +%s) - STARTED)) "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
	if [[ -n $SERVER_PID ]]; then stop_server; fi
	if [[ -n $REDIS_PID || ${#CLUSTER_PIDS[@]} -gt 0 ]]; then stop_cluster; fi
	local pid
	for pid in "${LADDER_PIDS[@]}"; do stop_pid "$pid"; done
	rm -rf "$BIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $QUICK == 1 ]]; then
	N_RSS=2000 N_CONN=4000 N_ECHO=500 ECHO_DUR=5s N_BIG=2000
	FAN_DUR=4s FAN10K_DUR=4s BURST_DUR=3s RSS_HOLD=2s
	N_CLUSTER=${BENCH_CLUSTER_CLIENTS:-2000} CLUSTER_DUR=${BENCH_CLUSTER_DURATION:-6s}
	LADDER=${BENCH_LADDER:-5000,10000,20000} LADDER_STEP=2s LADDER_WARMUP=1s
else
	N_RSS=10000 N_CONN=19000 N_ECHO=1000 ECHO_DUR=20s N_BIG=10000
	FAN_DUR=10s FAN10K_DUR=50s BURST_DUR=5s RSS_HOLD=3s
	N_CLUSTER=${BENCH_CLUSTER_CLIENTS:-19000} CLUSTER_DUR=${BENCH_CLUSTER_DURATION:-30s}
	LADDER=${BENCH_LADDER:-2500,5000,10000,20000,30000,40000,45000,50000,52500,55000,57500,60000,62500,65000,67500,70000,72500,75000,77500,80000,85000,90000} LADDER_STEP=5s LADDER_WARMUP=3s
fi
CLUSTER_PROCS=${BENCH_CLUSTER_PROCS:-3}
CLUSTER_TIMEOUT=${BENCH_CLUSTER_TIMEOUT:-420}
CLUSTER_GRACE=${BENCH_CLUSTER_GRACE:-60s}
CLUSTER_ROOMS=${BENCH_CLUSTER_ROOMS:-100}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

# ---------------------------------------------------------------- build

if [[ -z ${BENCH_TABLE_ONLY:-} ]]; then
command -v go >/dev/null || die "go is not on PATH"
command -v node >/dev/null || die "node is not on PATH (needed for the Node peer and the table)"
mkdir -p "$RUN_DIR"
log "building sioloop, tools/loadtest and tools/peers/zishang into $BIN"
(cd "$ROOT" && go build -o "$BIN/sioloop" . && go build -o "$BIN/loadtest" ./tools/loadtest && go build -o "$BIN/rawecho" ./tools/rawecho) || die "go build failed"
if [[ " $SCENARIOS " == *" cluster"* ]]; then
	command -v "$REDIS_SERVER" >/dev/null || die "$REDIS_SERVER is not on PATH (the cluster scenario starts one; Debian: apt-get install redis-server)"
fi
if [[ " $SERVERS " == *" zishang "* ]]; then
	(cd "$ROOT/tools/peers/zishang" && go build -o "$BIN/zishang" .) || die "go build in tools/peers/zishang (its own module) failed"
fi
if [[ " $SERVERS " == *" node "* ]]; then
	[[ -f $ROOT/tools/peers/node/package.json ]] || die "tools/peers/node/package.json is missing"
	# npm records what it installed in node_modules/.package-lock.json: a
	# lockfile newer than that means node_modules is stale.
	if [[ ! -f $ROOT/tools/peers/node/node_modules/.package-lock.json ||
		$ROOT/tools/peers/node/package-lock.json -nt $ROOT/tools/peers/node/node_modules/.package-lock.json ]]; then
		log "npm ci in tools/peers/node"
		(cd "$ROOT/tools/peers/node" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci failed"
	fi
fi

# ---------------------------------------------------------------- servers

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_server NAME PORT LOG: starts NAME on 127.0.0.1:PORT, sets SERVER_PID.
start_server() {
	local name=$1 port=$2 logf=$3
	# A clean environment: no auth secrets or settings from the caller's shell.
	local -a base=(env -u JWT_SECRET -u JWT_PUBLIC_KEY -u ADMIN_TOKEN -u NAMESPACES -u PING_INTERVAL -u PING_TIMEOUT -u CONNECTION_STATE_RECOVERY -u REDIS_ADAPTER)
	# shellcheck disable=SC2206 # SCENARIO_ENV is a list of NAME=value words
	base+=($SCENARIO_ENV)
	case $name in
	sioloop) "${base[@]}" PORT="$port" ADMIN_ADDR=off LOG_LEVEL=warn "$BIN/sioloop" >"$logf" 2>&1 & ;;
	sioloop-write) "${base[@]}" PORT="$port" ADMIN_ADDR=off LOG_LEVEL=warn IO_URING=off "$BIN/sioloop" >"$logf" 2>&1 & ;;
	sioloop-streams) "${base[@]}" PORT="$port" ADMIN_ADDR=off LOG_LEVEL=warn REDIS_ADAPTER=streams "$BIN/sioloop" >"$logf" 2>&1 & ;;
	sioloop-streams-csr) "${base[@]}" PORT="$port" ADMIN_ADDR=off LOG_LEVEL=warn REDIS_ADAPTER=streams CONNECTION_STATE_RECOVERY=2m "$BIN/sioloop" >"$logf" 2>&1 & ;;
	sioloop-sharded) "${base[@]}" PORT="$port" ADMIN_ADDR=off LOG_LEVEL=warn REDIS_ADAPTER=sharded "$BIN/sioloop" >"$logf" 2>&1 & ;;
	node) (cd "$ROOT/tools/peers/node" && exec "${base[@]}" PORT="$port" HOST=127.0.0.1 node server.js) >"$logf" 2>&1 & ;;
	zishang) "${base[@]}" PORT="$port" HOST=127.0.0.1 "$BIN/zishang" >"$logf" 2>&1 & ;;
	rawecho) "$BIN/rawecho" --addr "127.0.0.1:$port" >"$logf" 2>&1 & ;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	local i
	for i in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf" >&2; die "$name exited at start"; }
		sleep 0.1
	done
	die "$name did not listen on $port within 15 s"
}

# stop_server: stops SERVER_PID.
stop_server() {
	local pid=$SERVER_PID
	SERVER_PID=""
	stop_pid "$pid"
}

# stop_pid PID: SIGTERM, SIGKILL after 5 s.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# stop_cluster: stops the replicas, then Redis.
stop_cluster() {
	local pid
	for pid in "${CLUSTER_PIDS[@]}"; do stop_pid "$pid"; done
	CLUSTER_PIDS=()
	if [[ -n $REDIS_PID ]]; then
		stop_pid "$REDIS_PID"
		REDIS_PID=""
	fi
}

# cpu_seconds PID: utime+stime of a process so far, in seconds.
cpu_seconds() {
	awk '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# redis_in PORT: sioloop_redis_pubsub_messages_total of the server on PORT (0 without it).
redis_in() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" 2>/dev/null |
		awk '$1 == "sioloop_redis_pubsub_messages_total" { v = $2 } END { print v + 0 }'
}

# run_cluster SERVER SCENARIO: 3 replicas of SERVER on a fresh redis-server, one
# loadtest (CLUSTER_PROCS processes) over all of them, POSTs to the first.
run_cluster() {
	local server=$1 scenario=$2 rport i port urls="" pids="" base="$RUN_DIR/$server-$2" pid rooms=""
	local -a ports=()
	case $scenario in
	cluster-rooms) rooms="--rooms $CLUSTER_ROOMS" ;;
	cluster-rooms-affinity) rooms="--rooms $CLUSTER_ROOMS --room-affinity" ;;
	esac
	rport=$(free_port)
	"$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --maxclients 1000 \
		>"$base.redis.log" 2>&1 &
	REDIS_PID=$!
	for i in $(seq 1 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; then break; fi
		kill -0 "$REDIS_PID" 2>/dev/null || { cat "$base.redis.log" >&2; die "redis-server exited at start"; }
		sleep 0.1
	done
	for i in 1 2 3; do
		port=$(free_port)
		SCENARIO_ENV="REDIS_URL=redis://127.0.0.1:$rport"
		start_server "$server" "$port" "$base.server$i.log"
		CLUSTER_PIDS+=("$SERVER_PID")
		SERVER_PID=""
		urls+="${urls:+,}http://127.0.0.1:$port"
		ports+=("$port")
		pids+="${pids:+,}${CLUSTER_PIDS[-1]}"
	done
	SCENARIO_ENV=""
	local -a cpu0=()
	for pid in "${CLUSTER_PIDS[@]}" "$REDIS_PID"; do cpu0+=("$(cpu_seconds "$pid")"); done
	local -a in0=()
	for port in "${ports[@]}"; do in0+=("$(redis_in "$port")"); done
	local t0=$SECONDS
	log "$scenario on $server (replicas ${CLUSTER_PIDS[*]}, redis $REDIS_PID on $rport): loadtest --procs $CLUSTER_PROCS --connections $((3 * N_CLUSTER))"
	timeout --signal=INT --kill-after=30 "$CLUSTER_TIMEOUT" "$BIN/loadtest" \
		--server "$urls" --pid "$pids" --procs "$CLUSTER_PROCS" --quiet \
		--handshake-timeout 10s --grace "$CLUSTER_GRACE" --max-errors 1000000000 --max-loss 100% \
		--scenario fanout --connections $((3 * N_CLUSTER)) --rate 2 --posters 32 --post-timeout 120s --payload 100 --duration "$CLUSTER_DUR" $rooms \
		--json "$base.json" >"$base.txt" 2>&1 || log "loadtest exited with status $? (see $base.txt)"
	# CPU seconds of every server process over the whole loadtest run
	# (connect, measure, drain), for "what takes the CPU".
	local j=0 line="{\"wall_seconds\":$((SECONDS - t0))"
	for pid in "${CLUSTER_PIDS[@]}"; do
		line+=",\"replica$((j + 1))_cpu_seconds\":$(awk -v a="$(cpu_seconds "$pid")" -v b="${cpu0[$j]}" 'BEGIN{printf "%.2f", a-b}')"
		j=$((j + 1))
	done
	for j in 0 1 2; do line+=",\"replica$((j + 1))_redis_in\":$(($(redis_in "${ports[$j]}") - in0[j]))"; done
	j=3
	line+=",\"redis_cpu_seconds\":$(awk -v a="$(cpu_seconds "$REDIS_PID")" -v b="${cpu0[$j]}" 'BEGIN{printf "%.2f", a-b}')}"
	echo "$line" >"$base.cpu.json"
	log "$scenario on $server: CPU seconds $line"
	stop_cluster
	grep -E '^(connections|deliveries|to last client|loss|errors|server|loadtest) ' "$base.txt" | sed 's/^/    /' >&2 || true
}

# scenario_args NAME: the loadtest flags of a scenario.
scenario_args() {
	case $1 in
	rss) echo "--scenario connect --connections $N_RSS --duration $RSS_HOLD" ;;
	rss19k) echo "--scenario connect --connections $N_CONN --duration $RSS_HOLD" ;;
	connect) echo "--scenario connect --connections $N_CONN --duration 1s" ;;
	echo) echo "--scenario echo --connections $N_ECHO --interval 100ms --duration $ECHO_DUR" ;;
	fan1k) echo "--scenario fanout --connections 1000 --rate 20 --duration $FAN_DUR" ;;
	fan1k-burst) echo "--scenario fanout --connections 1000 --rate 1000 --posters 4 --duration $BURST_DUR" ;;
	fan10k) echo "--scenario fanout --connections $N_BIG --rate 2 --payload 100 --duration $FAN10K_DUR" ;;
	fan10k-burst | fan10k-recovery) echo "--scenario fanout --connections $N_BIG --rate 100 --posters 4 --duration $BURST_DUR" ;;
	echo-ladder) echo "--scenario echo-ladder --interleave --connections 1000 --ladder $LADDER --step $LADDER_STEP --warmup $LADDER_WARMUP --step-tries 2" ;;
	*) die "unknown scenario $1" ;;
	esac
}

# scenario_env NAME SERVER: environment words the server of a scenario gets.
scenario_env() {
	case $1:$2 in
	fan10k-recovery:node) echo "CONNECTION_STATE_RECOVERY=120000" ;;
	fan10k-recovery:*) echo "CONNECTION_STATE_RECOVERY=2m" ;;
	esac
}

# run_ladder SERVERS...: starts every server at once (each on its own port)
# and climbs the echo ladder over all of them with one loadtest --interleave.
run_ladder() {
	local server port urls="" pids="" names="" load
	for server in "$@"; do
		case $server in
		sioloop-streams | sioloop-streams-csr | sioloop-sharded)
			log "echo-ladder: $server is a cluster variant, skipped"
			continue
			;;
		esac
		port=$(free_port)
		SCENARIO_ENV=""
		start_server "$server" "$port" "$RUN_DIR/$server-echo-ladder.server.log"
		LADDER_PIDS+=("$SERVER_PID")
		SERVER_PID=""
		urls+="${urls:+,}http://127.0.0.1:$port"
		pids+="${pids:+,}${LADDER_PIDS[-1]}"
		names+="${names:+,}$server"
	done
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	log "echo-ladder, interleaved over $names (pids $pids), load average $load: loadtest $(scenario_args echo-ladder)"
	echo "{\"load_average_start\":\"$load\"}" >"$RUN_DIR/echo-ladder.load.json"
	# shellcheck disable=SC2046 # the flags are meant to split
	timeout --signal=INT --kill-after=10 $((RUN_TIMEOUT * 3 * $#)) "$BIN/loadtest" \
		--server "$urls" --pid "$pids" --names "$names" --quiet \
		--handshake-timeout 5s --grace 5s --max-errors 1000000000 --max-loss 100% \
		--json "$RUN_DIR/echo-ladder.json" $(scenario_args echo-ladder) \
		>"$RUN_DIR/echo-ladder.txt" 2>&1 || log "loadtest exited with status $? (see $RUN_DIR/echo-ladder.txt)"
	echo "{\"load_average_start\":\"$load\",\"load_average_end\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$RUN_DIR/echo-ladder.load.json"
	for pid in "${LADDER_PIDS[@]}"; do stop_pid "$pid"; done
	LADDER_PIDS=()
	grep -E '^(best|result) ' "$RUN_DIR/echo-ladder.txt" | sed 's/^/    /' >&2 || true
}

# ---------------------------------------------------------------- runs

for scenario in $SCENARIOS; do
	if [[ $scenario == echo-ladder ]]; then
		# The raw echo server speaks only what the echo ladder needs: it is
		# the ceiling of that table and of no other row.
		# shellcheck disable=SC2086 # a list of names
		run_ladder $SERVERS $([[ " $SERVERS " == *" rawecho "* ]] || echo rawecho)
		continue
	fi
	for server in $SERVERS; do
		if [[ $server == rawecho ]]; then
			log "$scenario: rawecho only runs the echo ladder, skipped"
			continue
		fi
		if [[ $scenario == cluster* ]]; then
			case $server in
			sioloop | sioloop-write | sioloop-streams | sioloop-streams-csr | sioloop-sharded | node) run_cluster "$server" "$scenario" ;;
			*) log "cluster: $server has no Redis adapter here, skipped" ;;
			esac
			continue
		fi
		case $server in
		sioloop-streams | sioloop-streams-csr | sioloop-sharded)
			log "$scenario: $server is a cluster variant, skipped"
			continue
			;;
		esac
		port=$(free_port)
		logf=$RUN_DIR/$server-$scenario.server.log
		SCENARIO_ENV=$(scenario_env "$scenario" "$server")
		start_server "$server" "$port" "$logf"
		log "$scenario on $server (pid $SERVER_PID, port $port): loadtest $(scenario_args "$scenario")"
		# shellcheck disable=SC2046 # the flags are meant to split
		timeout --signal=INT --kill-after=10 "$RUN_TIMEOUT" "$BIN/loadtest" \
			--server "http://127.0.0.1:$port" --pid "$SERVER_PID" --quiet \
			--handshake-timeout 5s --grace 5s --max-errors 1000000000 --max-loss 100% \
			--json "$RUN_DIR/$server-$scenario.json" $(scenario_args "$scenario") \
			>"$RUN_DIR/$server-$scenario.txt" 2>&1 || log "loadtest exited with status $? (see $RUN_DIR/$server-$scenario.txt)"
		stop_server
		grep -E '^(connections|round trip|deliveries|to last client|errors|best) ' "$RUN_DIR/$server-$scenario.txt" | sed 's/^/    /' >&2 || true
	done
done
fi # BENCH_TABLE_ONLY

# ---------------------------------------------------------------- table

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
versions="$(go version | awk '{print $3}'), node $(node --version)"
# The command as it was run: the settings that change what runs, then the script.
cmd="scripts/bench.sh"
for v in BENCH_LADDER BENCH_CLUSTER_CLIENTS BENCH_SCENARIOS BENCH_SERVERS BENCH_QUICK; do
	if [[ -n ${!v:-} ]]; then cmd="$v=\"${!v}\" $cmd"; fi
done
elapsed=$(($(date +%s) - STARTED))
if [[ -n ${BENCH_TABLE_ONLY:-} ]]; then
	machine="$machine (this machine; the runs may have been elsewhere)"
	cmd="BENCH_TABLE_ONLY=$BENCH_TABLE_ONLY $cmd"
	elapsed="table only"
else
	elapsed="$elapsed s"
fi

ROOT="$ROOT" RUN_DIR="$RUN_DIR" SERVERS="$SERVERS" MACHINE="$machine" VERSIONS="$versions" CMD="$cmd" QUICK="$QUICK" \
	ELAPSED="$elapsed" node - >"$RUN_DIR/table.md" <<'EOF'
const fs = require("fs");
const path = require("path");
const dir = process.env.RUN_DIR;
const servers = process.env.SERVERS.split(/\s+/).filter(Boolean);
const names = { sioloop: "sioloop", "sioloop-write": "sioloop, IO_URING=off", "sioloop-streams": "sioloop, streams",
  "sioloop-streams-csr": "sioloop, streams + recovery", "sioloop-sharded": "sioloop, sharded", node: "Node socket.io 4.8", zishang: "zishang v2" };
const load = (s, sc) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, `${s}-${sc}.json`), "utf8")); } catch { return null; }
};
const size = (sc) => {
  const r = servers.map((s) => load(s, sc)).find(Boolean);
  return r ? r.setup.connections.toLocaleString("en-US") : "?";
};
const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v) ? "n/a" :
  typeof v === "string" ? v : v.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
// rows: [label, scenario, value(result) -> number|string, decimals, ratio?]
const rows = [
  [`RSS per connection, ${size("rss")} idle clients (KiB)`, "rss", (r) => r.server && r.server.rss_per_connection_kib, 2, true],
  [`RSS per connection, ${size("rss19k")} idle clients (KiB)`, "rss19k", (r) => r.server && r.server.rss_per_connection_kib, 2, true],
  [`connect ${size("connect")} clients: connections/s`, "connect", (r) => r.connections.per_second, 0, true],
  [`connect ${size("connect")} clients: handshake p99 (ms)`, "connect", (r) => r.connections.connect_time_ms.p99, 1, true],
  [`connect ${size("connect")} clients: connected`, "connect", (r) => `${r.connections.connected}/${r.setup.connections}`, 0, false],
  [`echo ${size("echo")} clients x 10/s: RTT p50 (ms)`, "echo", (r) => r.latency_ms.p50, 3, true],
  [`echo ${size("echo")} clients x 10/s: RTT p99 (ms)`, "echo", (r) => r.latency_ms.p99, 3, true],
  [`echo ${size("echo")} clients x 10/s: msg/s received`, "echo", (r) => r.messages.received_per_second, 0, true],
  [`echo: lost / duplicated / reordered`, "echo", (r) => `${r.loss.lost} / ${r.loss.duplicates} / ${r.loss.reordered} of ${r.loss.expected}`, 0, false],
  [`echo: server CPU (% of a core)`, "echo", (r) => r.server && r.server.cpu_percent, 0, true],
  [`fan-out ${size("fan1k")} clients @20/s: time to last client p50 (ms)`, "fan1k", (r) => r.fanout.time_to_last_client_ms.p50, 2, true],
  [`fan-out ${size("fan1k")} clients @20/s: time to last client p99 (ms)`, "fan1k", (r) => r.fanout.time_to_last_client_ms.p99, 2, true],
  [`fan-out ${size("fan1k-burst")} clients, burst: deliveries/s`, "fan1k-burst", (r) => r.fanout.deliveries_per_second, 0, true],
  [`fan-out ${size("fan10k")} clients @2/s: time to last client p50 (ms)`, "fan10k", (r) => r.fanout.time_to_last_client_ms.p50, 1, true],
  [`fan-out ${size("fan10k")} clients @2/s: time to last client p99 (ms)`, "fan10k", (r) => r.fanout.time_to_last_client_ms.p99, 1, true],
  [`fan-out ${size("fan10k")} clients @2/s: the server's own encoding to last write p50 / p99 (ms)`, "fan10k",
    (r) => (r.server_timing ? `${fmt(r.server_timing.duration_ms.p50, 1)} / ${fmt(r.server_timing.duration_ms.p99, 1)}` : null), 0, false],
  [`fan-out ${size("fan10k")} clients @2/s: other work on the machine meanwhile (% of a core)`, "fan10k", (r) => r.machine && r.machine.measure_other_percent, 1, false],
  [`fan-out ${size("fan10k-burst")} clients, burst: deliveries/s`, "fan10k-burst", (r) => r.fanout.deliveries_per_second, 0, true],
  [`fan-out ${size("fan10k-burst")} clients, burst: server CPU (% of a core)`, "fan10k-burst", (r) => r.server && r.server.cpu_percent, 0, true],
  [`fan-out ${size("fan10k-burst")} clients, burst: time to last client p99 (ms)`, "fan10k-burst", (r) => r.fanout.time_to_last_client_ms.p99, 1, true],
  [`fan-out ${size("fan10k-recovery")} clients, recovery on: deliveries/s`, "fan10k-recovery", (r) => r.fanout.deliveries_per_second, 0, true],
  [`fan-out ${size("fan10k-recovery")} clients, recovery on: time to last client p99 (ms)`, "fan10k-recovery", (r) => r.fanout.time_to_last_client_ms.p99, 1, true],
];
const csize = (() => {
  const r = servers.map((s) => load(s, "cluster")).find(Boolean);
  return r ? `3 × ${(r.setup.connections / 3).toLocaleString("en-US")}` : "?";
})();
const side = (s, sc = "cluster") => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, `${s}-${sc}.cpu.json`), "utf8")); } catch { return null; }
};
const cl = `cluster, ${csize} clients`;
rows.push(
  [`${cl}: time to last client p50 (ms)`, "cluster", (r) => r.fanout.time_to_last_client_ms.p50, 1, true],
  [`${cl}: time to last client p99 (ms)`, "cluster", (r) => r.fanout.time_to_last_client_ms.p99, 1, true],
  [`${cl}: deliveries/s`, "cluster", (r) => r.fanout.deliveries_per_second, 0, true],
  [`${cl}: broadcasts accepted (per s) / reordered deliveries`, "cluster", (r) => `${r.fanout.accepted} (${r.fanout.rate_per_second}/s) / ${r.loss.reordered}`, 0, false],
  [`${cl}: lost of expected`, "cluster", (r) => `${r.loss.lost} of ${r.loss.expected}`, 0, false],
  [`${cl}: RSS per client, 3 replicas (KiB)`, "cluster", (r) => r.server && r.server.rss_per_connection_kib, 2, true],
  [`${cl}: connections/s`, "cluster", (r) => r.connections.per_second, 0, true],
  [`${cl}: CPU s, 3 replicas / Redis / loadtest`, "cluster", (r, s) => {
    const c = side(s);
    const rep = r.server ? r.server.cpu_seconds.toFixed(1) : "?";
    return `${rep} / ${c ? c.redis_cpu_seconds.toFixed(1) : "?"} / ${r.loadtest.cpu_seconds.toFixed(1)} over ${c ? c.wall_seconds : "?"} s`;
  }, 0, false],
);
for (const [sc, what] of [["cluster-rooms", "members spread"], ["cluster-rooms-affinity", "room on one replica"]]) {
  const rr = servers.map((s) => load(s, sc)).find(Boolean);
  const lab = `cluster, ${rr ? rr.setup.rooms : "?"} rooms, ${what}`;
  rows.push(
    [`${lab}: time to last member p50 (ms)`, sc, (r) => r.fanout.time_to_last_client_ms.p50, 1, true],
    [`${lab}: time to last member p99 (ms)`, sc, (r) => r.fanout.time_to_last_client_ms.p99, 1, true],
    [`${lab}: lost of expected`, sc, (r) => `${r.loss.lost} of ${r.loss.expected}`, 0, false],
    [`${lab}: Redis messages received per replica (per broadcast)`, sc, (r, s) => {
      const c = side(s, sc);
      if (!c || c.replica1_redis_in === undefined) return null;
      const v = [c.replica1_redis_in, c.replica2_redis_in, c.replica3_redis_in];
      return `${v.join(" / ")} (${v.map((x) => (x / r.fanout.accepted).toFixed(2)).join(" / ")})`;
    }, 0, false],
    [`${lab}: CPU s, 3 replicas / Redis`, sc, (r, s) => {
      const c = side(s, sc);
      return `${r.server ? r.server.cpu_seconds.toFixed(1) : "?"} / ${c ? c.redis_cpu_seconds.toFixed(1) : "?"}`;
    }, 0, false],
  );
}
for (const [sc, what] of [["fan1k", "@20/s"], ["fan1k-burst", "burst"], ["fan10k", "@2/s"], ["fan10k-burst", "burst"]]) {
  rows.push([`fan-out ${size(sc)} clients ${what}: delivered / expected`, sc,
    (r) => `${r.fanout.delivered}/${r.fanout.expected_deliveries} (${(100 * r.fanout.delivered_ratio).toFixed(1)}%)`, 0, false]);
}
const scenarios = [...new Set(rows.map((r) => r[1]))]; // the echo ladder has its own table below
rows.push(["errors, all scenarios", null, null, 0, false]);
rows.push(["loadtest CPU, busiest scenario (% of a core)", null, null, 0, false]);

const head = ["metric", ...servers.map((s) => names[s] || s)];
const base = servers.includes("node") ? "node" : null;
const others = servers.filter((s) => s !== base);
if (base) for (const s of others) head.push(`${names[s] || s} ÷ Node`);
const out = [];
out.push(`| ${head.join(" | ")} |`);
out.push(`|${head.map((h, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
for (const [label, sc, get, d, ratio] of rows) {
  const vals = servers.map((s) => {
    if (sc === null && label.startsWith("errors")) {
      let n = 0, any = false;
      for (const x of scenarios) { const r = load(s, x); if (r) { any = true; n += r.error_total; } }
      return any ? n : null;
    }
    if (sc === null) {
      let m = null;
      for (const x of scenarios) { const r = load(s, x); if (r) m = Math.max(m ?? 0, r.loadtest.cpu_percent); }
      return m;
    }
    const r = load(s, sc);
    if (!r) return null;
    try { const v = get(r, s); return v === undefined ? null : v; } catch { return null; }
  });
  if (vals.every((v) => v === null)) continue; // a scenario not in this run
  const cells = [label, ...vals.map((v) => fmt(v, d))];
  if (base) {
    const b = vals[servers.indexOf(base)];
    for (const s of others) {
      const v = vals[servers.indexOf(s)];
      cells.push(ratio && typeof v === "number" && typeof b === "number" && b !== 0 ? `${(v / b).toFixed(v / b < 0.1 ? 3 : 2)}×` : "—");
    }
  }
  out.push(`| ${cells.join(" | ")} |`);
}
const quick = process.env.QUICK === "1" ? " (quick mode: smaller and shorter runs)" : "";
console.log(`### Benchmark: sioloop vs Node socket.io 4.8 vs zishang520/socket.io v2${quick}\n`);
console.log(`Machine: ${process.env.MACHINE}; ${process.env.VERSIONS}. Command: \`${process.env.CMD}\` (${process.env.ELAPSED}), ` +
  `load generator \`tools/loadtest\` on the same machine. Raw results: \`${dir.startsWith(process.env.ROOT + "/") ? path.relative(process.env.ROOT, dir) : dir}\`.\n`);
if (out.length > 2) { // not when only the echo ladder ran
console.log(out.join("\n"));
console.log(`\nLower is better for times, RSS and CPU; higher for rates. Time to last client: per broadcast, the latest ` +
  `arrival among all clients, from the start of the POST. Burst rows keep 4 POSTs in flight at the asked rate: ` +
  `the deliveries/s achieved is the figure, broadcasts may reach the server out of order (reordered counts are expected there). ` +
  `zishang v2.5.0 drops pre-encoded broadcast packets after the first of a flush (tools/peers/zishang/main.go), hence its delivered/expected.`);
}
// The echo ladder: its own table, with the raw-epoll echo server as the
// ceiling of the machine beside the servers. An interleaved run (one
// loadtest over every server) is echo-ladder.json; runs before it wrote one
// file per server.
const inter = (() => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, "echo-ladder.json"), "utf8")); } catch { return null; }
})();
const L = (s) => (inter ? inter.servers.find((x) => x.name === s) || null : load(s, "echo-ladder"));
const lservers = [...servers.filter((s) => s !== "rawecho"), "rawecho"].filter((s) => L(s));
if (lservers.length > 0) {
  const lnames = { ...names, rawecho: "raw epoll echo (ceiling)" };
  const best = (r) => r.best_step || null;
  const failed = (r) => r.steps.find((x) => !x.pass);
  const raw = L("rawecho");
  const pct = (a, b) => (b > 0 ? fmt(100 * a / b, 0) + " %" : "n/a");
  const lrows = [
    ["highest sustained msgs/s (p99 ≤ 10 ms, 0 lost)", (r) => fmt(r.best_rate_per_second, 0) +
      (r.steps.length === r.rates_per_second.length && r.steps[r.steps.length - 1].pass ? " (every step passed)" : "")],
    ["% of the raw-epoll ceiling", (r) => (raw ? pct(r.best_rate_per_second, raw.best_rate_per_second) : "n/a")],
    ["÷ Node", (r) => (L("node") && L("node").best_rate_per_second > 0 ? (r.best_rate_per_second / L("node").best_rate_per_second).toFixed(2) + "×" : "n/a")],
    ["RTT p50 / p99 at that rate (ms)", (r) => (best(r) ? `${fmt(best(r).p50_ms, 3)} / ${fmt(best(r).p99_ms, 2)}` : "n/a")],
    ["server CPU at that rate: % of a core, µs per message", (r) => (best(r) ? `${fmt(best(r).server_cpu_percent, 0)} %, ${fmt(best(r).server_cpu_us_per_message, 1)} µs` : "n/a")],
    ["loadtest CPU at that rate: % of a core, µs per message", (r) => (best(r) ? `${fmt(best(r).loadtest_cpu_percent, 0)} %, ${fmt(best(r).loadtest_cpu_us_per_message, 1)} µs` : "n/a")],
    ["first failing step", (r) => { const f = failed(r); return f ? `${fmt(f.rate_per_second, 0)}/s: p99 ${fmt(f.p99_ms, 1)} ms, lost ${f.lost}, server ${fmt(f.server_cpu_percent, 0)} % + loadtest ${fmt(f.loadtest_cpu_percent, 0)} %` : "none (add steps)"; }],
  ];
  const r0 = L(lservers[0]);
  const how = inter ? "interleaved: at each rate every server runs its step in turn, the order rotated by rate" : "one server after another";
  console.log(`\n#### Echo ladder: ${r0.connections.toLocaleString("en-US")} clients, steps ${r0.rates_per_second.join(", ")} msgs/s of ${r0.step_seconds} s after a ${r0.warmup_seconds} s warm-up (${how})\n`);
  try {
    const la = JSON.parse(fs.readFileSync(path.join(dir, "echo-ladder.load.json"), "utf8"));
    console.log(`Load average (1, 5, 15 min) at the start: ${la.load_average_start}; at the end: ${la.load_average_end}.\n`);
  } catch {}
  console.log(`| metric | ${lservers.map((s) => lnames[s] || s).join(" | ")} |`);
  console.log(`|---|${lservers.map(() => "---:").join("|")}|`);
  for (const [label, get] of lrows) console.log(`| ${label} | ${lservers.map((s) => { try { return get(L(s)); } catch { return "n/a"; } }).join(" | ")} |`);
  if (inter) {
    // Per rate: the steps of every server, seconds apart.
    console.log(`\n| msgs/s | ${lservers.map((s) => lnames[s] || s).join(" | ")} | order |`);
    console.log(`|---:|${lservers.map(() => "---").join("|")}|---|`);
    for (const round of inter.rounds) {
      const cells = lservers.map((s) => {
        const st = L(s).steps.find((x) => x.rate_per_second === round.rate_per_second);
        if (!st) return "";
        const v = (st.pass ? "pass" : "**fail**") + (st.tries > 1 ? ` (try ${st.tries})` : "");
        const other = st.other_cpu_percent === undefined ? "" : `, other ${fmt(st.other_cpu_percent, 0)} %`;
        return `${v}, p99 ${fmt(st.p99_ms, 2)} ms, ${fmt(st.server_cpu_us_per_message, 1)} + ${fmt(st.loadtest_cpu_us_per_message, 1)} µs${other}`;
      });
      console.log(`| ${fmt(round.rate_per_second, 0)} | ${cells.join(" | ")} | ${round.order.join(", ")} |`);
    }
    console.log(`\nEach cell: verdict, round-trip p99, CPU µs per echoed message of the server + of the load tool over the step's measured phase, ` +
      `and the CPU (% of a core) that went to neither of them meanwhile: other people's work on a shared machine.`);
  }
  console.log(`\nA step passes when every client stays connected, the tool sends ≥ 95 % of the asked rate, every echo comes back ` +
    `and the round-trip p99 is at most 10 ms; a step that fails is run once more (one stall of this shared machine ` +
    `must not end the climb), and the answer is the last step that passed. CPU figures cover the measured ` +
    `phase of that step; µs per message = CPU time ÷ echoes. The raw echo server (tools/rawecho) has no protocol: ` +
    `what it cannot sustain, no server can with the load generator on this machine.`);
}
if (servers.some((s) => load(s, "cluster"))) {
  console.log(`\nCluster rows: 3 replicas of each server on one redis-server (sioloop's REDIS_URL, Node's @socket.io/redis-adapter), ` +
    `the clients spread over the replicas by ${servers.map((s) => load(s, "cluster")).find(Boolean).setup.procs} loadtest processes, ` +
    `a 100-byte broadcast every 500 ms POSTed to the first replica (up to 32 POSTs in flight: a server slow to answer ` +
    `still gets one every 500 ms, and may then deliver them out of order); RSS per client is the 3 replicas' RSS growth over the clients; ` +
    `CPU seconds cover the whole loadtest run (connect, measure, drain).`);
}
EOF

mkdir -p "$OUT"
cp "$RUN_DIR/table.md" "$OUT/latest.md"
cat "$RUN_DIR/table.md"
log "done in $(($(date +%s) - STARTED)) s; table in $OUT/latest.md"
