// Package dashboard is the operator web UI, embedded into the gateway binary
// and served at /dashboard/.
//
// The UI is plain HTML, CSS and ES modules under static/ with no build step:
// what is in the repository is exactly what ships. Nothing is fetched from
// any other origin at run time; the Content-Security-Policy set by Handler
// forbids it. The browser talks only to the gateway's own API with an
// operator API key kept in sessionStorage (never in a URL).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard"

//go:embed static
var assets embed.FS

// CSP is the Content-Security-Policy of every dashboard asset: same-origin
// scripts, styles, images and connections only (no CDN, no inline script).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Assets returns the embedded UI files rooted at static/.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // static/ is embedded at build time; this cannot fail
	}
	return sub
}

// FS returns the UI as an http.FileSystem.
func FS() http.FileSystem { return http.FS(Assets()) }

// Handler serves the UI; mount it with app.Use(Prefix, Handler()). It sets
// the CSP and no-cache headers (the assets change with the binary) and
// redirects the bare prefix to the index.
func Handler() fiber.Handler {
	files := filesystem.New(filesystem.Config{Root: FS(), Index: "index.html", NotFoundFile: ""})
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		if c.Path() == Prefix {
			return c.Redirect(Prefix+"/", fiber.StatusMovedPermanently)
		}
		if !strings.HasPrefix(c.Path(), Prefix+"/") {
			return c.Next()
		}
		c.Set("Content-Security-Policy", CSP)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("Cache-Control", "no-cache")
		return files(c)
	}
}

// Mount registers the dashboard on app at Prefix.
func Mount(app *fiber.App) { app.Use(Prefix, Handler()) }
