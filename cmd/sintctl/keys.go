package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/internal/keyfile"
)

var keysCmd = &cobra.Command{Use: "keys", Short: "Create Ed25519 key files for agents and root issuers"}

var keysGenOut string

var keysGenCmd = &cobra.Command{
	Use:   "gen --out FILE",
	Short: "Generate an Ed25519 key file (mode 0600) and print its agentId",
	Long: `Generate an Ed25519 key pair and write it to FILE as
{"publicKey": hex, "privateKey": hex of the 64-byte private key} with mode 0600.
An existing file is never overwritten. The agentId (the public key in hex) is printed.

When FILE lies inside a git work tree that does not ignore it (checked with
git check-ignore; assumed not ignored when git is missing), a warning goes to
stderr: a private key must not be committed. The repository's .gitignore
ignores *.key.

Exit codes: 0 success, 1 local error (including an existing FILE).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		if keysGenOut == "" {
			return &exitError{exitLocal, fmt.Errorf("--out FILE is required")}
		}
		k, err := keyfile.Generate()
		if err != nil {
			return &exitError{exitLocal, err}
		}
		if err := keyfile.Save(keysGenOut, k); err != nil {
			return &exitError{exitLocal, err}
		}
		if root, tracked := unignoredInGit(cmd.Context(), keysGenOut); tracked {
			fmt.Fprintf(cmd.ErrOrStderr(), "sintctl: warning: %s holds a private key inside the git work tree %s, "+
				"which does not ignore it: add it to .gitignore or keep keys outside the repository\n", keysGenOut, root)
		}
		return writeOut(cmd.OutOrStdout(), map[string]string{"agentId": k.AgentID(), "publicKey": k.AgentID(), "file": keysGenOut},
			func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (mode 0600)\nagentId: %s\n", keysGenOut, k.AgentID())
			})
	},
}

// unignoredInGit reports whether path lies inside a git work tree (a parent
// directory holding .git, a directory or a worktree's file) that does not
// ignore it, and the work tree's root. It asks git check-ignore; when git is
// missing or fails, it assumes the file is not ignored (warn when unsure).
func unignoredInGit(ctx context.Context, path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r // git answers about the real path only
	}
	root := ""
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Exit 0: ignored; 1: not ignored; anything else (128, no git): unknown.
	err = exec.CommandContext(ctx, "git", "-C", root, "check-ignore", "-q", "--", abs).Run()
	return root, err != nil
}

func init() {
	keysGenCmd.Flags().StringVar(&keysGenOut, "out", "", "key file to create (must not exist)")
	keysCmd.AddCommand(keysGenCmd)
	rootCmd.AddCommand(keysCmd)
}

// writeOut prints v as indented JSON with -o json, else calls text.
func writeOut(w io.Writer, v any, text func(io.Writer)) error {
	if flagOutput == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	text(w)
	return nil
}
