package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

var rootsCmd = &cobra.Command{Use: "roots", Short: "Manage trusted root issuers (scope admin)"}

func init() {
	var name string
	add := &cobra.Command{
		Use: "add PUBLIC_KEY_HEX", Short: "Trust a root issuer key", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out map[string]any
			if err := call("POST", "/v1/roots", map[string]string{"publicKey": args[0], "name": name}, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("trusted root %s\n", args[0]) })
		},
	}
	add.Flags().StringVar(&name, "name", "", "a name for the root")
	list := &cobra.Command{
		Use: "list", Short: "List trusted roots", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var out struct {
				Roots []struct {
					PublicKey string `json:"publicKey"`
					Name      string `json:"name"`
				} `json:"roots"`
			}
			if err := call("GET", "/v1/roots", nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, r := range out.Roots {
					fmt.Printf("%s  %s\n", r.PublicKey, r.Name)
				}
			})
		},
	}
	remove := &cobra.Command{
		Use: "remove PUBLIC_KEY_HEX", Short: "Stop trusting a root issuer key", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := call("DELETE", "/v1/roots/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			return printOut(map[string]string{"removed": args[0]}, func() { fmt.Printf("removed root %s\n", args[0]) })
		},
	}
	rootsCmd.AddCommand(add, list, remove)
	rootCmd.AddCommand(rootsCmd)
}
