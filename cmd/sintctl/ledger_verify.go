package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/ledger"
)

// exitInvalid is the exit code of a ledger that fails verification (the
// ledger is rejected, like a deny).
const exitInvalid = exitDeny

var (
	ledgerVerifyCheckpoint string
	ledgerVerifyJWKS       string
	ledgerVerifyOrigin     string
	ledgerVerifyQuiet      bool
)

var ledgerVerifyCmd = &cobra.Command{
	Use:   "verify FILE",
	Short: "Verify an NDJSON ledger export offline: hash chain, Merkle root, signed checkpoint",
	Long: `Verify a ledger export (GET /v1/ledger/export, one entry per line, from
sequence 1) without contacting the gateway: every entry's hash is recomputed
(PROTOCOL.md §9), each previousHash must link to the previous entry,
sequence numbers must run 1, 2, 3… without gaps, and the RFC 6962 Merkle root
of the entries is computed. FILE "-" reads standard input.

With --checkpoint FILE --jwks FILE the signed checkpoint (the body of
GET /v1/ledger/checkpoint, or the checkpoint object itself) is checked too:
its C2SP note signature against the JWKS key named by its kid, and its root
against the root of the first treeSize entries of the export.

Progress goes to stderr. Exit codes: 0 valid, 1 usage or local error (file
unreadable, bad JWKS), 3 the ledger or the checkpoint does not verify (the
message names the first bad sequence).`,
	Args: cobra.ExactArgs(1),
	RunE: runLedgerVerify,
}

// ledgerVerifyResult is the -o json output.
type ledgerVerifyResult struct {
	Valid            bool              `json:"valid"`
	Checked          uint64            `json:"checked"`
	FirstBadSequence *uint64           `json:"firstBadSequence"`
	Reason           string            `json:"reason,omitempty"`
	RootHash         string            `json:"rootHash"`
	Checkpoint       *checkpointResult `json:"checkpoint,omitempty"`
}

type checkpointResult struct {
	Valid    bool   `json:"valid"`
	TreeSize uint64 `json:"treeSize"`
	KID      string `json:"kid"`
	Origin   string `json:"origin"`
	Reason   string `json:"reason,omitempty"`
}

func init() {
	f := ledgerVerifyCmd.Flags()
	f.StringVar(&ledgerVerifyCheckpoint, "checkpoint", "", "checkpoint JSON file to verify against the export (needs --jwks)")
	f.StringVar(&ledgerVerifyJWKS, "jwks", "", "JWKS file (GET /.well-known/jwks.json) holding the checkpoint key")
	f.StringVar(&ledgerVerifyOrigin, "origin", "", `expected checkpoint origin, e.g. "sintgate/gw-1" (default: accept the note's own sintgate/ origin)`)
	f.BoolVarP(&ledgerVerifyQuiet, "quiet", "q", false, "no progress on stderr")
	ledgerGroup().AddCommand(ledgerVerifyCmd)
}

// ledgerGroup returns the "ledger" command group, creating it if no other
// file has registered it yet.
func ledgerGroup() *cobra.Command {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "ledger" {
			return c
		}
	}
	c := &cobra.Command{
		Use:   "ledger",
		Short: "Read, export and verify the evidence ledger",
	}
	rootCmd.AddCommand(c)
	return c
}

// readCheckpoint accepts the checkpoint object or {"checkpoint": {...}}.
func readCheckpoint(path string) (ledger.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	var wrapped struct {
		Checkpoint *ledger.Checkpoint `json:"checkpoint"`
	}
	if err := json.Unmarshal(b, &wrapped); err == nil && wrapped.Checkpoint != nil {
		return *wrapped.Checkpoint, nil
	}
	var c ledger.Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.Note == "" {
		return c, fmt.Errorf("%s: no checkpoint note", path)
	}
	return c, nil
}

