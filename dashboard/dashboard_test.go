package dashboard

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func newApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	Mount(app)
	app.Post("/dashboard/x", func(c *fiber.Ctx) error { return c.SendString("next") })
	return app
}

func TestHandler(t *testing.T) {
	app := newApp()
	cases := []struct {
		name, method, path string
		status             int
		header, contains   string
	}{
		{"serve/index", "GET", "/dashboard/", 200, "Content-Security-Policy", `<script type="module" src="app.js">`},
		{"serve/index-by-name", "GET", "/dashboard/index.html", 200, "Content-Security-Policy", "E-STOP"},
		{"serve/module-mime", "GET", "/dashboard/app.js", 200, "Content-Type", "import"},
		{"serve/css", "GET", "/dashboard/style.css", 200, "Content-Type", ".estop"},
		{"redirect/bare-prefix", "GET", "/dashboard", 301, "Location", ""},
		{"deny/missing-asset", "GET", "/dashboard/nope.js", 404, "", ""},
		{"deny/traversal", "GET", "/dashboard/../go.mod", 404, "", ""},
		{"pass/other-methods-reach-next-handler", "POST", "/dashboard/x", 200, "", "next"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := app.Test(httptest.NewRequest(tc.method, tc.path, nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, body)
			}
			switch tc.header {
			case "":
			case "Content-Security-Policy":
				if res.Header.Get(tc.header) != CSP {
					t.Fatalf("CSP %q", res.Header.Get(tc.header))
				}
			case "Content-Type":
				ct := res.Header.Get("Content-Type")
				if strings.HasSuffix(tc.path, ".js") && !strings.Contains(ct, "javascript") {
					t.Fatalf("an ES module needs a JavaScript MIME type, got %q", ct)
				}
				if strings.HasSuffix(tc.path, ".css") && !strings.Contains(ct, "text/css") {
					t.Fatalf("CSS served as %q", ct)
				}
			case "Location":
				if res.Header.Get("Location") != "/dashboard/" {
					t.Fatalf("Location %q", res.Header.Get("Location"))
				}
			}
			if tc.contains != "" && !strings.Contains(string(body), tc.contains) {
				t.Fatalf("body lacks %q", tc.contains)
			}
		})
	}
}

// TestAssetsSelfContained: nothing is loaded from another origin, and every
// file the page or a module refers to ships in the binary.
func TestAssetsSelfContained(t *testing.T) {
	files := Assets()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	refs := regexp.MustCompile(`(?:src|href)="([^"#:]+)"|from "\./([^"]+)"|import\("\./([^"]+)"\)`)
	n := 0
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		t.Run("asset/"+p, func(t *testing.T) {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue // comments may name specifications
				}
				if m := external.FindString(line); m != "" {
					t.Errorf("external reference %q in %s: every asset must ship in the binary", m, line)
				}
			}
			for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
				ref := m[1] + m[2] + m[3]
				if _, err := fs.Stat(files, ref); err != nil {
					t.Errorf("%s refers to %q, which is not embedded", p, ref)
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d assets embedded", n)
	}
}
