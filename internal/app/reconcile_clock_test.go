package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
)

// TestReconcileStandingRevocationUnderClockJump: a standing approval's
// revocation is in the ledger but its store write failed, and the gateway
// starts with its clock far ahead (a wrong RTC at boot, an NTP step). The
// pass used to judge the approval lapsed by that clock and skip it, and the
// cursor then moved past the revocation for good: once the clock was
// corrected, the revoked standing approval covered again. It is re-applied
// whatever the clock says.
func TestReconcileStandingRevocationUnderClockJump(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg, err := filestore.Open(filepath.Join(dir, "ledger"), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	st, err := embedded.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	until := now.Add(10 * time.Minute).UnixMilli()
	agent := strings.Repeat("c", 64)
	extra, _ := json.Marshal(map[string]any{"standingUntil": until})
	a, err := st.CreateApproval(ctx, store.Approval{ApprovalID: "sa-1", State: "pending", RequestID: "r1", AgentID: agent, Resource: "ros2:///cmd_vel", Action: "publish", CreatedAt: now.UnixMilli(), ExpiresAt: until})
	if err != nil {
		t.Fatal(err)
	}
	a.State, a.Extra = "approved", extra
	if _, err := st.UpdateApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The revocation reached the ledger; its store write did not.
	if _, err := lg.Append(ctx, ledger.Event{EventType: "approval.standing.revoked", AgentID: "operator:x", Payload: map[string]any{"approvalId": "sa-1", "operatorId": "operator:x", "until": until}}); err != nil {
		t.Fatal(err)
	}
	jumped := now.Add(365 * 24 * time.Hour)
	res, err := reconcileStore(ctx, st, lg, 0, jumped)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetApproval(ctx, "sa-1")
	if err != nil {
		t.Fatal(err)
	}
	var x struct {
		StandingRevokedAt int64 `json:"standingRevokedAt"`
	}
	_ = json.Unmarshal(got.Extra, &x)
	if x.StandingRevokedAt == 0 || res.Repaired != 1 {
		t.Fatalf("with the clock a year ahead the revocation was not re-applied (%+v, extra %s): the cursor moves past it to %d", res, got.Extra, res.Through)
	}
}
