package dashboard

import (
	"io"
	"net/http/httptest"
	"testing"
)

// BenchmarkIndex serves the dashboard's index page through fiber's test
// path (in-memory connection, no network).
func BenchmarkIndex(b *testing.B) {
	app := newApp()
	b.ReportAllocs()
	for b.Loop() {
		res, err := app.Test(httptest.NewRequest("GET", "/dashboard/", nil), -1)
		if err != nil || res.StatusCode != 200 {
			b.Fatal(err, res.StatusCode)
		}
		_, _ = io.Copy(io.Discard, res.Body)
	}
}
