#!/usr/bin/env bash
# rss-spike.sh: the gateway's resident memory around a connection spike.
# Starts a single-node gateway (embedded store, test policy), registers 16
# agents with depth-3 chains, then `sint-bench spike` opens N connections
# (256 being set up at once), sends one allow-path intercept on each, holds
# all of them open for 1 s and closes them together. Prints one JSON line:
# RSS (MiB) at idle before, the peak during the spike, 2 s and 10 s after
# the close, and the live heap after forced collections at the end.
# Bounded (the spike gives up after 60 s) and self-stopping.
#
#   scripts/rss-spike.sh [conns=5000]
#   SERVE_FLAGS='--memory-limit off' scripts/rss-spike.sh     no memory limit
#   SERVE_FLAGS='--memory-relief off' LATE=40 scripts/rss-spike.sh   without the relief loop (which
#                                                             releases 20-30 s after the close)
#   GOMEMLIMIT=200MiB scripts/rss-spike.sh                    the environment wins over the flag
#   LATE=130 scripts/rss-spike.sh                             also sample RSS 130 s after the close
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-5000}
work=$(mktemp -d /tmp/sint-rss-spike.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/sint-gateway" ./cmd/sint-gateway
go build -o "$work/sint-bench" ./cmd/sint-bench
key=$("$work/sint-gateway" init --data-dir "$work/gw" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["adminApiKey"])')
# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
"$work/sint-gateway" serve --data-dir "$work/gw" --listen 127.0.0.1:18190 --policy internal/app/testdata/policy.yaml \
  --log-level info --pprof 127.0.0.1:16170 ${SERVE_FLAGS:-} >"$work/gw.log" 2>&1 &
gw=$!
pids+=("$gw")
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18190/health && break; sleep 0.1; done
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$gw/status"; }
sleep 1
idle=$(rss)
"$work/sint-bench" spike --url http://127.0.0.1:18190 --api-key "$key" --conns "$conns" --hold 1s --timeout 60s \
  >"$work/spike.json" 2>"$work/spike.err" &
spike=$!
pids+=("$spike")
peak=$idle
while kill -0 "$spike" 2>/dev/null; do
  r=$(rss); peak=$(python3 -c "print(max($peak, $r))"); sleep 0.1
done
wait "$spike" || { cat "$work/spike.err" >&2; exit 1; }
sleep 2; after2=$(rss)
sleep 8; after10=$(rss)
late=null
if [ -n "${LATE:-}" ]; then sleep "$((LATE - 10))"; late=$(rss); fi
# Two forced collections: the first only moves sync.Pool contents to the
# pools' victim caches, the second frees them.
curl -fs -o /dev/null "http://127.0.0.1:16170/debug/pprof/heap?debug=1&gc=1"
heap=$(curl -fs "http://127.0.0.1:16170/debug/pprof/heap?debug=1&gc=1" | awk '/^# HeapAlloc = / { printf "%.1f", $4 / 1048576 }')
limit=$(grep -o '"memoryLimit":"[^"]*"' "$work/gw.log" | head -1 | cut -d'"' -f4 || true)
relief=$(grep -o '"memoryRelief":"[^"]*"' "$work/gw.log" | head -1 | cut -d'"' -f4 || true)
limit="${limit:-}; relief ${relief:-?}; released $(grep -c 'memory released to the OS' "$work/gw.log" || true)x"
python3 - "$(cat "$work/spike.json")" "$idle" "$peak" "$after2" "$after10" "$heap" "${limit:-}" "${GOMEMLIMIT:-}" "${SERVE_FLAGS:-}" "$late" "${LATE:-}" <<'PY'
import json, sys
spike = json.loads(sys.argv[1])
idle, peak, a2, a10, heap = (float(x) for x in sys.argv[2:7])
rss = {"idle": idle, "peak": peak, "after2s": a2, "after10s": a10}
if sys.argv[11]:
  rss["after%ss" % sys.argv[11]] = float(sys.argv[10])
print(json.dumps({"serveFlags": sys.argv[9], "GOMEMLIMIT": sys.argv[8], "logged": sys.argv[7],
  "conns": spike["conns"], "open": spike["open"], "decisions": spike["decisions"],
  "rssMiB": rss, "liveHeapMiB": heap,
  "after10sOverLiveHeap": round(a10 / heap, 1) if heap else None}))
PY
