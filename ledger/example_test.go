package ledger_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sintgate/sintgate/ledger"
)

// An entry's hash covers its canonical fields; tokenId is omitted when empty.
func ExampleHashEntry() {
	e := ledger.Entry{
		EventID:        "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e60",
		SequenceNumber: 2,
		Timestamp:      "2026-11-23T20:15:00.123457Z",
		EventType:      "policy.loaded",
		AgentID:        "system",
		Payload:        json.RawMessage(`{}`),
		PreviousHash:   "8d5552c415c9d6d0c0b74d5972c504d17783f31219889e6788f5498565850bae",
	}
	h, err := ledger.HashEntry(&e)
	fmt.Println(h, err)
	// Output: 92f641680c0f8fb6bbfeda285ffb326e5aae553a89250cf40f9f839131c970ff <nil>
}

// A checkpoint is a C2SP signed note over (origin, tree size, root). The root
// of a one-entry tree is base64(sha256(0x00 || raw entry hash)).
func ExampleSignCheckpoint() {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	s, _ := ledger.NewEd25519Signer("gw-1", "kid-1", priv)
	var b ledger.TreeBuilder
	leaf, _ := ledger.EntryLeafHash("92f641680c0f8fb6bbfeda285ffb326e5aae553a89250cf40f9f839131c970ff")
	b.Append(leaf)
	cp, _ := ledger.SignCheckpoint(s, 1, b.Root(), time.Unix(0, 0))
	body, _, _ := strings.Cut(cp.Note, "\n\n")
	fmt.Println(body)
	size, _, err := ledger.VerifyCheckpoint(cp, "sintgate/gw-1", priv.Public().(ed25519.PublicKey))
	fmt.Println(size, err)
	// Output:
	// sintgate/gw-1
	// 1
	// HMHYtyfn2gtlfASS4lgujw3SBtX4lCpKctQqA1Zy+mY=
	// 1 <nil>
}
