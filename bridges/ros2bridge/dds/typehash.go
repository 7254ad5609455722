package dds

import (
	"bytes"
	"errors"
	"fmt"
)

// ROS 2 type hashes in USER_DATA. From Iron on, every ROS 2 reader and
// writer puts "typehash=RIHS01_<64 lowercase hex>;" into its USER_DATA QoS
// (REP 2011; rmw_dds_common encodes it as a key=value; list). Humble and
// older distributions send none. Two endpoints with the same topic and type
// name but different hashes carry different message definitions: the
// bytes of one do not mean the same to the other.

// TypeHashKey is the USER_DATA key of the type hash.
const TypeHashKey = "typehash"

// MaxUserDataBytes bounds the USER_DATA of a peer the binding reads.
const MaxUserDataBytes = 4096

// ValidTypeHash reports whether h is a RIHS01 type hash string: "RIHS01_"
// and 64 lowercase hexadecimal digits.
func ValidTypeHash(h string) bool {
	if len(h) != 7+64 || h[:7] != "RIHS01_" {
		return false
	}
	for i := 7; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// TypeHashUserData returns the USER_DATA a ROS 2 endpoint of type hash h
// announces: "typehash=<h>;".
func TypeHashUserData(h string) []byte { return []byte(TypeHashKey + "=" + h + ";") }

// errBadUserData wraps ParseTypeHash's errors.
var errBadUserData = errors.New("dds: malformed USER_DATA")

// ParseTypeHash reads the type hash from a peer endpoint's USER_DATA: the
// value of the key "typehash" in its "key=value;" list. found is false when
// the key is absent (a Humble node, or an endpoint that is no ROS 2 node's);
// an error means the key is there but its value is no RIHS01 hash, or it is
// given twice, or the USER_DATA is too long: the peer says it has a type
// hash and none can be compared, which the bridge treats as a mismatch.
// Items without '=' are ignored, as ROS 2's key-value parser does.
func ParseTypeHash(ud []byte) (hash string, found bool, err error) {
	if len(ud) > MaxUserDataBytes {
		return "", false, fmt.Errorf("%w: %d bytes over %d", errBadUserData, len(ud), MaxUserDataBytes)
	}
	for len(ud) > 0 {
		item := ud
		if i := bytes.IndexByte(ud, ';'); i >= 0 {
			item, ud = ud[:i], ud[i+1:]
		} else {
			ud = nil
		}
		k, v, ok := bytes.Cut(item, []byte{'='})
		if !ok || string(k) != TypeHashKey {
			continue
		}
		if found {
			return "", false, fmt.Errorf("%w: %s given twice", errBadUserData, TypeHashKey)
		}
		if !ValidTypeHash(string(v)) {
			return "", false, fmt.Errorf("%w: %s %q is no RIHS01 hash", errBadUserData, TypeHashKey, trunc(v))
		}
		hash, found = string(v), true
	}
	return hash, found, nil
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// Peer is a matched remote endpoint (a reader matched by a writer, or a
// writer matched by a reader) as discovery announced it.
type Peer struct {
	Handle   uint64 // the instance handle of the peer endpoint (local to this process)
	UserData []byte // its USER_DATA QoS, as sent
}

// PeerCheck is the result of checking an endpoint's matched peers against
// its own type hash.
type PeerCheck struct {
	Matched    int        // matched peers, all of them
	Accepted   int        // peers with the same type hash or none (Humble)
	Mismatched []Mismatch // peers announcing another type hash, or an unreadable one
}

// Mismatch is a matched peer that announced another type hash than ours.
type Mismatch struct {
	Handle uint64
	Theirs string // the peer's type hash, or why its USER_DATA could not be read
}

// CheckPeers sorts peers by their type hash against ours. A peer without a
// type hash is accepted (ROS 2 Humble sends none); one with another hash,
// or with a type hash that does not parse, is a mismatch. With ours empty
// nothing is compared and every peer is accepted.
func CheckPeers(ours string, peers []Peer) PeerCheck {
	c := PeerCheck{Matched: len(peers)}
	for _, p := range peers {
		if ours == "" {
			c.Accepted++
			continue
		}
		h, found, err := ParseTypeHash(p.UserData)
		switch {
		case err != nil:
			c.Mismatched = append(c.Mismatched, Mismatch{Handle: p.Handle, Theirs: err.Error()})
		case found && h != ours:
			c.Mismatched = append(c.Mismatched, Mismatch{Handle: p.Handle, Theirs: h})
		default:
			c.Accepted++
		}
	}
	return c
}
