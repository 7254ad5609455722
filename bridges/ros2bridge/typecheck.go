package ros2bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/codes"
)

// Type hashes (REP 2011). The bridge's endpoints announce the RIHS01 hash
// of their message type in USER_DATA, as ROS 2 Iron and later do, and check
// the hashes their matched peers announce. A peer without one (ROS 2
// Humble) is accepted; a peer that announces another hash for the same type
// name has another message definition: the bytes the bridge writes would
// not mean to it what the gateway checked. Such a reader on an actuator
// topic is no controller: motion is refused on that topic
// (CodeTypeHashMismatch) and the bridge latches a fault until a deliberate
// reset; safe stops are still written to the readers that match. Samples
// from such a writer on an agent topic are dropped before any intercept.

// CodeTypeHashMismatch is the stable code of a refusal because a matched
// ROS 2 endpoint announces another type hash than the bridge's for the same
// type name. It is a bridge fault code (reports, the fault latch reason),
// not a gateway deny code.
const CodeTypeHashMismatch codes.Code = "ROS2_TYPE_HASH_MISMATCH"

// mismatchError describes the mismatched peers of an endpoint on topic.
func mismatchError(what, topic, ours string, c dds.PeerCheck) error {
	return codes.New(CodeTypeHashMismatch, fmt.Sprintf(
		"%s %s: %d matched endpoint(s) announce another definition of the type (typehash %s; ours %s)",
		what, topic, len(c.Mismatched), c.Mismatched[0].Theirs, ours))
}

// fromMismatched reports whether the writer handle is one of c's mismatched peers.
func fromMismatched(c dds.PeerCheck, writer uint64) bool {
	for _, m := range c.Mismatched {
		if m.Handle == writer {
			return true
		}
	}
	return false
}

// waitAccepted waits until w has at least n matched readers whose type
// hash is ours or absent, or ctx ends.
func waitAccepted(ctx context.Context, w *dds.Writer, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := w.CheckPeers()
		if err != nil {
			return err
		}
		if c.Accepted >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d readers matched (%d with another type hash): %w", c.Accepted, n, len(c.Mismatched), ctx.Err())
		case <-t.C:
		}
	}
}

// qos is the route's QoS carrying its type's hash (announced and checked
// by the route's reader and writer).
func (r Route) qos() dds.QoS {
	q := r.QoS
	q.TypeHash = r.Type.Hash()
	return q
}
