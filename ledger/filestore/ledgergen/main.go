// Command ledgergen writes a valid embedded ledger store of N entries
// directly (hash chain, stored hashes, offsets, event id index, signed
// checkpoints), for measuring restart, proofs and appends on large ledgers:
//
//	go run ./ledger/filestore/ledgergen -dir /tmp/ledger-10m -n 10000000
//
// The checkpoint key is a fixed test key (gateway "bench-gw", kid
// "kid-bench"); -jwks writes its public key as a JWKS for
// `sintctl ledger verify --checkpoint … --jwks …`. It prints the final
// checkpoint as JSON on stdout.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

func main() {
	dir := flag.String("dir", "", "empty directory to write the store into")
	n := flag.Uint64("n", 1000, "entries (checkpoint entries included)")
	small := flag.Bool("small", false, `minimal payloads ({"i":n}) instead of allow decisions`)
	every := flag.Uint64("checkpoint-every", 10000, "entries between checkpoint entries")
	jwks := flag.String("jwks", "", "write the checkpoint key as a JWKS file here")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ledgergen: -dir is required")
		os.Exit(1)
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	signer, err := ledger.NewEd25519Signer("bench-gw", "kid-bench", priv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgergen:", err)
		os.Exit(1)
	}
	if *jwks != "" {
		pub := priv.Public().(ed25519.PublicKey)
		b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": "kid-bench", "x": base64.RawURLEncoding.EncodeToString(pub)}}})
		if err := os.WriteFile(*jwks, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "ledgergen:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	cp, err := filestore.Generate(ctx, *dir, *n, filestore.GenOptions{Signer: signer, CheckpointEvery: *every, Small: *small,
		Progress: func(done uint64) {
			el := time.Since(start)
			fmt.Fprintf(os.Stderr, "%d entries, %.0f/s\n", done, float64(done)/el.Seconds())
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgergen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%d entries in %v\n", *n, time.Since(start).Round(time.Millisecond))
	json.NewEncoder(os.Stdout).Encode(cp)
}
