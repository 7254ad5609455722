package main

import "os"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// apiKey returns the --api-key flag or SINT_API_KEY.
func apiKey() string {
	if flagAPIKey != "" {
		return flagAPIKey
	}
	return os.Getenv("SINT_API_KEY")
}
