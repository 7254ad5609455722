#!/usr/bin/env bash
# bench-floor.sh: the single-node gateway (embedded store, depth-3 chain,
# durable ledger, attestation) beside the floor (sint-bench floor: JSON
# parse + 1 Ed25519 verify + 1 sign) with the same load generator, one after
# the other in one run (DESIGN.md's HTTP target). Prints both summaries and
# the ratio.
#
#   scripts/bench-floor.sh [clients=16] [duration=10s]
#   PPROF=/some/dir scripts/bench-floor.sh …   also saves a 4 s CPU profile of the gateway
#   SERVE_FLAGS="--memory-relief off" scripts/bench-floor.sh …   extra flags for the gateway
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-16}; dur=${2:-10s}
make -s build >/dev/null
work=$(mktemp -d /tmp/sint-bench-floor.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
key=$(bin/sint-gateway init --data-dir "$work/gw" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["adminApiKey"])')
bin/sint-bench floor --listen 127.0.0.1:18089 2>"$work/floor.log" &
pids+=($!)
# cmd_vel is tier 2 in the test policy: the allow path.
bin/sint-gateway serve --data-dir "$work/gw" --listen 127.0.0.1:18090 --policy internal/app/testdata/policy.yaml \
  --log-level warn ${PPROF:+--pprof 127.0.0.1:16070} ${SERVE_FLAGS:-} >"$work/gw.log" 2>&1 &
pids+=($!)
for port in 18089 18090; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done
echo "clients=$clients duration=$dur load=$(cut -d' ' -f1-3 /proc/loadavg) $(nproc) cores"
floor=$(bin/sint-bench run --url http://127.0.0.1:18089 --floor --clients "$clients" --duration "$dur" --json 2>/dev/null)
if [ -n "${PPROF:-}" ]; then
  (sleep 3; curl -fs "http://127.0.0.1:16070/debug/pprof/profile?seconds=4" -o "$PPROF/gateway.prof" || true) &
  prof=$!
fi
gw=$(bin/sint-bench run --url http://127.0.0.1:18090 --api-key "$key" --clients "$clients" --duration "$dur" --depth 3 --json 2>/dev/null)
[ -z "${prof:-}" ] || wait "$prof"
python3 - "$floor" "$gw" <<'PY'
import json, sys
f, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("floor:  ", json.dumps(f))
print("gateway:", json.dumps(g))
print(f"ratio {g['throughput'] / f['throughput']:.2f} x floor ({g['throughput']:.0f}/s vs {f['throughput']:.0f}/s)")
PY
