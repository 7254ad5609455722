package approvals

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCancelPendingGivesUpOnBusyLock: while another resolution holds the
// service's lock (a vote or an expiry waiting on a store that does not
// answer), CancelPending returns when its context ends instead of waiting
// for the lock, so a trip's bounded cancellation stays bounded.
func TestCancelPendingGivesUpOnBusyLock(t *testing.T) {
	s := &Service{}
	s.mu.Lock() // held by a resolution stuck on the store
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.CancelPending(ctx, "e-stop tripped") }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CancelPending = %v, want the context's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CancelPending waited for the busy lock beyond its context")
	}
}
