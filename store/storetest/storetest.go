// Package storetest is the contract test suite of store.Store: every
// implementation runs it from its own tests, so the embedded and the
// PostgreSQL store behave the same way to the byte.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// Run needs a fresh, empty store from every call of open and closes nothing
// itself: open should register the cleanup (t.Cleanup). RunDurable checks
// that state survives Close and reopen.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/store"
)

// Opener returns a fresh, empty store whose cleanup is registered on t.
type Opener func(t *testing.T) store.Store

// base is a time with nanoseconds and a non-UTC zone: stores must give it
// back in UTC, truncated to microseconds.
var base = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

// Run runs the whole contract against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("roots", func(t *testing.T) { testRoots(t, open) })
	t.Run("apikeys", func(t *testing.T) { testAPIKeys(t, open) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("approvals", func(t *testing.T) { testApprovals(t, open) })
	t.Run("estop", func(t *testing.T) { testEstop(t, open) })
	t.Run("agents", func(t *testing.T) { testAgents(t, open) })
	t.Run("repetitions", func(t *testing.T) { testRepetitions(t, open) })
	t.Run("ping", func(t *testing.T) {
		if err := open(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("ctx/cancelled-fails-closed", func(t *testing.T) { testCancelled(t, open) })
	t.Run("validation", func(t *testing.T) { testValidation(t, open) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func testRoots(t *testing.T, open Opener) {
	t.Run("put-list-sorted", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutRoot(ctx, store.Root{PublicKey: "bb", Name: "second", AddedAt: base}))
		must(t, s.PutRoot(ctx, store.Root{PublicKey: "aa", Name: "first", AddedAt: base.Add(time.Hour)}))
		got, err := s.ListRoots(ctx)
		must(t, err)
		equal(t, "ListRoots", got, []store.Root{
			{PublicKey: "aa", Name: "first", AddedAt: store.NormTime(base.Add(time.Hour))},
			{PublicKey: "bb", Name: "second", AddedAt: store.NormTime(base)},
		})
	})
	t.Run("put-replaces-name-keeps-added-at", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutRoot(ctx, store.Root{PublicKey: "aa", Name: "old", AddedAt: base}))
		must(t, s.PutRoot(ctx, store.Root{PublicKey: "aa", Name: "new", AddedAt: base.Add(time.Hour)}))
		got, err := s.ListRoots(ctx)
		must(t, err)
		equal(t, "ListRoots", got, []store.Root{{PublicKey: "aa", Name: "new", AddedAt: store.NormTime(base)}})
	})
	t.Run("empty-list-is-not-nil", func(t *testing.T) {
		got, err := open(t).ListRoots(t.Context())
		must(t, err)
		if got == nil || len(got) != 0 {
			t.Fatalf("ListRoots on empty store = %#v, want empty non-nil", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutRoot(ctx, store.Root{PublicKey: "aa", Name: "x", AddedAt: base}))
		must(t, s.DeleteRoot(ctx, "aa"))
		got, err := s.ListRoots(ctx)
		must(t, err)
		equal(t, "ListRoots after delete", len(got), 0)
		wantErr(t, "second DeleteRoot", s.DeleteRoot(ctx, "aa"), store.ErrNotFound)
	})
	t.Run("delete-missing", func(t *testing.T) {
		wantErr(t, "DeleteRoot", open(t).DeleteRoot(t.Context(), "nope"), store.ErrNotFound)
	})
}

func testAPIKeys(t *testing.T, open Opener) {
	hash := []byte{0x00, 0x01, 0xfe, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0,
		0xd0, 0xe0, 0xf0, 0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x8f, 0x9f, 0xaf, 0xbf, 0xcf}
	key := store.APIKey{ID: "k1", SecretHash: hash, OperatorID: "alice", Scopes: []string{"read", "approve"}, CreatedAt: base}
	norm := key
	norm.CreatedAt = store.NormTime(base)
	t.Run("put-get-keeps-secret-hash", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutAPIKey(ctx, key))
		got, err := s.GetAPIKey(ctx, "k1")
		must(t, err)
		equal(t, "GetAPIKey", got, norm)
	})
	t.Run("put-existing-id", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutAPIKey(ctx, key))
		other := key
		other.OperatorID = "mallory"
		wantErr(t, "second PutAPIKey", s.PutAPIKey(ctx, other), store.ErrExists)
		got, err := s.GetAPIKey(ctx, "k1")
		must(t, err)
		equal(t, "GetAPIKey after collision", got, norm)
	})
	t.Run("get-missing", func(t *testing.T) {
		_, err := open(t).GetAPIKey(t.Context(), "nope")
		wantErr(t, "GetAPIKey", err, store.ErrNotFound)
	})
	t.Run("nil-scopes-come-back-empty", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutAPIKey(ctx, store.APIKey{ID: "k0", SecretHash: hash, OperatorID: "bob", CreatedAt: base}))
		got, err := s.GetAPIKey(ctx, "k0")
		must(t, err)
		if got.Scopes == nil || len(got.Scopes) != 0 {
			t.Fatalf("Scopes = %#v, want empty non-nil", got.Scopes)
		}
	})
	t.Run("list-delete", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		k2 := key
		k2.ID = "k0"
		must(t, s.PutAPIKey(ctx, key))
		must(t, s.PutAPIKey(ctx, k2))
		got, err := s.ListAPIKeys(ctx)
		must(t, err)
		n2 := norm
		n2.ID = "k0"
		equal(t, "ListAPIKeys", got, []store.APIKey{n2, norm})
		must(t, s.DeleteAPIKey(ctx, "k0"))
		_, err = s.GetAPIKey(ctx, "k0")
		wantErr(t, "GetAPIKey after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteAPIKey missing", s.DeleteAPIKey(ctx, "k0"), store.ErrNotFound)
	})
}

