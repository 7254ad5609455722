package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
)

// Revoking a token revokes its registered descendants in the same
// transaction; the ids come back root first, then breadth-first.
func Example_revokeCascade() {
	dir, _ := os.MkdirTemp("", "sint-store-example")
	defer os.RemoveAll(dir)
	s, err := embedded.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, t := range []store.TokenRecord{
		{TokenID: "root", Raw: "h.root.s", Subject: "planner"},
		{TokenID: "arm", Raw: "h.arm.s", Subject: "arm", ParentTokenID: "root"},
		{TokenID: "gripper", Raw: "h.gripper.s", Subject: "gripper", ParentTokenID: "arm"},
		{TokenID: "camera", Raw: "h.camera.s", Subject: "camera", ParentTokenID: "root"},
	} {
		t.RegisteredAt = now
		if err := s.PutToken(ctx, t); err != nil {
			fmt.Println(err)
			return
		}
	}
	revoked, _ := s.RevokeToken(ctx, "root", now)
	fmt.Println(revoked)
	again, _ := s.RevokeToken(ctx, "root", now)
	fmt.Println(again)
	// Output:
	// [root arm camera gripper]
	// []
}
