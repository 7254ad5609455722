package ledger

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Checkpoint triggers (docs/ledger.md): defaults of Checkpointer.
const (
	DefaultCheckpointInterval = time.Minute
	DefaultCheckpointEntries  = 10_000
	checkpointPoll            = time.Second
)

// Checkpointer signs checkpoints so that a signed tree head is never far
// behind the ledger, even when the gateway never stays up for a minute:
// one at start (covering what is already there, e.g. what a crashed run
// left), then every Interval, and as soon as Entries entries were appended
// since the latest checkpoint (checked every second); the gateway signs a
// last one at clean shutdown (Final). Sign writes a checkpoint if anything
// but the latest checkpoint's own entry was appended since, and returns the
// latest one otherwise (Ledger.Checkpoint); ErrNotFound (empty ledger) is
// not an error.
type Checkpointer struct {
	Sign func(ctx context.Context) (Checkpoint, error)
	Size func(ctx context.Context) (uint64, error)
	// Latest, if set, returns the latest checkpoint (another replica's
	// counts too) before an entry-count checkpoint is signed.
	Latest   func(ctx context.Context) (Checkpoint, error)
	Interval time.Duration // 0 = DefaultCheckpointInterval
	Entries  uint64        // 0 = DefaultCheckpointEntries
	Log      *slog.Logger  // nil = discard

	poll time.Duration // tests shorten it
}

func (c *Checkpointer) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// sign signs one checkpoint and returns the tree size it covers (0 when
// the ledger is empty or signing failed).
func (c *Checkpointer) sign(ctx context.Context, why string) uint64 {
	cp, err := c.Sign(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0
	case err != nil:
		if ctx.Err() == nil {
			c.log().Error("checkpoint", "trigger", why, "err", err)
		}
		return 0
	}
	return cp.TreeSize
}

// Run signs the start checkpoint, then checkpoints on the interval and
// the entry count until ctx ends.
func (c *Checkpointer) Run(ctx context.Context) {
	interval, entries, poll := c.Interval, c.Entries, c.poll
	if interval <= 0 {
		interval = DefaultCheckpointInterval
	}
	if entries == 0 {
		entries = DefaultCheckpointEntries
	}
	if poll <= 0 {
		poll = checkpointPoll
	}
	covered := c.sign(ctx, "start")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	check := time.NewTicker(poll)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n := c.sign(ctx, "interval"); n > 0 {
				covered = n
			}
		case <-check.C:
			size, err := c.Size(ctx)
			if err != nil || size < covered+entries {
				continue
			}
			// Another replica may have signed one meanwhile.
			if c.Latest != nil {
				if cp, err := c.Latest(ctx); err == nil && cp.TreeSize > covered {
					if covered = cp.TreeSize; size < covered+entries {
						continue
					}
				}
			}
			if n := c.sign(ctx, "entries"); n > 0 {
				covered = n
			} else {
				covered = size // failed: retry after Entries more entries or on the interval, not every poll
			}
		}
	}
}

// Final signs the checkpoint of a clean shutdown, after the last decision
// was recorded.
func (c *Checkpointer) Final(ctx context.Context) error {
	_, err := c.Sign(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
