// Package topicbridge is the transport-neutral core of sintgate's topic
// bridges (ROS 1: bridges/rosbridge, ROS 2: bridges/ros2bridge): routes from
// an agent-side topic to an actuator-side topic, where every agent message
// becomes an intercept and reaches the actuator only after the decision's
// attestation verifies for exactly the params sent, clamped to the attested
// envelope.
//
// Concepts:
//
//   - Route: one agent topic → one actuator topic, with the transport's
//     Codec (the message's JSON form, the clamp) and Output (the actuator
//     publisher), and an optional safe stop (a stopsem.Output).
//   - Latch: the bridge's own stop state. It is set by a deny with
//     ESTOP_ENGAGED, by the e-stop watch (pushed trips and polls: tripped,
//     an epoch or boot change, the gateway unreachable) and by faults
//     (stopsem.Faults); setting it publishes every route's safe stop and
//     drops every allow whose intercept was sent before. It clears when the
//     watch reads the breaker armed, or when an intercept sent after the
//     latch is allowed (the gateway releases no allow while tripped) —
//     unless a fault holds it until a deliberate reset.
//   - Held escalation: an escalated message waits (agent wait endpoint)
//     until approved, denied or expired; a newer message on the same route
//     supersedes it.
//
// A transport supplies the routes, a Report sink (its decisions topic), a
// link check and the subscriptions (Run's subscribe callback); everything
// else — the decision flow, attestation check, stop semantics — is here,
// once.
package topicbridge
