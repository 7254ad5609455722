// Package bridges holds the adapters that turn native robot messages (ROS 1,
// GPIO, MQTT, MCP) into intercepts and actuate only on verified attestations.
package bridges
