// Package bridges holds the adapters that turn native robot messages (ROS 1,
// GPIO, MQTT, MCP) into intercepts and actuate only on verified attestations,
// and what they share: the gateway-facing interfaces (Decider,
// AttestationVerifier, EstopReader) and the operator e-stop reader.
package bridges
