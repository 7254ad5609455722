// Package mqttbridge is sintgate's MQTT bridge: it subscribes to
// agent-facing topics (e.g. agent/line1/valve7), turns every message into an
// intercept (resource mqtt://<broker name>/<device topic>, action publish,
// params = the payload, which must be a JSON object), and publishes the
// payload, byte for byte, on the device topic (e.g. line1/valve7, QoS 1, not
// retained) only after the decision's attestation verifies offline against
// the gateway's JWKS: signature, issuer, agent, resource, action, request id,
// expiry and the params hash of the exact params sent.
//
// It mirrors the ROS bridge (package bridges/rosbridge) and shares its
// gateway-facing interfaces (Decider, AttestationVerifier, EstopReader) and
// its Report format.
//
// Concepts:
//
//   - Route: one agent topic → one device topic, with an optional safe-stop
//     payload (MQTT has no universal stop message, so none by default).
//   - Latch: the bridge's own stop state. It is set by a deny with
//     ESTOP_ENGAGED, by the e-stop poll reporting anything but armed (or an
//     epoch that grew between polls), by the gateway being unreachable or
//     answering no decision, and by the loss
//     of the broker connection; setting it publishes every route's safe stop
//     and drops every allow whose intercept was sent before. It clears when
//     the poll reports the breaker armed, or when an intercept sent after
//     the latch is allowed (the gateway releases no allow while tripped).
//   - Held escalation: an escalated message waits (agent wait endpoint) until
//     approved, denied or expired; a newer message on the same route
//     supersedes it.
//   - Mailbox: each route handles one message at a time; while one is with
//     the gateway only the newest waiting message is kept (the replaced ones
//     are never actuated; the worker reports them "coalesced", one report
//     per batch).
//   - Broker connection: nothing is actuated while disconnected, and a
//     message is actuated only on the connection it arrived on; every
//     connection starts a clean session (nothing queued from before an outage
//     is delivered after it); after a loss the safe stops are published on
//     the new connection before any message is forwarded.
//
// The pure parts (ParseRoute, SetSafeStop, ParsePayload, CheckBrokerName) do
// no I/O; the Bridge does MQTT I/O through paho's autopaho and gateway I/O
// through the interfaces above. See docs/mqtt.md.
package mqttbridge
