package stopsem

import (
	"strconv"
	"sync"

	"github.com/sintgate/sintgate/bridges"
)

// DefaultMaxAttestFailures is how many attestation failures in a row make a
// fault (Faults.Attested).
const DefaultMaxAttestFailures = 3

// Faults is the fault latch of one bridge: what makes a stop latch until a
// deliberate reset, and what such a reset is. Safe for concurrent use; the
// zero value is ResetLatched with DefaultMaxAttestFailures.
//
// A fault (Fault) latches. Under ResetLatched it clears only on a
// deliberate reset observed after it: the gateway's e-stop seen tripped
// (polled or pushed) and then armed, or a trip and a reset between two
// polls (a new breaker epoch), or the bridge-local reset input (Reset). An
// "armed" answer alone — a gateway back after an outage or a restart on the
// same data directory — is no reset. Under ResetAuto the bridge's own rules
// apply (an armed poll clears).
type Faults struct {
	Mode ResetMode
	// MaxAttestFailures attestation failures in a row make a fault; 0 is
	// DefaultMaxAttestFailures, negative never.
	MaxAttestFailures int

	mu          sync.Mutex
	reason      string // non-empty while latched
	sawTrip     bool   // an e-stop trip was observed since the fault
	attestFails int
}

// Fault latches a fault with reason (the first reason is kept until the
// reset) and forgets any trip observed before it.
func (f *Faults) Fault(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reason == "" {
		f.reason = reason
	}
	f.sawTrip = false
}

// Latched reports whether a fault holds the bridge stopped (always false
// under ResetAuto), and the fault.
func (f *Faults) Latched() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Mode == ResetAuto {
		return false, ""
	}
	return f.reason != "", f.reason
}

// Estop filters one e-stop action (a poll or a pushed event) through the
// fault latch: a fault action latches a fault, a trip is remembered, and an
// unlatch is kept only if it is a deliberate reset (or the mode is
// ResetAuto, or no fault holds). The bridge applies what it returns.
func (f *Faults) Estop(a bridges.PollAction) bridges.PollAction {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a.Latch != "" {
		if a.Fault {
			if f.reason == "" {
				f.reason = a.Latch
			}
			f.sawTrip = false
		} else {
			f.sawTrip = true
		}
	}
	if !a.Unlatch || f.Mode == ResetAuto || f.reason == "" {
		return a
	}
	if f.sawTrip || a.Reset {
		f.reason, f.sawTrip = "", false
		return a
	}
	a.Unlatch = false
	return a
}

// Reset clears the fault latch (the bridge-local reset input) and reports
// whether a fault was latched.
func (f *Faults) Reset() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := f.reason != ""
	f.reason, f.sawTrip, f.attestFails = "", false, 0
	return was
}

// Attested records one attestation verification (ok or failed) and reports
// whether it made a fault: MaxAttestFailures failures in a row (the fault
// is latched here).
func (f *Faults) Attested(ok bool) (fault bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ok {
		f.attestFails = 0
		return false
	}
	f.attestFails++
	max := f.MaxAttestFailures
	if max == 0 {
		max = DefaultMaxAttestFailures
	}
	if max < 0 || f.attestFails < max {
		return false
	}
	f.attestFails = 0
	if f.reason == "" {
		f.reason = "attestation failed " + strconv.Itoa(max) + " times in a row"
	}
	f.sawTrip = false
	return true
}
