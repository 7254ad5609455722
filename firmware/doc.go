// Package firmware is the e-stop controller's program: a debounced
// normally-closed button, a safety relay, a heartbeat watchdog (dead-man) and
// the authenticated controller link, written against periph.io interfaces.
//
// The relay is energised only while the button is released, a link session
// with the gateway is healthy and the gateway's breaker is armed; any other
// condition opens it at once, and so does the end of Run. The controller
// keeps no latch of its own: the gateway's breaker latches, so a reconnect or
// a released button never re-energises the relay before an operator's reset.
// It dials the gateway and reconnects with exponential backoff and jitter.
//
// It runs on a Linux board with pins from periph.io/x/host (cmd/sint-estopd)
// and in tests with periph.io/x/conn/v3/gpio/gpiotest pins.
package firmware
