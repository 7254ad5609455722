#!/usr/bin/env bash
# pprof-components.sh: a gateway CPU profile taken under load (PPROF=dir of
# scripts/bench-floor.sh or bench-replicas.sh, or `serve --pprof` and
# /debug/pprof/profile) as CPU-µs per decision by component of the allow
# path: each component is the profile's time under its functions
# (`go tool pprof -focus`), divided by the decisions made during the profile.
#
#   scripts/pprof-components.sh bin/sint-gateway gateway.prof DECISIONS_PER_SECOND
#
# DECISIONS_PER_SECOND is the gateway's throughput during the profile (the
# sint-bench summary). Components do not overlap; "other" is the rest.
set -euo pipefail
bin=$1; prof=$2; rate=$3
python3 - "$bin" "$prof" "$rate" <<'PY'
import subprocess, sys, re
binp, prof, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
def secs(s):
    m = re.match(r'([0-9.]+)(ms|s|us|µs)', s); v=float(m.group(1)); u=m.group(2)
    return v/1000 if u=='ms' else (v/1e6 if u in('us','µs') else v)
def q(focus, ignore=None):
    args=["go","tool","pprof","-top","-focus",focus]
    if ignore: args+=["-ignore",ignore]
    out=subprocess.run(args+[binp,prof],capture_output=True,text=True).stdout
    m=re.search(r'Showing nodes accounting for ([0-9.]+(?:ms|s|us|µs))', out)
    return secs(m.group(1)) if m else 0
hdr=subprocess.run(["go","tool","pprof","-top",binp,prof],capture_output=True,text=True).stdout
total=secs(re.search(r'Total samples = ([0-9.]+(?:ms|s|us|µs))',hdr).group(1).replace(' ',''))
dur=float(re.search(r'Duration: ([0-9.]+)s',hdr).group(1))
dec=rate*dur
inner = r"gateway\.Authenticate$|SignAttestation|gateway\.ParseRequest$|gateway\.Decide$|FirstSeen|Pipeline\)\.appendDecision|Pipeline\)\.appendWith|Pipeline\)\.Intercept\.func1"
comps=[
 ("request signature (verify)", q(r"gateway\.Authenticate$")),
 ("attestation signature", q(r"SignAttestation")),
 ("parse + params hash", q(r"gateway\.ParseRequest$")),
 ("Decide (chain, injection scan, physics, tier)", q(r"gateway\.Decide$")),
 ("replay cache", q(r"FirstSeen")),
 ("ledger append, request side (prepare, queue, wait)", q(r"Pipeline\)\.appendDecision|Pipeline\)\.appendWith")),
 ("observer (metrics, risk, decision log, anomaly)", q(r"Pipeline\)\.Intercept\.func1")),
 ("rest of the pipeline (payload, answer, track)", q(r"Pipeline\)\.Intercept$", inner)),
 ("server handler outside the pipeline (answer JSON)", q(r"server\.\(\*Server\)\.intercept$", r"Pipeline\)\.Intercept$")),
 ("HTTP outside the handler (fasthttp, read/write syscalls)", q(r"fasthttp\.\(\*Server\)\.serveConn", r"server\.\(\*Server\)\.intercept$")),
 ("ledger writer goroutine (filestore: frame, hash, write, fdatasync)", q(r"filestore\.\(\*Store\)\.writer")),
 ("checkpointer (filestore LastOfType scan)", q(r"Checkpointer\)\.Run")),
 ("GC background marking", q(r"runtime\.gcBgMarkWorker")),
]
s=sum(v for _,v in comps)
comps.append(("other (scheduler, netpoll, timers)", max(total-s,0)))
print(f"profile {dur:.0f} s, {total:.2f} s CPU, {rate:.0f} decisions/s -> {total/dec*1e6:.0f} CPU-µs per decision")
for name,v in comps:
    print(f"  {name:66s} {v/dec*1e6:6.1f} µs  {v/total*100:5.1f} %")
PY
