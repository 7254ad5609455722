// Package msgs implements ROS 1 message serialization for the message types
// the sintgate ROS bridge speaks: geometry_msgs/Twist (and Vector3),
// std_msgs/String, std_msgs/Bool, std_msgs/Header, sensor_msgs/JointState and
// trajectory_msgs/JointTrajectory (and JointTrajectoryPoint).
//
// # Wire format
//
// ROS 1 serialization is little-endian with no padding: fixed-size fields
// are written in declaration order, strings and variable-length arrays are
// prefixed by a uint32 length (bytes for strings, elements for arrays),
// time is (uint32 secs, uint32 nsecs) and duration is (int32 secs, int32
// nsecs). The framing of a message on a TCPROS connection (one more uint32
// length) is not part of this package.
//
// # Types
//
// Every message type has a [Type] value holding its ROS name, its md5sum and
// its full message definition exactly as the Debian python message classes
// report them (`_md5sum` and `_full_text`, the text `gendeps --cat` prints),
// which is what a TCPROS connection header needs for `rostopic echo` to
// decode the stream. [Lookup] finds a Type by name.
//
// # Untrusted input
//
// [Reader] caps every length prefix against the bytes that remain, so a
// hostile length never allocates more than the input could hold. Unmarshal
// rejects trailing bytes. Errors carry codes.MalformedRequest.
//
// # JSON
//
// [ToJSON] and [FromJSON] map a message to and from a map[string]any with the
// ROS field names (Twist → {"linear":{"x":..,"y":..,"z":..},"angular":{..}});
// time and duration are {"secs":..,"nsecs":..} as in rosbridge.
//
// The package is pure: no I/O, no clock, no goroutines. Message values are
// not safe for concurrent mutation; Type values are immutable.
package msgs
