#!/bin/sh
# Model-check the e-stop models with spin (apt-get install -y spin).
# Exits non-zero if a property fails or a mutant is NOT caught.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

run() { # name, expect (ok|fail), spin args..., -- pan args...
	name=$1 expect=$2; shift 2
	sargs=""; while [ "$1" != "--" ]; do sargs="$sargs $1"; shift; done; shift
	spin -a $sargs >/dev/null
	gcc -O2 -DNFAIR=4 -o pan pan.c
	out=$(./pan "$@" 2>&1 || true)
	errs=$(printf '%s\n' "$out" | sed -n 's/.*errors: \([0-9]*\).*/\1/p')
	states=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p')
	if { [ "$expect" = ok ] && [ "$errs" = 0 ]; } || { [ "$expect" = fail ] && [ "$errs" != 0 ]; }; then
		echo "PASS $name (errors=$errs, states=$states)"
	else
		echo "FAIL $name (errors=$errs, expected $expect)"; printf '%s\n' "$out"; exit 1
	fi
	rm -f pan pan.* *.trail
}

run "breaker: no allow after the trip entry" ok "$here/breaker.pml" -- -m100000
run "breaker mutant (record before flip) is caught" fail -DBUG "$here/breaker.pml" -- -m100000
run "link: relay safety + eventually open when the gateway is down" ok "$here/link.pml" -- -a -f -m200000
sed 's/linkUp = false; lastState = TRIPPED; drive()/skip/' "$here/link.pml" > mut.pml
run "link mutant (watchdog does nothing) is caught" fail mut.pml -- -a -f -m200000
