// Package firmware is the e-stop controller's program: a debounced
// normally-closed button, a safety relay, a heartbeat watchdog (dead-man) and
// the authenticated controller link, written against periph.io interfaces.
package firmware
