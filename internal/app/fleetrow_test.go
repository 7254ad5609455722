package app

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/store"
)

func activeIDs(st store.EstopState) []string {
	r := readFleetRow(st)
	var ids []string
	for _, s := range r.active {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func ackedIDs(st store.EstopState) []string {
	r := readFleetRow(st)
	var ids []string
	for _, s := range r.acked {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestFleetRowMerge(t *testing.T) {
	armed := store.EstopState{State: "armed", Sources: []store.EstopSource{}}
	steps := []struct {
		name       string
		state      string // "tripped" save or "armed" (reset) save
		ids        []string
		wantState  string
		wantActive []string
		wantAcked  []string
	}{
		{"trip/A-adds-its-id", "tripped", []string{"A/1"}, "tripped", []string{"A/1"}, nil},
		{"trip/C-concurrent-trip-is-kept", "tripped", []string{"C/5"}, "tripped", []string{"A/1", "C/5"}, nil},
		{"trip/B-saves-what-it-received", "tripped", []string{"A/1", "C/5"}, "tripped", []string{"A/1", "C/5"}, nil},
		{"reset/acks-only-what-the-resetter-had", "armed", []string{"C/5"}, "tripped", []string{"A/1"}, []string{"C/5"}},
		{"trip/late-save-of-acked-id-changes-nothing", "tripped", []string{"C/5"}, "tripped", []string{"A/1"}, []string{"C/5"}},
		{"reset/last-ack-arms-the-row", "armed", []string{"A/1"}, "armed", nil, []string{"A/1", "C/5"}},
		{"reset/repeated-ack-is-idempotent", "armed", []string{"A/1"}, "armed", nil, []string{"A/1", "C/5"}},
		{"trip/new-trip-after-reset", "tripped", []string{"A/2"}, "tripped", []string{"A/2"}, []string{"A/1", "C/5"}},
	}
	cur := armed
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			save := store.EstopState{State: s.state, Epoch: uint64(i + 1), Since: int64(100 + i), Reason: s.name}
			var tripIDs, acks []string
			if s.state == "tripped" {
				tripIDs = s.ids
			} else {
				acks = s.ids
			}
			cur = mergeSave(cur, save, rowSave{tripIDs: tripIDs, acks: acks})
			if cur.State != s.wantState || !slices.Equal(activeIDs(cur), s.wantActive) || !slices.Equal(ackedIDs(cur), s.wantAcked) {
				t.Fatalf("row %s active %v acked %v; want %s %v %v", cur.State, activeIDs(cur), ackedIDs(cur), s.wantState, s.wantActive, s.wantAcked)
			}
			if cur.Epoch != save.Epoch || cur.Since != save.Since || cur.Reason != save.Reason {
				t.Fatalf("row metadata %d %d %q, want the save's", cur.Epoch, cur.Since, cur.Reason)
			}
		})
	}
}

// A replica's own bus gap ("bus", not a trip id) is not written to the row:
// it must not trip the other replicas, and it is not an acknowledgement.
func TestFleetRowKeepsOwnConditionsOut(t *testing.T) {
	armed := store.EstopState{State: "armed"}
	row := mergeSave(armed, store.EstopState{State: "tripped", Since: 1}, rowSave{tripIDs: []string{"bus"}, acks: nil})
	if row.State != "armed" || len(row.Sources) != 0 {
		t.Fatalf("a bus gap alone made the row %s with sources %v", row.State, row.Sources)
	}
	row = mergeSave(armed, store.EstopState{State: "tripped", Since: 1}, rowSave{tripIDs: []string{"bus", "gw/ab/4"}, acks: nil})
	if got := activeIDs(row); row.State != "tripped" || !slices.Equal(got, []string{"gw/ab/4"}) {
		t.Fatalf("row %s active %v, want tripped by gw/ab/4 only", row.State, got)
	}
	row = mergeSave(row, store.EstopState{State: "armed", Since: 2}, rowSave{tripIDs: nil, acks: []string{"bus", "gw/ab/4"}})
	if got := ackedIDs(row); row.State != "armed" || !slices.Equal(got, []string{"gw/ab/4"}) {
		t.Fatalf("row %s acked %v, want armed with gw/ab/4 acknowledged", row.State, got)
	}
}

func TestFleetRowReadsOlderRows(t *testing.T) {
	cases := []struct {
		name       string
		row        store.EstopState
		wantActive []string
		wantAcked  []string
	}{
		{"never-set", store.EstopState{State: "armed"}, nil, nil},
		{"tripped-earlier-fleet-form", store.EstopState{State: "tripped", Sources: []store.EstopSource{{ID: "gw/ab/3", Kind: estop.KindReplica}}}, []string{"gw/ab/3"}, nil},
		{"armed-earlier-fleet-form-lists-acks", store.EstopState{State: "armed", Sources: []store.EstopSource{{ID: "gw/ab/3", Kind: estop.KindReplica}}}, nil, []string{"gw/ab/3"}},
		{"tripped-no-sources-is-store-trip", store.EstopState{State: "tripped", Epoch: 7}, []string{"store/7"}, nil},
		{"tripped-local-sources-only-is-store-trip", store.EstopState{State: "tripped", Epoch: 8, Sources: []store.EstopSource{{ID: "api", Kind: "api"}}}, []string{"store/8"}, nil},
		{"bare-bus-source-is-not-a-trip-id", store.EstopState{State: "tripped", Epoch: 9, Sources: []store.EstopSource{{ID: "bus", Kind: estop.KindReplica}}}, []string{"store/9"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := activeIDs(c.row); !slices.Equal(got, c.wantActive) {
				t.Errorf("active %v, want %v", got, c.wantActive)
			}
			if got := ackedIDs(c.row); !slices.Equal(got, c.wantAcked) {
				t.Errorf("acked %v, want %v", got, c.wantAcked)
			}
		})
	}
}

// Whatever the order of concurrent saves: an id tripped and never
// acknowledged is active; an acknowledged id is never active; the row is
// tripped exactly when some id is active; acked stays bounded.
func TestFleetRowProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ids := []string{"A/1", "A/2", "B/1", "C/1", "C/2", "gw/x/1"}
		cur := store.EstopState{State: "armed"}
		tripped, acked := map[string]bool{}, map[string]bool{}
		n := rapid.IntRange(1, 40).Draw(t, "saves")
		for i := range n {
			sub := rapid.SliceOfDistinct(rapid.SampledFrom(ids), func(s string) string { return s }).Draw(t, "ids")
			save := store.EstopState{Epoch: uint64(i), Since: int64(i)}
			if rapid.Bool().Draw(t, "trip") {
				save.State = "tripped"
				cur = mergeSave(cur, save, rowSave{tripIDs: sub, acks: nil})
				for _, id := range sub {
					tripped[id] = true
				}
			} else {
				save.State = "armed"
				cur = mergeSave(cur, save, rowSave{tripIDs: nil, acks: sub})
				for _, id := range sub {
					acked[id] = true
				}
			}
		}
		act := activeIDs(cur)
		for _, id := range ids {
			want := tripped[id] && !acked[id]
			if slices.Contains(act, id) != want {
				t.Fatalf("%s active=%v, want %v (tripped %v, acked %v)", id, !want, want, tripped[id], acked[id])
			}
		}
		if (cur.State == "tripped") != (len(act) > 0) {
			t.Fatalf("row %s with active %v", cur.State, act)
		}
	})
}

