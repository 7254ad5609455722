package main

// Global flags shared by the command groups.
var (
	flagOutput string // "text" or "json"
	flagURL    string
	flagAPIKey string
)

func init() {
	rootCmd.PersistentFlags().StringVarP(&flagOutput, "output", "o", "text", "output format: text or json")
	rootCmd.PersistentFlags().StringVar(&flagURL, "url", envOr("SINT_URL", "http://127.0.0.1:8080"), "gateway URL (env SINT_URL)")
	rootCmd.PersistentFlags().StringVar(&flagAPIKey, "api-key", "", "operator API key (env SINT_API_KEY)")
}