func tok(id, parent, subject string) store.TokenRecord {
	return store.TokenRecord{
		TokenID: id, Raw: "eyJhbGciOiJFZERTQSJ9.eyJ0b2tlbklkIjoi" + id + "In0.c2ln-" + id,
		Issuer: "iss-" + parent, Subject: subject, ParentTokenID: parent, RegisteredAt: base,
	}
}

func normTok(r store.TokenRecord) store.TokenRecord {
	r.RegisteredAt = store.NormTime(r.RegisteredAt)
	if r.RevokedAt != nil {
		at := store.NormTime(*r.RevokedAt)
		r.RevokedAt = &at
	}
	return r
}

// putTree registers the cascade fixture: ids chosen so that bytewise order
// differs from insertion order and from most natural-language collations.
//
//	R ─┬─ k-b ── n0
//	   ├─ kA
//	   └─ ka ─┬─ m-0 ── z
//	          └─ m1
//	other (unrelated), orphan (parent never registered)
func putTree(t *testing.T, s store.Store) {
	t.Helper()
	for _, r := range []store.TokenRecord{
		tok("R", "", "agent-1"),
		tok("ka", "R", "agent-2"), tok("k-b", "R", "agent-2"), tok("kA", "R", "agent-3"),
		tok("m1", "ka", "agent-2"), tok("m-0", "ka", "agent-3"), tok("n0", "k-b", "agent-2"),
		tok("z", "m-0", "agent-2"), tok("other", "", "agent-1"), tok("orphan", "missing", "agent-1"),
	} {
		must(t, s.PutToken(t.Context(), r))
	}
}

func ids(rs []store.TokenRecord) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.TokenID)
	}
	return out
}