func TestFleetRowAckedBounded(t *testing.T) {
	cur := store.EstopState{State: "armed"}
	for i := range maxAcked + 50 {
		id := "gw/r/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		cur = mergeSave(cur, store.EstopState{State: "tripped", Since: int64(i)}, rowSave{tripIDs: []string{id}, acks: nil})
		cur = mergeSave(cur, store.EstopState{State: "armed", Since: int64(i)}, rowSave{tripIDs: nil, acks: []string{id}})
	}
	if n := len(readFleetRow(cur).acked); n != maxAcked {
		t.Fatalf("acked holds %d ids, want the bound %d", n, maxAcked)
	}
	if cur.State != "armed" {
		t.Fatalf("row %s after every trip was acknowledged", cur.State)
	}
}

func gapIDs(st store.EstopState) []string {
	r := readFleetRow(st)
	var ids []string
	for _, s := range r.gaps {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestFleetRowGaps: a replica's bus gap never trips the row; an operator's
// reset anywhere acknowledges every gap in the row, a reset applied from
// the fleet only its own acks, and a gap saved after the operator's reset
// waits for the next one.
func TestFleetRowGaps(t *testing.T) {
	tripped := func(since int64) store.EstopState { return store.EstopState{State: "tripped", Since: since} }
	armed := func(since int64) store.EstopState { return store.EstopState{State: "armed", Since: since} }
	row := store.EstopState{State: "armed"}
	row = mergeSave(row, tripped(1), rowSave{gapID: "gw/a/bus/1"})
	row = mergeSave(row, tripped(2), rowSave{gapID: "gw/b/bus/3", tripIDs: []string{"gw/c/2"}})
	if row.State != "tripped" || !slices.Equal(activeIDs(row), []string{"gw/c/2"}) || !slices.Equal(gapIDs(row), []string{"gw/a/bus/1", "gw/b/bus/3"}) {
		t.Fatalf("row %s active %v gaps %v", row.State, activeIDs(row), gapIDs(row))
	}
	if st := estop.FromStore(row); !st.Tripped || len(st.Latched()) != 0 {
		t.Fatalf("a row with gaps loads as %+v", st)
	}
	fleetReset := mergeSave(row, armed(3), rowSave{acks: []string{"gw/c/2"}})
	if !slices.Equal(gapIDs(fleetReset), []string{"gw/a/bus/1", "gw/b/bus/3"}) {
		t.Fatalf("a reset applied from the fleet acknowledged gaps: %v left", gapIDs(fleetReset))
	}
	row = mergeSave(row, armed(3), rowSave{acks: []string{"gw/a/bus/1", "gw/c/2"}, operator: true})
	if row.State != "armed" || len(gapIDs(row)) != 0 || !slices.Equal(ackedIDs(row), []string{"gw/a/bus/1", "gw/b/bus/3", "gw/c/2"}) {
		t.Fatalf("after the operator's reset: %s gaps %v acked %v", row.State, gapIDs(row), ackedIDs(row))
	}
	row = mergeSave(row, tripped(4), rowSave{gapID: "gw/b/bus/3"}) // a late save of an acknowledged gap
	row = mergeSave(row, tripped(5), rowSave{gapID: "gw/a/bus/2"}) // a new outage
	if row.State != "armed" || !slices.Equal(gapIDs(row), []string{"gw/a/bus/2"}) {
		t.Fatalf("after a new gap: %s gaps %v", row.State, gapIDs(row))
	}
}
