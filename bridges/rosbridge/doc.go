// Package rosbridge is the ROS 1 side of sintgate's ROS bridge: it subscribes
// to agent-facing topics (e.g. /agent/cmd_vel), turns every message into an
// intercept (resource ros:///<actuator topic>, action publish, params = the
// message as JSON), and republishes the message on the actuator topic (e.g.
// /cmd_vel) only after the decision's attestation verifies against the
// gateway's JWKS and the params hash matches the exact bytes sent; the
// message is clamped to the attested envelope first.
//
// Concepts:
//
//   - Route: one agent topic → one actuator topic of one message type, with
//     an optional safe-stop message (zero Twist by default for Twist routes).
//   - Latch: the bridge's own stop state. It is set by a deny with
//     ESTOP_ENGAGED, by the e-stop poll reporting tripped, and by the gateway
//     being unreachable; setting it publishes every route's safe-stop message
//     and drops every allow whose intercept was sent before. It clears when
//     the poll reports the breaker armed, or when an intercept sent after the
//     latch is allowed (the gateway releases no allow while tripped).
//   - Held escalation: an escalated message waits (agent wait endpoint) until
//     approved, denied or expired; a newer message on the same route
//     supersedes it.
//
// The pure parts (ParseRoute, ParseEnvelope, Clamp, Report) do no I/O; the
// Bridge does ROS and HTTP I/O through the small interfaces Decider,
// AttestationVerifier and EstopReader.
package rosbridge
