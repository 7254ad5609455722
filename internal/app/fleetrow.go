package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/store"
)

// The shared e-stop row of a replicated deployment, read as two sets of
// trip ids (docs/deploy.md, "The shared e-stop row"):
//
//   - active: trips no reset has acknowledged yet. A replica's save of a
//     tripped state adds its trip ids (its local sources' ids and the
//     replica sources it received); a save never removes an active id.
//   - acked: trip ids a reset acknowledged (the resetting replica's trip
//     ids when it reset), newest last, at most maxAcked. A reset's save
//     moves its acks from active to acked; an acked id is never made
//     active again (a slow trip save after the reset changes nothing).
//
// Every save is a read-modify-write under the row's lock
// (pgstore.UpdateEstop), so concurrent trips on several replicas are all
// kept. The row is tripped while active is not empty.
//
//   - gaps: replicas' own bus gaps ("<replica>/bus/<epoch>", replica.GapID)
//     no reset has acknowledged yet. A replica's tripped save adds its gap
//     id; an operator's reset (not one applied from the fleet) acknowledges
//     every gap in the row at that moment, as well as its own acks. A gap
//     never trips another replica and does not make the row tripped: it only
//     records that the next operator reset anywhere acknowledges it, so that
//     a replica re-arms by itself once its bus is back and it has caught up
//     (docs/deploy.md, "After a Redis outage").
//
// In the stored sources an active id is {ID, Kind "replica"}, a gap
// {ID, Kind "replica-gap", State "clear"} and an acked id {ID, Kind
// "replica-ack", State "clear"}. Older rows are read too: in
// an armed row every "replica" source is an ack (the earlier fleet form); a
// tripped row with no trip id at all (not in fleet form) is the one active
// id "store/<epoch>".
type fleetRow struct {
	active []store.EstopSource // Kind "replica"
	gaps   []store.EstopSource // Kind "replica-gap"
	acked  []store.EstopSource // Kind "replica-ack", oldest first
}

// kindAck marks an acknowledged trip id in the stored row.
const kindAck = "replica-ack"

// kindGap marks a replica's bus gap not acknowledged yet.
const kindGap = "replica-gap"

// maxAcked bounds the acknowledged ids the row keeps. An id dropped from
// it can only come back through a save delayed past maxAcked later resets,
// and would then trip the fleet again (never the other way round).
const maxAcked = 512

// storeTripID is the trip id of a tripped row not in fleet form.
func storeTripID(epoch uint64) string { return "store/" + fmt.Sprint(epoch) }

// isTripID reports whether id has the form of a trip id ("<replica>/<epoch>",
// where the replica id itself may contain '/').
func isTripID(id string) bool { return strings.Contains(id, "/") }

func readFleetRow(st store.EstopState) fleetRow {
	var r fleetRow
	for _, src := range st.Sources {
		switch {
		case src.Kind == kindAck && isTripID(src.ID):
			r.acked = append(r.acked, src)
		case src.Kind == kindGap && isTripID(src.ID):
			r.gaps = append(r.gaps, src)
		case src.Kind == estop.KindReplica && isTripID(src.ID):
			if st.State == "armed" {
				r.acked = append(r.acked, store.EstopSource{ID: src.ID, Kind: kindAck, State: estop.SourceClear, Since: src.Since})
			} else {
				r.active = append(r.active, src)
			}
		}
	}
	if st.State == "tripped" && len(r.active) == 0 {
		r.active = append(r.active, store.EstopSource{ID: storeTripID(st.Epoch), Kind: estop.KindReplica, State: estop.SourceClear, Since: st.Since})
	}
	return r
}

func (r *fleetRow) isActive(id string) bool {
	return slices.ContainsFunc(r.active, func(s store.EstopSource) bool { return s.ID == id })
}

func (r *fleetRow) isAcked(id string) bool {
	return slices.ContainsFunc(r.acked, func(s store.EstopSource) bool { return s.ID == id })
}

// trip adds the trip ids that are neither active nor acknowledged. A
// replica's own condition that is not a trip id (the bus gap, "bus") stays
// with that replica: it is not written to the row.
func (r *fleetRow) trip(ids []string, since int64) {
	for _, id := range ids {
		if isTripID(id) && !r.isActive(id) && !r.isAcked(id) {
			r.active = append(r.active, store.EstopSource{ID: id, Kind: estop.KindReplica, State: estop.SourceClear, Since: since})
		}
	}
}

// gap adds a replica's bus gap id unless it is already there or acked.
func (r *fleetRow) gap(id string, since int64) {
	if !isTripID(id) || r.isAcked(id) || slices.ContainsFunc(r.gaps, func(s store.EstopSource) bool { return s.ID == id }) {
		return
	}
	r.gaps = append(r.gaps, store.EstopSource{ID: id, Kind: kindGap, State: estop.SourceClear, Since: since})
}

// ack moves trip ids from active (or gaps) to acked.
func (r *fleetRow) ack(ids []string, since int64) {
	for _, id := range ids {
		r.active = slices.DeleteFunc(r.active, func(s store.EstopSource) bool { return s.ID == id })
		r.gaps = slices.DeleteFunc(r.gaps, func(s store.EstopSource) bool { return s.ID == id })
		if isTripID(id) && !r.isAcked(id) {
			r.acked = append(r.acked, store.EstopSource{ID: id, Kind: kindAck, State: estop.SourceClear, Since: since})
		}
	}
	if n := len(r.acked) - maxAcked; n > 0 {
		r.acked = slices.Delete(r.acked, 0, n)
	}
}

// state is the row to store, with the epoch, time and reason of the save
// that produced it.
func (r *fleetRow) state(epoch uint64, since int64, reason string) store.EstopState {
	st := store.EstopState{State: "armed", Epoch: epoch, Since: since, Reason: reason,
		Sources: make([]store.EstopSource, 0, len(r.active)+len(r.gaps)+len(r.acked))}
	if len(r.active) > 0 {
		st.State = "tripped"
	}
	st.Sources = append(append(append(st.Sources, r.active...), r.gaps...), r.acked...)
	return st
}

// A rowSave is what one replica's save changes in the row.
type rowSave struct {
	tripIDs  []string // tripped save: the replica's trip ids
	gapID    string   // tripped save: the replica's bus gap, if it has one
	acks     []string // reset: the trip ids it acknowledged
	operator bool     // reset by an operator (not applied from the fleet): acknowledges every gap too
}

// mergeSave returns the row after a replica's save: a tripped state adds
// its trip ids and gap, an armed state (a reset) acknowledges its acks and,
// for an operator's reset, every gap.
func mergeSave(cur store.EstopState, save store.EstopState, rs rowSave) store.EstopState {
	r := readFleetRow(cur)
	if save.State == "tripped" {
		r.trip(rs.tripIDs, save.Since)
		if rs.gapID != "" {
			r.gap(rs.gapID, save.Since)
		}
	} else {
		acks := rs.acks
		if rs.operator {
			for _, g := range r.gaps {
				acks = append(acks, g.ID)
			}
		}
		r.ack(acks, save.Since)
	}
	return r.state(save.Epoch, save.Since, save.Reason)
}
