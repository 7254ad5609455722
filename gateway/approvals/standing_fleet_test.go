package approvals

import "testing"

// TestStandingRevokedStaysRevoked: once revoked (here, or seen in the
// ledger from another replica), a standing approval is never brought back
// by a stale read of the shared store that still shows it in force, until
// its window has passed.
func TestStandingRevokedStaysRevoked(t *testing.T) {
	sa := StandingApproval{ApprovalID: "ap1", AgentID: "ag", TokenID: "tk", Resource: "ros:///arm/x", Action: "publish", Until: 10_000}
	s := NewStanding()
	s.add(sa)
	if !s.Covers("ag", "tk", "ros:///arm/x", "publish", 5_000) {
		t.Fatal("granted standing approval does not cover")
	}
	s.revoke("ap1", sa.Until)
	s.add(sa) // a stale re-read
	if s.Covers("ag", "tk", "ros:///arm/x", "publish", 5_000) {
		t.Fatal("a stale add brought a revoked standing approval back")
	}
	// Revoked before it was ever seen here (ledger first): never added.
	s2 := NewStanding()
	s2.revoke("ap1", sa.Until)
	s2.add(sa)
	if s2.Covers("ag", "tk", "ros:///arm/x", "publish", 5_000) {
		t.Fatal("a standing approval revoked before it arrived was added")
	}
	// A row that says revoked is never added.
	r := int64(1)
	sa2 := sa
	sa2.ApprovalID, sa2.RevokedAt = "ap2", &r
	s2.add(sa2)
	if s2.Covers("ag", "tk", "ros:///arm/x", "publish", 5_000) {
		t.Fatal("a revoked row was added")
	}
	// The tombstone goes once the window has passed.
	s2.Active(10_000)
	s2.mu.RLock()
	n := len(s2.revoked)
	s2.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d tombstones after the window", n)
	}
}
