// Package opcuabridge is sintgate's OPC UA bridge: agents ask it, on a small
// authenticated JSON-over-HTTP front (Handler, POST /v1/opcua), to write a
// variable, call a method or read a variable of a PLC or robot controller;
// every request becomes an intercept (resource
// opcua://<endpoint name>/ns<namespace index>/<node path>, action write,
// call or read, params the value(s) with their OPC UA types), and the bridge
// carries it out on the controller over OPC UA only after the decision's
// attestation verifies offline for exactly those params. It answers the
// controller's status code.
//
// Concepts:
//
//   - Node: one variable or method the integrator exposes (NodeSpec): its
//     path in resources, the real node id, its OPC UA type(s), its payload
//     mappings (which params value is a speed in m/s, a force in N: the
//     gateway checks them against the envelope, the bridge clamps them to
//     the attested envelope) or nonPhysical, and its safe-state writes.
//   - Types: a value whose OPC UA type is not the node's, or that does not
//     fit the type, is refused before any intercept (MALFORMED_REQUEST
//     naming both types).
//   - Stop semantics (package bridges/stopsem): each node is a route whose
//     safe stop is its safe-state writes. The bridge latches — performs
//     every node's safe-state writes, keeps re-writing them, and refuses
//     writes and calls — on an e-stop (pushed or polled), an unreachable
//     gateway, a gateway restart, repeated attestation failures and a lost
//     controller connection. Faults latch until a deliberate reset (the
//     e-stop tripped and reset after the fault, or the local reset socket).
//   - Controller link: secure channel SignAndEncrypt with certificates when
//     configured; security mode None only when configured explicitly. The
//     link's health is read every HealthInterval (the server's state);
//     losing it latches a fault, and the safe states are written again as
//     soon as it is back.
//
// See docs/opcua.md.
package opcuabridge