func testTokens(t *testing.T, open Opener) {
	t.Run("put-get-exact-bytes", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := tok("t1", "p0", "agent-1")
		r.Raw = "eyJ4IjoiYSJ9.eyJ5Ijoi4pyTIn0.AAAA_-__--.trailing " // exact bytes, incl. odd ones
		must(t, s.PutToken(ctx, r))
		got, err := s.GetToken(ctx, "t1")
		must(t, err)
		equal(t, "GetToken", got, normTok(r))
	})
	t.Run("put-same-bytes-is-noop", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := tok("t1", "", "agent-1")
		must(t, s.PutToken(ctx, r))
		again := r
		again.RegisteredAt = base.Add(time.Hour)
		must(t, s.PutToken(ctx, again))
		got, err := s.GetToken(ctx, "t1")
		must(t, err)
		equal(t, "GetToken keeps the first registration", got, normTok(r))
	})
	t.Run("put-other-bytes-exists", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		r := tok("t1", "", "agent-1")
		must(t, s.PutToken(ctx, r))
		other := r
		other.Raw += "x"
		wantErr(t, "PutToken other bytes", s.PutToken(ctx, other), store.ErrExists)
	})
	t.Run("get-missing", func(t *testing.T) {
		_, err := open(t).GetToken(t.Context(), "nope")
		wantErr(t, "GetToken", err, store.ErrNotFound)
	})
	t.Run("list-filters", func(t *testing.T) {
		s := open(t)
		putTree(t, s)
		for _, tc := range []struct {
			name string
			f    store.TokenFilter
			want []string
		}{
			{"all", store.TokenFilter{}, []string{"R", "k-b", "kA", "ka", "m-0", "m1", "n0", "orphan", "other", "z"}},
			{"subject", store.TokenFilter{Subject: "agent-3"}, []string{"kA", "m-0"}},
			{"issuer", store.TokenFilter{Issuer: "iss-ka"}, []string{"m-0", "m1"}},
			{"parent", store.TokenFilter{ParentTokenID: "R"}, []string{"k-b", "kA", "ka"}},
			{"parent-and-subject", store.TokenFilter{ParentTokenID: "R", Subject: "agent-2"}, []string{"k-b", "ka"}},
			{"parent-unregistered", store.TokenFilter{ParentTokenID: "missing"}, []string{"orphan"}},
			{"limit", store.TokenFilter{Limit: 3}, []string{"R", "k-b", "kA"}},
			{"subject-limit", store.TokenFilter{Subject: "agent-2", Limit: 2}, []string{"k-b", "ka"}},
			{"parent-limit", store.TokenFilter{ParentTokenID: "R", Limit: 1}, []string{"k-b"}},
			{"no-match", store.TokenFilter{Subject: "nobody"}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListTokens(t.Context(), tc.f)
				must(t, err)
				equal(t, "ListTokens ids", ids(got), tc.want)
			})
		}
	})
	t.Run("revoke-cascade-bfs", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		putTree(t, s)
		at := base.Add(time.Minute)
		got, err := s.RevokeToken(ctx, "R", at)
		must(t, err)
		equal(t, "RevokeToken(R)", got, []string{"R", "k-b", "kA", "ka", "n0", "m-0", "m1", "z"})
		for _, id := range got {
			r, err := s.GetToken(ctx, id)
			must(t, err)
			if r.RevokedAt == nil || !r.RevokedAt.Equal(store.NormTime(at)) || r.RevokedAt.Location() != time.UTC {
				t.Fatalf("%s: RevokedAt = %v, want %v", id, r.RevokedAt, store.NormTime(at))
			}
		}
		for _, id := range []string{"other", "orphan"} {
			r, err := s.GetToken(ctx, id)
			must(t, err)
			if r.RevokedAt != nil {
				t.Fatalf("%s revoked by an unrelated cascade", id)
			}
		}
		rev, err := s.RevokedTokens(ctx)
		must(t, err)
		equal(t, "RevokedTokens", rev, []string{"R", "k-b", "kA", "ka", "m-0", "m1", "n0", "z"})
	})
	t.Run("revoke-is-idempotent", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		putTree(t, s)
		_, err := s.RevokeToken(ctx, "R", base)
		must(t, err)
		got, err := s.RevokeToken(ctx, "R", base.Add(time.Hour))
		must(t, err)
		equal(t, "second RevokeToken", got, []string{})
		r, err := s.GetToken(ctx, "z")
		must(t, err)
		if !r.RevokedAt.Equal(store.NormTime(base)) {
			t.Fatalf("second revoke moved RevokedAt to %v", r.RevokedAt)
		}
	})
	t.Run("revoke-subtree-then-root", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		putTree(t, s)
		got, err := s.RevokeToken(ctx, "ka", base)
		must(t, err)
		equal(t, "RevokeToken(ka)", got, []string{"ka", "m-0", "m1", "z"})
		got, err = s.RevokeToken(ctx, "R", base.Add(time.Second))
		must(t, err)
		equal(t, "RevokeToken(R) after ka", got, []string{"R", "k-b", "kA", "n0"})
		r, err := s.GetToken(ctx, "m1")
		must(t, err)
		if !r.RevokedAt.Equal(store.NormTime(base)) {
			t.Fatalf("m1 RevokedAt = %v, want the first revocation", r.RevokedAt)
		}
	})
	t.Run("revoke-unregistered-id-is-recorded", func(t *testing.T) {
		// A token only ever presented inline is revoked by its id
		// (PROTOCOL.md §3.3): recorded once, listed, and a token later
		// registered under it (or under it as parent) is stored revoked.
		s, ctx := open(t), t.Context()
		got, err := s.RevokeToken(ctx, "inline-1", base)
		must(t, err)
		equal(t, "RevokeToken(unregistered)", got, []string{"inline-1"})
		got, err = s.RevokeToken(ctx, "inline-1", base.Add(time.Second))
		must(t, err)
		equal(t, "second RevokeToken(unregistered)", got, []string{})
		rev, err := s.RevokedTokens(ctx)
		must(t, err)
		equal(t, "RevokedTokens", rev, []string{"inline-1"})
		if feed, ok := s.(store.RevocationFeed); ok {
			got, err := feed.RevokedSince(ctx, base)
			must(t, err)
			equal(t, "RevokedSince", got, []string{"inline-1"})
		}
		_, err = s.GetToken(ctx, "inline-1")
		wantErr(t, "GetToken(revoked, unregistered)", err, store.ErrNotFound)
		must(t, s.PutToken(ctx, tok("inline-1", "", "x")))
		must(t, s.PutToken(ctx, tok("child-1", "inline-1", "x")))
		for _, id := range []string{"inline-1", "child-1"} {
			r, err := s.GetToken(ctx, id)
			must(t, err)
			if r.RevokedAt == nil || !r.RevokedAt.Equal(store.NormTime(base)) {
				t.Fatalf("%s registered after its id was revoked: RevokedAt = %v, want %v", id, r.RevokedAt, base)
			}
		}
	})
	t.Run("revoke-cycle-terminates", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutToken(ctx, tok("A", "B", "x")))
		must(t, s.PutToken(ctx, tok("B", "A", "x")))
		must(t, s.PutToken(ctx, tok("C", "B", "x")))
		got, err := s.RevokeToken(ctx, "A", base)
		must(t, err)
		equal(t, "RevokeToken on a parent cycle", got, []string{"A", "B", "C"})
	})
	t.Run("register-under-revoked-parent-is-revoked", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutToken(ctx, tok("P", "", "x")))
		_, err := s.RevokeToken(ctx, "P", base)
		must(t, err)
		must(t, s.PutToken(ctx, tok("C", "P", "x")))
		r, err := s.GetToken(ctx, "C")
		must(t, err)
		if r.RevokedAt == nil || !r.RevokedAt.Equal(store.NormTime(base)) {
			t.Fatalf("child of revoked parent: RevokedAt = %v, want %v", r.RevokedAt, store.NormTime(base))
		}
		rev, err := s.RevokedTokens(ctx)
		must(t, err)
		equal(t, "RevokedTokens", rev, []string{"C", "P"})
	})
	t.Run("parent-registered-revoked-revokes-earlier-children", func(t *testing.T) {
		// C names P as its parent before P exists; P then registers under the
		// revoked G and inherits the revocation, which reaches C.
		s, ctx := open(t), t.Context()
		must(t, s.PutToken(ctx, tok("G", "", "x")))
		_, err := s.RevokeToken(ctx, "G", base)
		must(t, err)
		must(t, s.PutToken(ctx, tok("C", "P", "x")))
		must(t, s.PutToken(ctx, tok("D", "C", "x")))
		must(t, s.PutToken(ctx, tok("P", "G", "x")))
		rev, err := s.RevokedTokens(ctx)
		must(t, err)
		equal(t, "RevokedTokens", rev, []string{"C", "D", "G", "P"})
		r, err := s.GetToken(ctx, "D")
		must(t, err)
		if !r.RevokedAt.Equal(store.NormTime(base)) {
			t.Fatalf("D RevokedAt = %v, want G's %v", r.RevokedAt, store.NormTime(base))
		}
	})
	t.Run("concurrent-register-and-revoke", func(t *testing.T) {
		// Whatever the interleaving, once both calls returned the child of a
		// revoked parent is revoked: a cascade cannot be escaped.
		s, ctx := open(t), t.Context()
		for i := range 20 {
			p, c := fmt.Sprintf("p%02d", i), fmt.Sprintf("c%02d", i)
			must(t, s.PutToken(ctx, tok(p, "", "x")))
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = s.RevokeToken(ctx, p, base) })
			wg.Go(func() { errs[1] = s.PutToken(ctx, tok(c, p, "x")) })
			wg.Wait()
			must(t, errors.Join(errs...))
			r, err := s.GetToken(ctx, c)
			must(t, err)
			if r.RevokedAt == nil {
				t.Fatalf("round %d: child registered concurrently with its parent's revocation is not revoked", i)
			}
		}
	})
	t.Run("concurrent-register-child-and-revoked-parent", func(t *testing.T) {
		// The child names a parent that is being registered (revoked, under a
		// revoked grandparent) at the same time: the child ends revoked.
		s, ctx := open(t), t.Context()
		must(t, s.PutToken(ctx, tok("G", "", "x")))
		_, err := s.RevokeToken(ctx, "G", base)
		must(t, err)
		for i := range 20 {
			p, c := fmt.Sprintf("p%02d", i), fmt.Sprintf("c%02d", i)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { errs[0] = s.PutToken(ctx, tok(p, "G", "x")) })
			wg.Go(func() { errs[1] = s.PutToken(ctx, tok(c, p, "x")) })
			wg.Wait()
			must(t, errors.Join(errs...))
			r, err := s.GetToken(ctx, c)
			must(t, err)
			if r.RevokedAt == nil {
				t.Fatalf("round %d: child registered concurrently with its revoked parent is not revoked", i)
			}
		}
	})
	t.Run("concurrent-revokes-report-each-id-once", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		putTree(t, s)
		var mu sync.Mutex
		var all []string
		var wg sync.WaitGroup
		for _, id := range []string{"R", "ka", "R", "m-0", "k-b", "R"} {
			wg.Go(func() {
				got, err := s.RevokeToken(ctx, id, base)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, got...)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(all)
		equal(t, "union of concurrent revocations", all, []string{"R", "k-b", "kA", "ka", "m-0", "m1", "n0", "z"})
	})
	t.Run("revoke-matches-model", func(t *testing.T) { testCascadeModel(t, open) })
	t.Run("revoked-since", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		feed, ok := s.(store.RevocationFeed)
		if !ok {
			t.Skip("store does not implement store.RevocationFeed")
		}
		putTree(t, s)
		for i, id := range []string{"z", "n0", "kA", "other"} {
			_, err := s.RevokeToken(ctx, id, base.Add(time.Duration(i)*time.Second))
			must(t, err)
		}
		got, err := feed.RevokedSince(ctx, base.Add(time.Second))
		must(t, err)
		equal(t, "RevokedSince(+1s)", got, []string{"n0", "kA", "other"})
		got, err = feed.RevokedSince(ctx, base.Add(time.Hour))
		must(t, err)
		equal(t, "RevokedSince(future)", got, []string{})
	})
}

