#!/usr/bin/env bash
# bench-estop.sh: e-stop preemption beside its floor in one run (issue 20:
# trip → 1,000 in-flight intercepts answered, p99 ≤ 1.5 × the wake floor).
# Alternates the gateway's BenchmarkTripPreempt1000 (1,000 allows held at the
# ledger, trip, time to every ESTOP_ENGAGED answer) and estop's
# BenchmarkWakeFloor1000/shared-select-deep (1,000 tracked goroutines waiting
# as an intercept waits at the ledger, under the same stack depth, doing
# nothing after the wake), each with 10 trips per run, and prints each run,
# the medians, their ratio and the CPU per answer in the trip window.
#
#   scripts/bench-estop.sh [pairs=5]
#   GOGC=400 scripts/bench-estop.sh …   the collector setting `sint-gateway serve` runs with
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
work=$(mktemp -d /tmp/sint-bench-estop.XXXXXX)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/gateway.test" ./gateway/
go test -c -o "$work/estop.test" ./estop/
echo "pairs=$pairs GOGC=${GOGC:-100} load=$(cut -d' ' -f1-3 /proc/loadavg) $(nproc) cores"
for _ in $(seq "$pairs"); do
  "$work/estop.test" -test.run '^$' -test.bench 'WakeFloor1000/shared-select-deep' -test.benchtime 10x -test.cpu 2 | grep '^Benchmark' | tee -a "$work/floor.txt"
  "$work/gateway.test" -test.run '^$' -test.bench 'TripPreempt1000' -test.benchtime 10x -test.cpu 2 | grep '^Benchmark' | tee -a "$work/gateway.txt"
done
python3 - "$work/floor.txt" "$work/gateway.txt" <<'PY'
import re, statistics, sys
def metrics(path):
    out = {"p50-µs": [], "p99-µs": [], "cpu-µs/answer": []}
    for line in open(path):
        for v, k in re.findall(r"([0-9.]+) (p50-µs|p99-µs|cpu-µs/answer)", line):
            out[k].append(float(v))
    return {k: statistics.median(v) for k, v in out.items() if v}
f, g = metrics(sys.argv[1]), metrics(sys.argv[2])
print(f"floor   median p50 {f['p50-µs']:.0f} µs, p99 {f['p99-µs']:.0f} µs, CPU {f['cpu-µs/answer']:.1f} µs/answer")
print(f"gateway median p50 {g['p50-µs']:.0f} µs, p99 {g['p99-µs']:.0f} µs, CPU {g['cpu-µs/answer']:.1f} µs/answer")
print(f"p99 ratio {g['p99-µs'] / f['p99-µs']:.2f} x floor (target 1.5), CPU ratio {g['cpu-µs/answer'] / f['cpu-µs/answer']:.2f} x")
PY
