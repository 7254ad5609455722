// Package gpio drives GPIO actuators (periph.io gpio.PinOut: digital level
// or hardware PWM) only on attested gateway decisions, and halts them on
// e-stop.
//
// Concepts:
//
//   - Actuator: one output pin bound to one resource (e.g.
//     gpio://cell1/gripper), with the level it takes when inert.
//   - Command: the intercept params for action "set": {"value":true|false}
//     for a digital pin or {"duty":0..1} for a PWM pin (ParseCommand).
//   - Bridge.Apply: verifies the attestation (sub = the bridge's agent, aud =
//     the resource, act = set, paramsHash = sha256(JCS(params)) of the exact
//     params bytes, not replayed, issued after the last halt) before touching
//     the pin. Bridge.Set does intercept → (approval wait) → Apply.
//   - Bridge.Halt: periph's conn.Resource meaning — stop motion, go inert:
//     every pin is halted and driven to its inert level, and every command
//     is refused until Resume. WatchEstop halts on a pushed trip, a
//     tripped or unreachable gateway and an e-stop epoch change between two
//     polls (bridges.EstopWatch).
//
// The package name shadows periph's gpio; import periph's as pgpio.
package gpio
