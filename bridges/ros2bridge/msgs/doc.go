// Package msgs holds the ROS 2 message types the ROS 2 bridge carries, with
// their CDR codec (XCDR1 little-endian, encapsulation 00 01 00 00: what ROS 2
// nodes on Fast DDS and Cyclone DDS exchange) and their JSON form (the ROS 2
// field names: header {stamp {sec, nanosec}, frame_id}, time_from_start
// {sec, nanosec}, …), which is the intercept's params.
//
// Decoding is strict and bounded: a sequence or string length is checked
// against the bytes left before anything is allocated, a bool is 0 or 1, a
// string ends with its NUL and is valid UTF-8 (its JSON form must carry the
// same text the robot gets), trailing bytes beyond the 4-byte padding of
// the RTPS payload are refused. Encode(Decode(b)) == b up to that padding.
package msgs
