package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

var apikeysCmd = &cobra.Command{Use: "apikeys", Short: "Manage operator API keys (scope admin)"}

func init() {
	var scopes string
	create := &cobra.Command{
		Use: "create OPERATOR_ID", Short: "Create an API key; its secret is shown only this once", Args: cobra.ExactArgs(1),
		Long: "Scopes: read, tokens:write, approve, estop:trip, estop:reset, agents:write, economy:write, admin.",
		RunE: func(_ *cobra.Command, args []string) error {
			var out struct {
				ID         string   `json:"id"`
				Key        string   `json:"key"`
				OperatorID string   `json:"operatorId"`
				Scopes     []string `json:"scopes"`
			}
			in := map[string]any{"operatorId": args[0], "scopes": strings.Split(scopes, ",")}
			if err := call("POST", "/v1/apikeys", in, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("%s\n", out.Key) })
		},
	}
	create.Flags().StringVar(&scopes, "scopes", "read", "comma-separated scopes")
	list := &cobra.Command{
		Use: "list", Short: "List API keys (never their secrets)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var out struct {
				APIKeys []struct {
					ID         string   `json:"id"`
					OperatorID string   `json:"operatorId"`
					Scopes     []string `json:"scopes"`
				} `json:"apiKeys"`
			}
			if err := call("GET", "/v1/apikeys", nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, k := range out.APIKeys {
					fmt.Printf("%s  %-16s %s\n", k.ID, k.OperatorID, strings.Join(k.Scopes, ","))
				}
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete an API key", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := call("DELETE", "/v1/apikeys/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			return printOut(map[string]string{"deleted": args[0]}, func() { fmt.Printf("deleted %s\n", args[0]) })
		},
	}
	apikeysCmd.AddCommand(create, list, del)
	rootCmd.AddCommand(apikeysCmd)
}
