// Package ros2bridge is the ROS 2 side of sintgate's ROS bridge: it reads
// agent-facing topics over DDS (e.g. /agent/cmd_vel), turns every message
// into an intercept (resource ros2:///<actuator topic>, action publish,
// params = the message's ROS 2 JSON form), and writes the message on the
// actuator topic (e.g. /cmd_vel) only after the decision's attestation
// verifies offline against the gateway's JWKS for exactly those params,
// clamped to the attested envelope.
//
// The decision flow, the latch, held escalations and the stop semantics are
// the shared topic-bridge core (package topicbridge), the same as the ROS 1
// bridge's; this package adds ROS 2 I/O: DDS readers and writers (package
// dds, Cyclone DDS), ROS 2 topic and type names, QoS per route, and the
// CDR/JSON forms of the messages (package msgs).
//
// ROS 2 over DDS: a ROS topic /cmd_vel is the DDS topic rt/cmd_vel, a type
// geometry_msgs/msg/Twist the DDS type geometry_msgs::msg::dds_::Twist_,
// samples are XCDR1 little-endian. Only topics are bridged: ROS 2 services
// and actions do not interoperate between Cyclone DDS and Fast DDS (see
// docs/ros2.md).
package ros2bridge
