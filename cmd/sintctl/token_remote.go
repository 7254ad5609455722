package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// tokenGroup returns the "token" command group, creating it if no other file
// has registered it.
func tokenGroup() *cobra.Command {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "token" {
			return c
		}
	}
	c := &cobra.Command{Use: "token", Short: "Issue, delegate, inspect, register and revoke capability tokens"}
	rootCmd.AddCommand(c)
	return c
}

type tokenItem struct {
	TokenID       string `json:"tokenId"`
	Issuer        string `json:"issuer"`
	Subject       string `json:"subject"`
	ParentTokenID string `json:"parentTokenId"`
	Revoked       bool   `json:"revoked"`
	Claims        *struct {
		Resource string   `json:"resource"`
		Actions  []string `json:"actions"`
		Tier     int      `json:"tier"`
	} `json:"claims"`
}

func printToken(t tokenItem) {
	state := "active"
	if t.Revoked {
		state = "REVOKED"
	}
	res, acts, tier := "", "", 0
	if t.Claims != nil {
		res, acts, tier = t.Claims.Resource, strings.Join(t.Claims.Actions, ","), t.Claims.Tier
	}
	fmt.Printf("%s  %-7s tier %d  %s [%s]  subject %s…\n", t.TokenID, state, tier, res, acts, short(t.Subject))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func init() {
	var delegated bool
	register := &cobra.Command{
		Use: "register JWS|FILE|@FILE", Short: "Register a signed token with the gateway (POST /v1/tokens; scope tokens:write)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			raw, err := readTokenArg(args[0])
			if err != nil {
				return &exitError{exitLocal, err}
			}
			path := "/v1/tokens"
			if delegated {
				path = "/v1/tokens/delegate"
			}
			var out map[string]any
			if err := call("POST", path, map[string]string{"token": raw}, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("registered %v\n", out["tokenId"]) })
		},
	}
	register.Flags().BoolVar(&delegated, "delegated", false, "use POST /v1/tokens/delegate (delegated tokens only)")

	var subject, issuer, parent string
	list := &cobra.Command{
		Use: "list", Short: "List registered tokens", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"subject": subject, "issuer": issuer, "parent": parent} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var out struct {
				Tokens []tokenItem `json:"tokens"`
			}
			if err := call("GET", "/v1/tokens?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, t := range out.Tokens {
					printToken(t)
				}
			})
		},
	}
	list.Flags().StringVar(&subject, "subject", "", "only tokens for this agent")
	list.Flags().StringVar(&issuer, "issuer", "", "only tokens signed by this key")
	list.Flags().StringVar(&parent, "parent", "", "only children of this token")

	get := &cobra.Command{
		Use: "get TOKEN_ID", Short: "Show a registered token", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var t tokenItem
			if err := call("GET", "/v1/tokens/"+url.PathEscape(args[0]), nil, &t); err != nil {
				return err
			}
			return printOut(t, func() { printToken(t) })
		},
	}
	revoke := &cobra.Command{
		Use: "revoke TOKEN_ID", Short: "Revoke a token and, transitively, every token delegated from it", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out struct {
				Revoked []string `json:"revoked"`
			}
			if err := call("DELETE", "/v1/tokens/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				fmt.Printf("revoked %d token(s)\n", len(out.Revoked))
				for _, id := range out.Revoked {
					fmt.Println(" ", id)
				}
			})
		},
	}
	tokenGroup().AddCommand(register, list, get, revoke)
}
