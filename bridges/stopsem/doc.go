// Package stopsem holds the stop semantics every bridge shares (ROS 1, MQTT,
// GPIO, MCP): what a route's actuator receives when a command on it is not
// carried out (a deny, an escalation that is pending, expired or denied),
// how a stop is kept observable while it lasts (kept for late joiners and
// re-sent at a configurable rate), and which stops latch until a deliberate
// reset (faults: the gateway, broker, master or controller link lost, a
// gateway restart, attestation failures in a row).
//
// The package is the pure core: it decides and orders; each bridge supplies
// an Output per route (how its transport publishes, keeps and withdraws the
// route's safe stop) and carries out nothing else on its own. See
// docs/stop-semantics.md for what the actuator receives per bridge and per
// cause.
//
// IEC 60204-1 mapping: a stop caused by a fault latches (ResetLatched, the
// default); a reset — the gateway's e-stop tripped and reset by an operator
// after the fault, or the bridge-local reset input — only re-enables the
// bridge. Nothing moves until the next allowed command on a route is
// actuated: the reset does not restart by itself.
package stopsem
