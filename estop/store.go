package estop

import (
	"context"
	"time"

	"github.com/sintgate/sintgate/store"
)

// ToStore converts a State into its persisted form, which is also the body of
// GET /v1/estop (PROTOCOL.md §8): times in unix milliseconds.
func ToStore(s State) store.EstopState {
	out := store.EstopState{State: s.String(), Epoch: s.Epoch, Since: s.Since.UnixMilli(), Reason: s.Reason,
		Sources: make([]store.EstopSource, 0, len(s.Sources))}
	for _, src := range s.Sources {
		out.Sources = append(out.Sources, store.EstopSource{ID: src.ID, Kind: src.Kind, State: src.State, Since: src.Since.UnixMilli()})
	}
	return out
}

// FromStore converts a persisted state back. A state persisted as tripped,
// or with any source latched, reads as tripped (fail safe). Latched sources
// come back clear: a latch is a live condition of hardware, which re-asserts
// it after a restart (the button's first read, the link server's start, or
// BootTripped); a latch persisted for hardware that is no longer configured
// would otherwise block every reset forever.
func FromStore(e store.EstopState) State {
	s := State{Tripped: e.State == "tripped", Epoch: e.Epoch, Since: time.UnixMilli(e.Since), Reason: e.Reason}
	for _, src := range e.Sources {
		if src.State == SourceTripped {
			s.Tripped = true
		}
		s.Sources = append(s.Sources, SourceState{ID: src.ID, Kind: src.Kind, State: SourceClear, Since: time.UnixMilli(src.Since)})
	}
	return s
}

// StorePersister is a Persister over store.Estop.
type StorePersister struct{ Store store.Estop }

// Save implements Persister.
func (p StorePersister) Save(ctx context.Context, s State) error {
	return p.Store.PutEstop(ctx, ToStore(s))
}

// LoadInitial reads the persisted state for WithInitial. A tripped state
// stays tripped across restarts (fail-safe).
func LoadInitial(ctx context.Context, st store.Estop) (State, error) {
	e, err := st.GetEstop(ctx)
	if err != nil {
		return State{}, err
	}
	return FromStore(e), nil
}
