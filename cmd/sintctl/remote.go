package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/sintgate/sintgate/client"
)

// operator returns an operator client from --url and --api-key/SINT_API_KEY.
func operator() (*client.Operator, error) {
	k := apiKey()
	if k == "" {
		return nil, &exitError{exitLocal, errors.New("an API key is required: --api-key or SINT_API_KEY")}
	}
	return &client.Operator{BaseURL: flagURL, APIKey: k, HTTP: &http.Client{Timeout: 60 * time.Second}}, nil
}

// call runs one operator request and maps failures to exit codes.
func call(method, path string, in, out any) error {
	op, err := operator()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := op.Do(ctx, method, path, in, out); err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) {
			return &exitError{exitServer, fmt.Errorf("%d %s: %s", ae.Status, ae.Code, ae.Message)}
		}
		return &exitError{exitServer, err}
	}
	return nil
}

// printOut prints v as JSON with -o json, else with the text function.
func printOut(v any, text func()) error {
	if flagOutput == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text()
	return nil
}