func approval(id, agent, req, state string, created int64) store.Approval {
	return store.Approval{
		ApprovalID: id, State: state, RequestID: req, AgentID: agent, TokenID: "tok-" + id,
		Resource: "ros:///cmd_vel", Action: "publish", Params: []byte(`{"linear": {"x": 0.5}, "b":"\u00e9"}`),
		Tier: 3, RequiredApprovals: 1, CreatedAt: created, ExpiresAt: created + 60000,
		Extra: []byte{0x00, 0xff, '{'},
	}
}

func testApprovals(t *testing.T, open Opener) {
	t.Run("create-get", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a := approval("ap1", "agent-1", "req-1", "pending", 1000)
		a.Version = 42 // ignored: a new approval has version 1
		got, err := s.CreateApproval(ctx, a)
		must(t, err)
		want := a
		want.Version, want.Votes = 1, []store.ApprovalVote{}
		equal(t, "CreateApproval", got, want)
		got, err = s.GetApproval(ctx, "ap1")
		must(t, err)
		equal(t, "GetApproval", got, want)
	})
	t.Run("create-is-idempotent-per-agent-request", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		first, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		got, err := s.CreateApproval(ctx, approval("ap2", "agent-1", "req-1", "pending", 2000))
		wantErr(t, "second CreateApproval", err, store.ErrExists)
		equal(t, "second CreateApproval returns the first", got, first)
		_, err = s.GetApproval(ctx, "ap2")
		wantErr(t, "GetApproval of the refused id", err, store.ErrNotFound)
		_, err = s.CreateApproval(ctx, approval("ap3", "agent-2", "req-1", "pending", 3000))
		must(t, err) // same request id from another agent is another approval
	})
	t.Run("create-id-taken", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		_, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		_, err = s.CreateApproval(ctx, approval("ap1", "agent-1", "req-2", "pending", 1000))
		wantErr(t, "CreateApproval with a taken id", err, store.ErrExists)
	})
	t.Run("get-missing", func(t *testing.T) {
		_, err := open(t).GetApproval(t.Context(), "nope")
		wantErr(t, "GetApproval", err, store.ErrNotFound)
	})
	t.Run("update-compare-and-set", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		resolved := int64(5000)
		a.State, a.ResolvedAt = "approved", &resolved
		a.Votes = []store.ApprovalVote{{OperatorID: "alice", Vote: "approve", Reason: "ok", At: 4999}}
		a.Decision = []byte(`{"decision":"allow"}`)
		got, err := s.UpdateApproval(ctx, a)
		must(t, err)
		want := a
		want.Version = 2
		equal(t, "UpdateApproval", got, want)
		stored, err := s.GetApproval(ctx, "ap1")
		must(t, err)
		equal(t, "GetApproval after update", stored, want)
		_, err = s.UpdateApproval(ctx, a) // still version 1
		wantErr(t, "stale UpdateApproval", err, store.ErrConflict)
	})
	t.Run("update-missing", func(t *testing.T) {
		a := approval("nope", "agent-1", "req-1", "pending", 1000)
		a.Version = 1
		_, err := open(t).UpdateApproval(t.Context(), a)
		wantErr(t, "UpdateApproval", err, store.ErrNotFound)
	})
	t.Run("update-identity-is-immutable", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		a.RequestID = "req-2"
		if _, err := s.UpdateApproval(ctx, a); err == nil {
			t.Fatal("UpdateApproval changed the request id")
		}
	})
	t.Run("concurrent-updates-one-wins", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		a, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				mine := a
				mine.Votes = []store.ApprovalVote{{OperatorID: fmt.Sprintf("op%d", i), Vote: "approve", At: int64(i)}}
				_, errs[i] = s.UpdateApproval(ctx, mine)
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("update %d: %v, want nil or ErrConflict", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent updates succeeded, want exactly 1", wins)
		}
		got, err := s.GetApproval(ctx, "ap1")
		must(t, err)
		if got.Version != 2 || len(got.Votes) != 1 {
			t.Fatalf("after the race: version %d, votes %v", got.Version, got.Votes)
		}
	})
	t.Run("list-newest-first", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		for _, a := range []store.Approval{
			approval("a1", "agent", "r1", "pending", 1000),
			approval("a2", "agent", "r2", "approved", 3000),
			approval("a3", "agent", "r3", "pending", 2000),
			approval("a5", "agent", "r5", "pending", 2000), // same time as a3: id descending
			approval("a4", "agent", "r4", "pending", -5),
		} {
			_, err := s.CreateApproval(ctx, a)
			must(t, err)
		}
		list := func(state string, limit int) []string {
			t.Helper()
			got, err := s.ListApprovals(ctx, state, limit)
			must(t, err)
			out := []string{}
			for _, a := range got {
				if state != "" && a.State != state {
					t.Fatalf("ListApprovals(%q) returned %s in state %s", state, a.ApprovalID, a.State)
				}
				out = append(out, a.ApprovalID)
			}
			return out
		}
		equal(t, "pending", list("pending", 0), []string{"a5", "a3", "a1", "a4"})
		equal(t, "all", list("", 0), []string{"a2", "a5", "a3", "a1", "a4"})
		equal(t, "pending limit 2", list("pending", 2), []string{"a5", "a3"})
		equal(t, "all limit 1", list("", 1), []string{"a2"})
		equal(t, "no such state", list("expired", 0), []string{})

		a3, err := s.GetApproval(ctx, "a3")
		must(t, err)
		a3.State = "denied"
		_, err = s.UpdateApproval(ctx, a3)
		must(t, err)
		equal(t, "pending after update", list("pending", 0), []string{"a5", "a1", "a4"})
		equal(t, "denied after update", list("denied", 0), []string{"a3"})
		equal(t, "all after update", list("", 0), []string{"a2", "a5", "a3", "a1", "a4"})
	})
}

