// Package dds is sintgate's binding to Eclipse Cyclone DDS (the C library
// libddsc, 0.10): one participant per domain, topics, readers and writers
// that move serialized samples, a waitset take and matched counts. It is
// the only package of the project that uses cgo.
//
// The binding is type-agnostic: a topic has a DDS type name (for ROS 2
// "pkg::msg::dds_::Name_", see ROSType) and the samples are byte slices
// holding the full serialized payload, encapsulation header included (for
// ROS 2: XCDR1 little-endian, 00 01 00 00, then the CDR body). Encoding and
// decoding are done in Go (package msgs); C only copies bytes. Internally a
// small custom sertype stands in for an IDL-generated type, as ROS 2's
// rmw_cyclonedds does; it sends no XTypes type information, so endpoints
// match on topic name, type name and QoS alone. An endpoint may carry a
// ROS 2 type hash (QoS.TypeHash): it is announced in USER_DATA as ROS 2
// Iron and later do, and CheckPeers compares it with the matched peers'.
//
// Built without cgo (CGO_ENABLED=0) every constructor returns ErrNoCgo, so
// the rest of the project still builds and vets; the ROS 2 bridge binary is
// built with CGO_ENABLED=1 (make ros2bridge).
package dds

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNoCgo is returned by every constructor of a build without cgo.
var ErrNoCgo = errors.New("dds: built without cgo: the DDS binding needs CGO_ENABLED=1 and libddsc (Cyclone DDS)")

// ErrClosed is returned by operations on a closed entity.
var ErrClosed = errors.New("dds: closed")

// MaxSampleBytes bounds one sample the binding hands out or accepts.
const MaxSampleBytes = 16 << 20

// Durability of an endpoint.
type Durability int

// Durability kinds (ROS 2: volatile is the default, transient-local keeps
// the last Depth samples for late joiners).
const (
	Volatile Durability = iota
	TransientLocal
)

// QoS is the subset of DDS QoS the ROS 2 bridge configures. The zero QoS is
// ROS 2's default profile: reliable, volatile, keep-last 10.
type QoS struct {
	BestEffort bool       // default reliable
	Durability Durability // default volatile
	Depth      int        // keep-last depth; 0: DefaultDepth
	// TypeHash is the endpoint's ROS 2 type hash ("RIHS01_…", REP 2011):
	// announced in its USER_DATA as "typehash=…;" (as ROS 2 Iron and later
	// do) and compared with the matched peers' (CheckPeers). Empty: no
	// USER_DATA, no check (ROS 2 Humble's behaviour). Not part of String
	// or ParseQoS: it follows from the message type.
	TypeHash string
}

// DefaultDepth is the keep-last depth of the zero QoS.
const DefaultDepth = 10

// MaxDepth bounds QoS.Depth.
const MaxDepth = 10000

func (q QoS) depth() int {
	if q.Depth <= 0 {
		return DefaultDepth
	}
	return q.Depth
}

func (q QoS) check() error {
	if q.Depth < 0 || q.Depth > MaxDepth {
		return fmt.Errorf("dds: QoS depth %d not in 0..%d", q.Depth, MaxDepth)
	}
	if q.Durability != Volatile && q.Durability != TransientLocal {
		return fmt.Errorf("dds: unknown durability %d", q.Durability)
	}
	if q.TypeHash != "" && !ValidTypeHash(q.TypeHash) {
		return fmt.Errorf("dds: type hash %q is no RIHS01 hash", q.TypeHash)
	}
	return nil
}

// String renders q as ParseQoS reads it.
func (q QoS) String() string {
	r := "reliable"
	if q.BestEffort {
		r = "best_effort"
	}
	d := "volatile"
	if q.Durability == TransientLocal {
		d = "transient_local"
	}
	return fmt.Sprintf("%s,%s,depth=%d", r, d, q.depth())
}

// ParseQoS parses a comma-separated QoS spec: reliable | best_effort,
// volatile | transient_local, depth=N. Missing items keep the defaults.
func ParseQoS(s string) (QoS, error) {
	var q QoS
	if strings.TrimSpace(s) == "" {
		return q, nil
	}
	for _, item := range strings.Split(s, ",") {
		switch item = strings.TrimSpace(item); {
		case item == "reliable":
			q.BestEffort = false
		case item == "best_effort":
			q.BestEffort = true
		case item == "volatile":
			q.Durability = Volatile
		case item == "transient_local":
			q.Durability = TransientLocal
		case strings.HasPrefix(item, "depth="):
			var n int
			if _, err := fmt.Sscanf(item[len("depth="):], "%d", &n); err != nil || fmt.Sprint(n) != item[len("depth="):] {
				return QoS{}, fmt.Errorf("dds: QoS %q: bad depth", s)
			}
			q.Depth = n
		default:
			return QoS{}, fmt.Errorf("dds: QoS %q: unknown item %q (want reliable|best_effort, volatile|transient_local, depth=N)", s, item)
		}
	}
	return q, q.check()
}

// Config configures a Participant.
type Config struct {
	// Domain is the DDS domain id (ROS_DOMAIN_ID), 0..MaxDomain.
	Domain int
	// LoopbackOnly restricts discovery and data to 127.0.0.1 (as ROS 2's
	// ROS_LOCALHOST_ONLY=1): only peers on this host configured the same
	// way are found. Otherwise Cyclone's defaults apply (CYCLONEDDS_URI is
	// honoured).
	LoopbackOnly bool
}

// MaxDomain is the largest domain id Cyclone's default port mapping allows.
const MaxDomain = 232

// Sample is one received sample.
type Sample struct {
	Data   []byte    // serialized payload, encapsulation header included
	At     time.Time // reception time (local clock)
	Writer uint64    // instance handle of the writer that sent it (Peer.Handle)
}

// ROSTopic returns the DDS topic name of the ROS 2 topic name ("/cmd_vel"
// → "rt/cmd_vel").
func ROSTopic(name string) string { return "rt/" + strings.TrimPrefix(name, "/") }

// ROSType returns the DDS type name of a ROS 2 message type
// ("geometry_msgs/msg/Twist" → "geometry_msgs::msg::dds_::Twist_").
func ROSType(name string) (string, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("dds: ROS 2 type %q: want pkg/msg/Name", name)
	}
	return parts[0] + "::" + parts[1] + "::dds_::" + parts[2] + "_", nil
}
