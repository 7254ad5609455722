package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/ledger"
)

func printEntry(e ledger.Entry) {
	tok := ""
	if e.TokenID != "" {
		tok = " token=" + e.TokenID
	}
	fmt.Printf("#%-8d %s %s %-28s %s%s %s\n", e.SequenceNumber, e.EventID, e.Timestamp, e.EventType, e.AgentID, tok, e.Payload)
}

// resolveEntry finds the ledger entry an argument names: a sequence number
// ("12" or "#12", as intercept and ledger tail print it), an eventId, or a
// requestId (the entry that recorded the request's final decision: the last
// entry whose payload carries that requestId). It returns the entry's
// eventId and, for anything but an eventId, a line saying what was chosen.
func resolveEntry(arg string) (eventID, note string, err error) {
	if digits := strings.TrimPrefix(arg, "#"); digits != "" && strings.Trim(digits, "0123456789") == "" {
		seq, perr := strconv.ParseUint(digits, 10, 64)
		if perr != nil || seq == 0 {
			return "", "", &exitError{exitLocal, fmt.Errorf("%q is not a ledger sequence number (1, 2, …)", arg)}
		}
		var p ledgerPage
		if err := call("GET", fmt.Sprintf("/v1/ledger?after=%d&limit=1", seq-1), nil, &p); err != nil {
			return "", "", err
		}
		if len(p.Events) == 0 || p.Events[0].SequenceNumber != seq {
			return "", "", &exitError{exitServer, newHTTPError(404, "NOT_FOUND", fmt.Sprintf("no ledger entry #%d", seq))}
		}
		e := p.Events[0]
		return e.EventID, fmt.Sprintf("entry #%d is eventId %s (%s)", seq, e.EventID, e.EventType), nil
	}
	var e ledger.Entry
	err = call("GET", "/v1/ledger/"+url.PathEscape(arg), nil, &e)
	var he *httpError
	if err == nil || !errors.As(err, &he) || he.Status != 404 {
		return arg, "", err
	}
	// Not an eventId: look for the request's entries.
	var found *ledger.Entry
	after := uint64(0)
	for {
		var p ledgerPage
		if err := call("GET", fmt.Sprintf("/v1/ledger?after=%d&limit=1000", after), nil, &p); err != nil {
			return "", "", err
		}
		for i := range p.Events {
			var pl struct {
				RequestID string `json:"requestId"`
			}
			if json.Unmarshal(p.Events[i].Payload, &pl) == nil && pl.RequestID == arg {
				found = &p.Events[i]
			}
		}
		if p.Next == nil {
			break
		}
		after = *p.Next
	}
	if found == nil {
		return "", "", &exitError{exitServer, newHTTPError(404, "NOT_FOUND", "no ledger entry has eventId or requestId "+arg)}
	}
	return found.EventID, fmt.Sprintf("requestId %s is recorded last by entry #%d, eventId %s (%s)", arg, found.SequenceNumber, found.EventID, found.EventType), nil
}

type ledgerPage struct {
	Events []ledger.Entry `json:"events"`
	Next   *uint64        `json:"next"`
}

