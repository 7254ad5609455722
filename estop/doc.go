// Package estop is the emergency stop: the breaker (armed/tripped, epoch,
// sources) that preempts in-flight decisions, hardware input and relay through
// periph.io, and the link to the e-stop controller (PROTOCOL.md §8).
//
// # Concepts
//
//   - Breaker holds the state. Trip flips it first (Tripped and Guard see it
//     at once), cancels every context derived with Track (cause
//     *TrippedError, errors.Is ErrTripped, code ESTOP_ENGAGED), tells
//     subscribers, then records the trip in the ledger (Recorder) and
//     persists it (Persister). The ledger runs Guard under its sequencing
//     lock for allow entries, so no allow commits after a trip entry until
//     Reset, which records its entry before re-arming.
//   - Sources: gpio and controller sources latch (Reset fails with
//     *LatchedError until Clear); api, anomaly and replica trips are
//     momentary. A trip while tripped adds the source without an epoch bump.
//   - Button (a normally-closed contact on a gpio.PinIn, debounced, read
//     back periodically; an open circuit trips) and Relay (a gpio.PinOut,
//     energised only while armed; Halt de-energises for good). Only cmd/
//     resolves pin names and owns the hardware.
//
// # Sub-packages
//
//   - estop/link: the HMAC-authenticated frame link to the controller
//     (heartbeats, watchdog) and its gateway-side Server.
//   - estop/anomaly: the pure anomaly detector behind automatic trips.
//   - estop/replica: trip/reset fan-out across replicas (Redis pub/sub).
//   - estop/model: Promela models checked with spin.
//
// The controller program itself is package firmware (cmd/sint-estopd).
// Design decisions and figures: docs/estop.md.
package estop
