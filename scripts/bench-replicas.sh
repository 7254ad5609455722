#!/usr/bin/env bash
# bench-replicas.sh: decisions/s of N gateway replicas on one PostgreSQL and
# one Redis (the services of scripts/services.sh), each driven by its own
# sint-bench at the same time. Prints each replica's summary and the sum.
#
#   scripts/bench-replicas.sh [replicas=2] [clients-per-replica=32] [duration=10s]
#   PPROF=/some/dir scripts/bench-replicas.sh …   also saves a CPU profile of replica 0
#
# With SINT_TEST_PG_URL and SINT_TEST_REDIS_ADDR already set (eval "$(scripts/services.sh env)"
# of a checkout whose services run), those services are used as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2}; clients=${2:-32}; dur=${3:-10s}
make -s build >/dev/null
if [ -z "${SINT_TEST_PG_URL:-}" ] || [ -z "${SINT_TEST_REDIS_ADDR:-}" ]; then
  scripts/services.sh up pg redis >/dev/null
  eval "$(scripts/services.sh env pg redis)"
fi
work=$(mktemp -d /tmp/sint-bench-replicas.XXXXXX)
db="sint_bench_$(date +%s)"
psql "$SINT_TEST_PG_URL" -qc "CREATE DATABASE $db" >/dev/null
url=$(echo "$SINT_TEST_PG_URL" | sed -E "s#/[a-z_]+(\?|$)#/$db\1#")
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; psql "$SINT_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
keep_logs() { for f in "$work"/gw*.log "$work"/bench*.err; do echo "== $f"; tail -5 "$f"; done; }
key=$(bin/sint-gateway init --data-dir "$work/gw0" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["adminApiKey"])')
for i in $(seq 0 $((n-1))); do
  if [ "$i" -gt 0 ]; then mkdir -p "$work/gw$i"; cp "$work/gw0"/{keys.json,config.json} "$work/gw$i"/; cp "$work/gw0"/*.db "$work/gw$i"/ 2>/dev/null || true; fi
  bin/sint-gateway serve --data-dir "$work/gw$i" --listen 127.0.0.1:$((18180+i)) --store "$url" --redis "$SINT_TEST_REDIS_ADDR" \
    --policy internal/app/testdata/policy.yaml --log-level warn ${PPROF:+--pprof 127.0.0.1:$((16060+i))} >"$work/gw$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 0 $((n-1))); do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$((18180+i))/health/ready" >/dev/null && break; sleep 0.1; done
done
echo "replicas=$n clients/replica=$clients duration=$dur load=$(cut -d' ' -f1-3 /proc/loadavg) $(nproc) cores"
# CPU of the gateways over the run (/proc/<pid>/stat, clock ticks): CPU per
# decision stays meaningful on a shared machine.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
gw_t0=$(ticks "${pids[@]}")
bpids=()
for i in $(seq 0 $((n-1))); do
  bin/sint-bench run --url "http://127.0.0.1:$((18180+i))" --api-key "$key" --clients "$clients" --agents 8 --duration "$dur" --json >"$work/bench$i.json" 2>"$work/bench$i.err" &
  bpids+=($!)
done
if [ -n "${PPROF:-}" ]; then  # PPROF=dir: a 4 s CPU profile of replica 0 mid-run
  sleep 1; curl -fs "http://127.0.0.1:16060/debug/pprof/profile?seconds=4" -o "$PPROF/replica0.prof" || true
fi
failed=0
for p in "${bpids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" = 1 ]; then keep_logs; exit 1; fi
gw_t1=$(ticks "${pids[@]}")
python3 - "$work" "$n" "$gw_t0" "$gw_t1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
t0, t1, hz = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
total = requests = 0
for i in range(n):
    d = json.load(open(f"{work}/bench{i}.json"))
    total += d["throughput"]
    requests += d["requests"]
    print(f"replica {i}:", json.dumps(d))
print(f"total decisions/s: {total:.0f}; gateways' CPU {(t1 - t0) / hz * 1e6 / max(requests, 1):.0f} µs per decision")
PY
