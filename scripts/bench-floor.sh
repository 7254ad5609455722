#!/usr/bin/env bash
# bench-floor.sh: the single-node gateway (embedded store, depth-3 chain,
# durable ledger, attestation) beside the floor (sint-bench floor: JSON
# parse + 1 Ed25519 verify + 1 sign) with the same load generator, one after
# the other in one run (DESIGN.md's HTTP target, issue 20's 0.8 × at 16
# clients and 0.9 × at 64, p99 ≤ 2 × the floor's). For each client count it
# prints both summaries, the throughput and p99 ratios, and the CPU each
# process used per decision (from /proc/<pid>/stat over the run: the gateway's
# cost beside the floor's, which stays meaningful on a shared machine).
#
#   scripts/bench-floor.sh [clients=16,64] [duration=10s]
#   ROUNDS=3 scripts/bench-floor.sh …   floor and gateway alternated 3 times per client count
#   PPROF=/some/dir scripts/bench-floor.sh …   also saves a 4 s CPU profile of the gateway per run
#   SERVE_FLAGS="--memory-relief off" scripts/bench-floor.sh …   extra flags for the gateway
#   GATEWAY_BIN=/tmp/old-sint-gateway scripts/bench-floor.sh …   another gateway build (A/B beside the floor)
#   PORT_BASE=28089 scripts/bench-floor.sh …   floor on PORT_BASE, gateway on +1, pprof on +2 (default 18089)
set -euo pipefail
cd "$(dirname "$0")/.."
clients_list=${1:-16,64}; dur=${2:-10s}; rounds=${ROUNDS:-1}
make -s build >/dev/null
gwbin=${GATEWAY_BIN:-bin/sint-gateway}
fport=${PORT_BASE:-18089}; gport=$((fport + 1)); pport=$((fport + 2))
work=$(mktemp -d /tmp/sint-bench-floor.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
key=$("$gwbin" init --data-dir "$work/gw" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["adminApiKey"])')
bin/sint-bench floor --listen 127.0.0.1:$fport 2>"$work/floor.log" &
pids+=($!); floor_pid=$!
# cmd_vel is tier 2 in the test policy: the allow path. SERVE_FLAGS is split
# into words on purpose.
# shellcheck disable=SC2086
"$gwbin" serve --data-dir "$work/gw" --listen 127.0.0.1:$gport --policy internal/app/testdata/policy.yaml \
  --log-level warn ${PPROF:+--pprof 127.0.0.1:$pport} ${SERVE_FLAGS:-} >"$work/gw.log" 2>&1 &
pids+=($!); gw_pid=$!
for port in $fport $gport; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run NAME PID ARGS…: one sint-bench run; prints its JSON summary with the
# server's and the generator's CPU (µs per decision) added.
run() {
  local name=$1 pid=$2; shift 2
  local t0 out
  t0=$(ticks "$pid")
  out=$(bin/sint-bench run "$@" --json 2>/dev/null)
  python3 - "$out" "$t0" "$(ticks "$pid")" "$(getconf CLK_TCK)" "$name" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); t0, t1, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d["server_cpu_us_per_decision"] = round((t1 - t0) / hz * 1e6 / max(d["requests"], 1), 1)
d["target"] = sys.argv[5]
print(json.dumps(d))
PY
}
IFS=',' read -ra clients_arr <<<"$clients_list"
echo "duration=$dur rounds=$rounds load=$(cut -d' ' -f1-3 /proc/loadavg) $(nproc) cores"
for clients in "${clients_arr[@]}"; do
  for r in $(seq "$rounds"); do
    floor=$(run floor "$floor_pid" --url http://127.0.0.1:$fport --floor --clients "$clients" --duration "$dur")
    if [ -n "${PPROF:-}" ]; then
      (sleep 3; curl -fs "http://127.0.0.1:$pport/debug/pprof/profile?seconds=4" -o "$PPROF/gateway-c$clients-r$r.prof" || true) &
      prof=$!
    fi
    gw=$(run gateway "$gw_pid" --url http://127.0.0.1:$gport --api-key "$key" --clients "$clients" --duration "$dur" --depth 3)
    [ -z "${prof:-}" ] || wait "$prof"
    python3 - "$floor" "$gw" <<'PY'
import json, sys
f, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("floor:  ", json.dumps(f))
print("gateway:", json.dumps(g))
print(f"clients {g['clients']}: ratio {g['throughput'] / f['throughput']:.2f} x floor ({g['throughput']:.0f}/s vs {f['throughput']:.0f}/s), "
      f"p99 {g['p99_ms']:.2f} vs {f['p99_ms']:.2f} ms ({g['p99_ms'] / f['p99_ms']:.2f} x), "
      f"server CPU {g['server_cpu_us_per_decision']:.0f} vs {f['server_cpu_us_per_decision']:.0f} µs/decision "
      f"({g['server_cpu_us_per_decision'] / f['server_cpu_us_per_decision']:.2f} x)")
PY
  done
done