func testEstop(t *testing.T, open Opener) {
	t.Run("default-armed", func(t *testing.T) {
		got, err := open(t).GetEstop(t.Context())
		must(t, err)
		equal(t, "GetEstop on a new store", got, store.EstopState{State: "armed", Sources: []store.EstopSource{}})
	})
	t.Run("put-get", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		tripped := store.EstopState{State: "tripped", Epoch: 7, Since: 1700, Reason: "button", Sources: []store.EstopSource{
			{ID: "btn-1", Kind: "hardware", State: "tripped", Since: 1700},
			{ID: "op", Kind: "operator", State: "clear", Since: 1000},
		}}
		must(t, s.PutEstop(ctx, tripped))
		got, err := s.GetEstop(ctx)
		must(t, err)
		equal(t, "GetEstop", got, tripped)
		armed := store.EstopState{State: "armed", Epoch: 8, Since: 1800, Reason: "reset"}
		must(t, s.PutEstop(ctx, armed))
		got, err = s.GetEstop(ctx)
		must(t, err)
		armed.Sources = []store.EstopSource{}
		equal(t, "GetEstop after reset", got, armed)
	})
}

func testAgents(t *testing.T, open Opener) {
	a := store.Agent{AgentID: "bb01", Name: "arm", Owner: "cell-3", Labels: map[string]string{"zone": "a", "k": ""},
		Capabilities: []string{"move", "read"}, RegisteredAt: 1234, CircuitOpen: true, CircuitSince: 99, CircuitCause: "x"}
	t.Run("put-get-replace", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		must(t, s.PutAgent(ctx, a))
		got, err := s.GetAgent(ctx, "bb01")
		must(t, err)
		equal(t, "GetAgent", got, a)
		b := store.Agent{AgentID: "bb01", Name: "arm2", Labels: map[string]string{}, RegisteredAt: 1234}
		must(t, s.PutAgent(ctx, b))
		got, err = s.GetAgent(ctx, "bb01")
		must(t, err)
		b.Labels = nil
		equal(t, "GetAgent after replace", got, b)
	})
	t.Run("list-delete", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		b := store.Agent{AgentID: "aa02", Name: "cam"}
		must(t, s.PutAgent(ctx, a))
		must(t, s.PutAgent(ctx, b))
		got, err := s.ListAgents(ctx)
		must(t, err)
		equal(t, "ListAgents", got, []store.Agent{b, a})
		must(t, s.DeleteAgent(ctx, "aa02"))
		_, err = s.GetAgent(ctx, "aa02")
		wantErr(t, "GetAgent after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteAgent again", s.DeleteAgent(ctx, "aa02"), store.ErrNotFound)
	})
	t.Run("get-missing", func(t *testing.T) {
		_, err := open(t).GetAgent(t.Context(), "nope")
		wantErr(t, "GetAgent", err, store.ErrNotFound)
	})
}

