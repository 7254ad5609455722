package testenv_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
)

// TestChromiumHarness proves headless Chromium: it loads a page (from a local
// httptest server, and from a data: URL), runs its JavaScript, and dumps the
// resulting DOM.
func TestChromiumHarness(t *testing.T) {
	testenv.Chromium(t)
	token := fmt.Sprintf("tok%d", time.Now().UnixNano())
	page := `<!doctype html><html><body><div id="out">static</div>` +
		`<script>document.getElementById("out").textContent = "rendered-by-js-" + "` + token + `";</script>` +
		`</body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()

	cases := []struct {
		name string
		url  string
	}{
		{"dump-dom/httptest-page", srv.URL + "/"},
		{"dump-dom/data-url", "data:text/html," + url.PathEscape(page)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := testenv.ChromiumCommand(ctx, t, "--dump-dom", tc.url)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium --dump-dom: %v", err)
			}
			dom := string(out)
			if want := "rendered-by-js-" + token; !strings.Contains(dom, want) {
				t.Fatalf("DOM lacks %q (JavaScript did not run?):\n%s", want, dom)
			}
			if strings.Contains(dom, ">static<") {
				t.Fatalf("DOM still has the pre-script text:\n%s", dom)
			}
		})
	}
}
