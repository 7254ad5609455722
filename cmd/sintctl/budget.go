package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/spf13/cobra"
)

// sintctl budget set|show|list|transactions|prices.
func init() {
	budgetCmd := &cobra.Command{Use: "budget", Short: "Agent budgets, balances and prices (economy)"}
	var key, memo string
	set := &cobra.Command{
		Use: "set AGENT_ID BALANCE", Short: "Set an agent's balance in credits (scope economy:write)", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			bal, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || bal < 0 {
				return &exitError{exitLocal, fmt.Errorf("BALANCE must be a non-negative integer")}
			}
			body := map[string]any{"balance": bal}
			if key != "" {
				body["idempotencyKey"] = key
			}
			if memo != "" {
				body["memo"] = memo
			}
			var out map[string]any
			if err := call("PUT", "/v1/economy/budgets/"+url.PathEscape(args[0]), body, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				tx, _ := out["transaction"].(map[string]any)
				fmt.Printf("balance of %s is %v (change %v, replayed %v)\n", args[0], tx["balanceAfter"], tx["amount"], out["replayed"])
			})
		},
	}
	set.Flags().StringVar(&key, "idempotency-key", "", "makes a retried set apply once")
	set.Flags().StringVar(&memo, "memo", "", "note recorded with the transaction")
	show := &cobra.Command{
		Use: "show AGENT_ID", Short: "Show an agent's balance (scope read)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out map[string]any
			if err := call("GET", "/v1/economy/balance?agentId="+url.QueryEscape(args[0]), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("%s balance %v\n", args[0], out["balance"]) })
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List every account (scope read)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var out struct {
				Accounts []map[string]any `json:"accounts"`
			}
			if err := call("GET", "/v1/economy/budgets", nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, a := range out.Accounts {
					fmt.Printf("%s %v\n", a["agentId"], a["balance"])
				}
			})
		},
	}
	var limit int
	txs := &cobra.Command{
		Use: "transactions AGENT_ID", Short: "An agent's transactions, newest first (scope read)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out struct {
				Transactions []map[string]any `json:"transactions"`
			}
			if err := call("GET", fmt.Sprintf("/v1/economy/transactions?agentId=%s&limit=%d", url.QueryEscape(args[0]), limit), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, t := range out.Transactions {
					fmt.Printf("%v %-7v %+v → %v  %v %v\n", t["at"], t["kind"], t["amount"], t["balanceAfter"], t["idempotencyKey"], t["memo"])
				}
			})
		},
	}
	txs.Flags().IntVar(&limit, "limit", 50, "at most this many")
	prices := &cobra.Command{Use: "prices", Short: "Show or replace the price list"}
	pget := &cobra.Command{
		Use: "get", Short: "Show the price list (scope read)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var out map[string]any
			if err := call("GET", "/v1/economy/prices", nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Println(string(b))
			})
		},
	}
	pset := &cobra.Command{
		Use:   "set FILE",
		Short: "Replace the price list from a JSON file (scope economy:write)",
		Long: "FILE holds {\"tiers\":{\"3\":5},\"resources\":[{\"pattern\":\"ros:///arm/**\",\"action\":\"publish\",\"price\":20}],\"version\":N}\n" +
			"where version is the version being replaced (from `budget prices get`; 0 the first time).",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{exitLocal, err}
			}
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				return &exitError{exitLocal, fmt.Errorf("%s: %w", args[0], err)}
			}
			delete(body, "updatedAt")
			var out map[string]any
			if err := call("PUT", "/v1/economy/prices", body, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("price list version %v in use\n", out["version"]) })
		},
	}
	prices.AddCommand(pget, pset)
	budgetCmd.AddCommand(set, show, list, txs, prices)
	rootCmd.AddCommand(budgetCmd)
}