func testCancelled(t *testing.T, open Opener) {
	s := open(t)
	must(t, s.PutToken(t.Context(), tok("t1", "", "x")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GetToken(ctx, "t1"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetToken with a cancelled ctx: %v, want a plain error", err)
	}
	if _, err := s.RevokeToken(ctx, "t1", base); err == nil {
		t.Fatal("RevokeToken with a cancelled ctx succeeded")
	}
	r, err := s.GetToken(t.Context(), "t1")
	must(t, err)
	if r.RevokedAt != nil {
		t.Fatal("RevokeToken with a cancelled ctx revoked the token")
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping with a cancelled ctx succeeded")
	}
}

// Reopener opens a fresh store and returns it with a function that opens
// the same underlying data again (after the test closed the first).
type Reopener func(t *testing.T) (s store.Store, reopen func(t *testing.T) store.Store)

// RunDurable checks that revocations, approvals, e-stop state and API key
// hashes survive Close and reopen.
func RunDurable(t *testing.T, open Reopener) {
	t.Run("durable/repetitions-survive-reopen", func(t *testing.T) { testRepetitionsDurable(t, open) })
	t.Run("durable/survives-reopen", func(t *testing.T) {
		s, reopen := open(t)
		ctx := t.Context()
		putTree(t, s)
		_, err := s.RevokeToken(ctx, "ka", base)
		must(t, err)
		_, err = s.RevokeToken(ctx, "inline-only", base) // never registered
		must(t, err)
		a, err := s.CreateApproval(ctx, approval("ap1", "agent-1", "req-1", "pending", 1000))
		must(t, err)
		a.State = "approved"
		a, err = s.UpdateApproval(ctx, a)
		must(t, err)
		estop := store.EstopState{State: "tripped", Epoch: 3, Since: 5, Reason: "r", Sources: []store.EstopSource{}}
		must(t, s.PutEstop(ctx, estop))
		key := store.APIKey{ID: "k1", SecretHash: []byte{1, 2, 3}, OperatorID: "o", Scopes: []string{"admin"}, CreatedAt: base}
		must(t, s.PutAPIKey(ctx, key))
		must(t, s.Close())

		s = reopen(t)
		rev, err := s.RevokedTokens(ctx)
		must(t, err)
		equal(t, "RevokedTokens after reopen", rev, []string{"inline-only", "ka", "m-0", "m1", "z"})
		got, err := s.GetApproval(ctx, "ap1")
		must(t, err)
		equal(t, "approval after reopen", got, a)
		e, err := s.GetEstop(ctx)
		must(t, err)
		equal(t, "estop after reopen", e, estop)
		k, err := s.GetAPIKey(ctx, "k1")
		must(t, err)
		key.CreatedAt = store.NormTime(base)
		equal(t, "api key after reopen", k, key)
		more, err := s.RevokeToken(ctx, "R", base)
		must(t, err)
		equal(t, "cascade after reopen", more, []string{"R", "k-b", "kA", "n0"})
	})
}

func testValidation(t *testing.T, open Opener) {
	s := open(t)
	long := strings.Repeat("x", store.MaxIDBytes+1)
	okTok := tok("t1", "", "x")
	badUTF8, nul := "a\xffb", "a\x00b"
	withTok := func(f func(*store.TokenRecord)) store.TokenRecord { r := okTok; f(&r); return r }
	okAp := approval("ap1", "agent", "req", "pending", 1)
	withAp := func(f func(*store.Approval)) store.Approval { a := okAp; f(&a); return a }
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"token/empty-id", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.TokenID = "" }))
		}},
		{"token/long-id", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.TokenID = long }))
		}},
		{"token/long-parent", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.ParentTokenID = long }))
		}},
		{"token/raw-invalid-utf8", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.Raw = badUTF8 }))
		}},
		{"token/raw-nul", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.Raw = nul }))
		}},
		{"token/subject-nul", func(ctx context.Context) error {
			return s.PutToken(ctx, withTok(func(r *store.TokenRecord) { r.Subject = nul }))
		}},
		{"root/empty-key", func(ctx context.Context) error { return s.PutRoot(ctx, store.Root{Name: "x"}) }},
		{"root/name-invalid-utf8", func(ctx context.Context) error { return s.PutRoot(ctx, store.Root{PublicKey: "aa", Name: badUTF8}) }},
		{"apikey/empty-id", func(ctx context.Context) error { return s.PutAPIKey(ctx, store.APIKey{OperatorID: "o"}) }},
		{"apikey/scope-nul", func(ctx context.Context) error {
			return s.PutAPIKey(ctx, store.APIKey{ID: "k", Scopes: []string{nul}})
		}},
		{"approval/empty-id", func(ctx context.Context) error {
			_, err := s.CreateApproval(ctx, withAp(func(a *store.Approval) { a.ApprovalID = "" }))
			return err
		}},
		{"approval/empty-request-id", func(ctx context.Context) error {
			_, err := s.CreateApproval(ctx, withAp(func(a *store.Approval) { a.RequestID = "" }))
			return err
		}},
		{"approval/vote-reason-invalid-utf8", func(ctx context.Context) error {
			_, err := s.CreateApproval(ctx, withAp(func(a *store.Approval) { a.Votes = []store.ApprovalVote{{Reason: badUTF8}} }))
			return err
		}},
		{"agent/long-id", func(ctx context.Context) error { return s.PutAgent(ctx, store.Agent{AgentID: long}) }},
		{"agent/label-nul", func(ctx context.Context) error {
			return s.PutAgent(ctx, store.Agent{AgentID: "a", Labels: map[string]string{"k": nul}})
		}},
		{"estop/reason-nul", func(ctx context.Context) error {
			return s.PutEstop(ctx, store.EstopState{State: "tripped", Reason: nul})
		}},
		{"estop/epoch-above-int64", func(ctx context.Context) error {
			return s.PutEstop(ctx, store.EstopState{State: "tripped", Epoch: 1 << 63})
		}},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if err == nil {
				t.Fatal("accepted an invalid record")
			}
			for _, sentinel := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict} {
				if errors.Is(err, sentinel) {
					t.Fatalf("invalid record: %v, want a plain error", err)
				}
			}
		})
	}
	t.Run("refused/nothing-stored", func(t *testing.T) {
		ctx := t.Context()
		toks, err := s.ListTokens(ctx, store.TokenFilter{})
		must(t, err)
		roots, err := s.ListRoots(ctx)
		must(t, err)
		keys, err := s.ListAPIKeys(ctx)
		must(t, err)
		aps, err := s.ListApprovals(ctx, "", 0)
		must(t, err)
		agents, err := s.ListAgents(ctx)
		must(t, err)
		e, err := s.GetEstop(ctx)
		must(t, err)
		if len(toks)+len(roots)+len(keys)+len(aps)+len(agents) != 0 || e.State != "armed" {
			t.Fatalf("refused records were stored: %d tokens, %d roots, %d keys, %d approvals, %d agents, estop %q",
				len(toks), len(roots), len(keys), len(aps), len(agents), e.State)
		}
	})
	for _, id := range []string{"", long, badUTF8, nul} {
		t.Run(fmt.Sprintf("lookup-of-unstorable-id-is-not-found/%q", id[:min(len(id), 4)]), func(t *testing.T) {
			ctx := t.Context()
			_, err := s.GetToken(ctx, id)
			wantErr(t, "GetToken", err, store.ErrNotFound)
			_, err = s.RevokeToken(ctx, id, base)
			wantErr(t, "RevokeToken", err, store.ErrNotFound)
			_, err = s.GetApproval(ctx, id)
			wantErr(t, "GetApproval", err, store.ErrNotFound)
			_, err = s.GetAgent(ctx, id)
			wantErr(t, "GetAgent", err, store.ErrNotFound)
			_, err = s.GetAPIKey(ctx, id)
			wantErr(t, "GetAPIKey", err, store.ErrNotFound)
			wantErr(t, "DeleteRoot", s.DeleteRoot(ctx, id), store.ErrNotFound)
			wantErr(t, "DeleteAgent", s.DeleteAgent(ctx, id), store.ErrNotFound)
			wantErr(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, id), store.ErrNotFound)
			got, err := s.ListTokens(ctx, store.TokenFilter{Subject: id, ParentTokenID: id})
			must(t, err)
			equal(t, "ListTokens", len(got), 0)
		})
	}
}