func init() {
	var n int
	var follow bool
	var eventType, agentID string
	tail := &cobra.Command{
		Use: "tail", Short: "Print the last entries (and, with --follow, new ones as they commit)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var head ledgerPage
			q := url.Values{"limit": {"1000"}, "eventType": {eventType}, "agentId": {agentID}}
			// Find the end: page through from the start (filters apply server-side).
			var all []ledger.Entry
			after := uint64(0)
			for {
				q.Set("after", strconv.FormatUint(after, 10))
				if err := call("GET", "/v1/ledger?"+q.Encode(), nil, &head); err != nil {
					return err
				}
				all = append(all, head.Events...)
				if len(all) > n {
					all = all[len(all)-n:]
				}
				if head.Next == nil {
					break
				}
				after = *head.Next
			}
			for _, e := range all {
				if flagOutput == "json" {
					_ = json.NewEncoder(os.Stdout).Encode(e)
				} else {
					printEntry(e)
				}
				after = max(after, e.SequenceNumber)
			}
			for follow {
				time.Sleep(500 * time.Millisecond)
				q.Set("after", strconv.FormatUint(after, 10))
				var p ledgerPage
				if err := call("GET", "/v1/ledger?"+q.Encode(), nil, &p); err != nil {
					return err
				}
				for _, e := range p.Events {
					if flagOutput == "json" {
						_ = json.NewEncoder(os.Stdout).Encode(e)
					} else {
						printEntry(e)
					}
					after = e.SequenceNumber
				}
			}
			return nil
		},
	}
	tail.Flags().IntVarP(&n, "lines", "n", 20, "entries to show")
	tail.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new entries")
	tail.Flags().StringVar(&eventType, "event-type", "", "only this event type")
	tail.Flags().StringVar(&agentID, "agent", "", "only this agent id")

	get := &cobra.Command{
		Use: "get EVENT_ID|SEQUENCE|REQUEST_ID", Short: "Print one entry (named as for ledger proof)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, _, err := resolveEntry(args[0])
			if err != nil {
				return err
			}
			var e ledger.Entry
			if err := call("GET", "/v1/ledger/"+url.PathEscape(id), nil, &e); err != nil {
				return err
			}
			return printOut(e, func() { printEntry(e) })
		},
	}

	proof := &cobra.Command{
		Use:   "proof EVENT_ID|SEQUENCE|REQUEST_ID",
		Short: "Fetch an inclusion proof and verify it offline against the signed checkpoint and the JWKS",
		Long: "Fetches the entry's inclusion proof and the checkpoint it is relative to, then verifies locally: " +
			"the entry hash, the checkpoint's signature with the key from /.well-known/jwks.json, and the " +
			"Merkle path to the checkpoint's root. Exit 0 only if all hold.\n\n" +
			"The entry is named by its eventId, its sequence number (12 or #12, as intercept and ledger tail " +
			"print it) or the requestId of an intercept (the entry recording its final decision).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, note, err := resolveEntry(args[0])
			if err != nil {
				return err
			}
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			var p struct {
				Entry          ledger.Entry      `json:"entry"`
				LeafIndex      uint64            `json:"leafIndex"`
				TreeSize       uint64            `json:"treeSize"`
				InclusionProof []string          `json:"inclusionProof"`
				Checkpoint     ledger.Checkpoint `json:"checkpoint"`
			}
			if err := call("GET", "/v1/ledger/proof/"+url.PathEscape(id), nil, &p); err != nil {
				return err
			}
			var jwks json.RawMessage
			if err := call("GET", "/.well-known/jwks.json", nil, &jwks); err != nil {
				return err
			}
			err = verifyProof(p.Entry, p.LeafIndex, p.TreeSize, p.InclusionProof, p.Checkpoint, jwks)
			res := map[string]any{"eventId": p.Entry.EventID, "sequence": p.Entry.SequenceNumber, "treeSize": p.TreeSize, "verified": err == nil}
			if err != nil {
				res["error"] = err.Error()
			}
			_ = printOut(res, func() {
				if err != nil {
					fmt.Printf("NOT VERIFIED: entry #%d: %v\n", p.Entry.SequenceNumber, err)
					return
				}
				fmt.Printf("verified: entry #%d (%s) is in the tree of size %d signed by key %s\n", p.Entry.SequenceNumber, p.Entry.Hash, p.TreeSize, p.Checkpoint.KID)
			})
			if err != nil {
				return &exitError{exitDeny, err}
			}
			return nil
		},
	}

	var out string
	export := &cobra.Command{
		Use: "export", Short: "Stream the whole ledger as NDJSON (verify it with `sintctl ledger verify FILE`)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			op, err := operator()
			if err != nil {
				return err
			}
			resp, err := op.Open(context.Background(), "GET", "/v1/ledger/export", nil)
			if err != nil {
				return &exitError{exitServer, asHTTPError(err)}
			}
			defer resp.Body.Close()
			total, _ := strconv.ParseUint(resp.Header.Get("X-Ledger-Size"), 10, 64)
			var w io.Writer = os.Stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return &exitError{exitLocal, err}
				}
				defer f.Close()
				w = f
			}
			pw := &progressWriter{w: w, total: total, label: "export"}
			if _, err := io.Copy(pw, resp.Body); err != nil {
				return &exitError{exitServer, err}
			}
			pw.finish()
			return nil
		},
	}
	export.Flags().StringVar(&out, "out", "", "output file (default stdout)")
	ledgerGroup().AddCommand(tail, get, proof, export)
}

// verifyProof checks an entry's hash, the checkpoint signature and the
// Merkle inclusion path.
func verifyProof(e ledger.Entry, index, size uint64, proof []string, cp ledger.Checkpoint, jwks []byte) error {
	h, err := ledger.HashEntry(&e)
	if err != nil || h != e.Hash {
		return errors.New("entry hash does not match its content")
	}
	if index != e.SequenceNumber-1 || size != cp.TreeSize {
		return errors.New("proof does not refer to the entry and checkpoint")
	}
	keys, err := ledger.ParseJWKS(jwks)
	if err != nil {
		return err
	}
	pub, ok := keys[cp.KID]
	if !ok {
		return fmt.Errorf("checkpoint key %s is not in the JWKS", cp.KID)
	}
	_, root, err := ledger.VerifyCheckpoint(cp, "", pub)
	if err != nil {
		return err
	}
	p, err := ledger.ParseHexHashes(proof)
	if err != nil {
		return err
	}
	return ledger.VerifyInclusion(p, size, index, root, e.Hash)
}

// progressWriter counts NDJSON lines and shows progress on stderr.
type progressWriter struct {
	w     io.Writer
	total uint64
	lines uint64
	label string
	last  time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	for _, c := range b {
		if c == '\n' {
			p.lines++
		}
	}
	if time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.show()
	}
	return p.w.Write(b)
}

func (p *progressWriter) show() {
	if p.total > 0 {
		fmt.Fprintf(os.Stderr, "\r%s: %d/%d entries (%.0f%%)", p.label, p.lines, p.total, 100*float64(p.lines)/float64(p.total))
	} else {
		fmt.Fprintf(os.Stderr, "\r%s: %d entries", p.label, p.lines)
	}
}

func (p *progressWriter) finish() { p.show(); fmt.Fprintln(os.Stderr) }