func runLedgerVerify(cmd *cobra.Command, args []string) error {
	local := func(err error) error { return &exitError{code: exitLocal, err: err} }
	if (ledgerVerifyCheckpoint == "") != (ledgerVerifyJWKS == "") {
		return local(fmt.Errorf("--checkpoint and --jwks go together"))
	}
	var cp *ledger.Checkpoint
	var cpRes *checkpointResult
	var sizes []uint64
	if ledgerVerifyCheckpoint != "" {
		c, err := readCheckpoint(ledgerVerifyCheckpoint)
		if err != nil {
			return local(err)
		}
		jb, err := os.ReadFile(ledgerVerifyJWKS)
		if err != nil {
			return local(err)
		}
		keys, err := ledger.ParseJWKS(jb)
		if err != nil {
			return local(err)
		}
		cp = &c
		cpRes = &checkpointResult{TreeSize: c.TreeSize, KID: c.KID}
		pub, ok := keys[c.KID]
		if !ok {
			cpRes.Reason = fmt.Sprintf("kid %q is not in the JWKS", c.KID)
		} else if _, _, err := ledger.VerifyCheckpoint(c, ledgerVerifyOrigin, pub); err != nil {
			cpRes.Reason = err.Error()
		} else {
			cpRes.Valid = true
			origin, _, _, _ := ledger.ParseCheckpointBody(noteBody(c.Note))
			cpRes.Origin = origin
		}
		sizes = []uint64{c.TreeSize}
	}

	var in io.Reader
	var total int64
	if args[0] == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(args[0])
		if err != nil {
			return local(err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			total = fi.Size()
		}
		in = f
	}
	cr := &countingReader{r: in}
	prog := newProgress(cmd.ErrOrStderr(), total, !ledgerVerifyQuiet)
	rep, err := ledger.VerifyNDJSON(cr, sizes, func(n uint64) { prog.update(cr.n.Load(), n) })
	prog.done(cr.n.Load(), rep.Checked)
	if err != nil {
		return local(fmt.Errorf("read %s: %w", args[0], err))
	}

	res := ledgerVerifyResult{Valid: rep.Valid, Checked: rep.Checked, FirstBadSequence: rep.FirstBadSequence,
		Reason: rep.Reason, RootHash: hex.EncodeToString(rep.Root[:]), Checkpoint: cpRes}
	if cp != nil && cpRes.Valid {
		root, reached := rep.Roots[cp.TreeSize]
		switch {
		case !reached:
			cpRes.Valid = false
			cpRes.Reason = fmt.Sprintf("checkpoint covers %d entries but only %d verified", cp.TreeSize, rep.Checked)
		case hex.EncodeToString(root[:]) != cp.RootHash:
			cpRes.Valid = false
			cpRes.Reason = fmt.Sprintf("root of the first %d entries differs from the signed root", cp.TreeSize)
		}
	}

	out := cmd.OutOrStdout()
	if flagOutput == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return local(err)
		}
	} else {
		if rep.Valid {
			fmt.Fprintf(out, "valid: %d entries, chain intact, Merkle root %s\n", rep.Checked, res.RootHash)
		} else {
			fmt.Fprintf(out, "INVALID at sequence %d: %s (%d entries before it verified)\n", *rep.FirstBadSequence, rep.Reason, rep.Checked)
		}
		if cpRes != nil {
			if cpRes.Valid {
				fmt.Fprintf(out, "checkpoint: valid, signed by %s (kid %s), tree size %d matches the export\n", cpRes.Origin, cpRes.KID, cpRes.TreeSize)
			} else {
				fmt.Fprintf(out, "checkpoint: INVALID: %s\n", cpRes.Reason)
			}
		}
	}
	switch {
	case !rep.Valid:
		return &exitError{code: exitInvalid, err: fmt.Errorf("ledger export does not verify: first bad sequence %d: %s", *rep.FirstBadSequence, rep.Reason)}
	case cpRes != nil && !cpRes.Valid:
		return &exitError{code: exitInvalid, err: fmt.Errorf("checkpoint does not verify: %s", cpRes.Reason)}
	}
	return nil
}

func noteBody(note string) string {
	// The body ends at the blank line before the signatures.
	for i := 0; i+1 < len(note); i++ {
		if note[i] == '\n' && note[i+1] == '\n' {
			return note[:i+1]
		}
	}
	return note
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress draws a one-line progress bar on w at most every 100 ms.
type progress struct {
	w     io.Writer
	total int64
	on    bool
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, total int64, on bool) *progress {
	now := time.Now()
	return &progress{w: w, total: total, on: on, start: now}
}

func (p *progress) update(bytes int64, entries uint64) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw(bytes, entries)
}

func (p *progress) draw(bytes int64, entries uint64) {
	rate := float64(entries) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		const width = 30
		filled := int(frac * width)
		bar := make([]byte, width)
		for i := range bar {
			if i < filled {
				bar[i] = '#'
			} else {
				bar[i] = '.'
			}
		}
		fmt.Fprintf(p.w, "\rverifying [%s] %3.0f%% %d entries (%.0f/s)", bar, frac*100, entries, rate)
		return
	}
	fmt.Fprintf(p.w, "\rverifying %d entries (%.0f/s)", entries, rate)
}

func (p *progress) done(bytes int64, entries uint64) {
	if !p.on {
		return
	}
	p.draw(bytes, entries)
	fmt.Fprintln(p.w)
}
