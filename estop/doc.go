// Package estop is the emergency stop: the breaker (armed/tripped, epoch,
// sources) that preempts in-flight decisions, hardware input and relay through
// periph.io, and the link to the e-stop controller (PROTOCOL.md §8).
package estop
