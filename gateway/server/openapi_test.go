package server

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// nonAPIRoutes are routes the server registers that openapi.json does not
// document, each with the reason. Use routes (middleware) are listed as
// "USE <prefix>".
var nonAPIRoutes = map[string]string{
	// The middleware that sets the protocol header on every answer.
	"USE /": "middleware, not an endpoint",
	// The operator web UI: static HTML/JS/CSS assets (and a redirect of the
	// bare prefix), public, not part of the wire contract; its API calls go
	// to the documented /v1/dashboard/... and /v1/risk/... endpoints.
	"USE /dashboard": "static UI assets",
	// Deprecated aliases of /v1/standing-approvals: still served for the
	// clients that use them, not documented because the second is
	// ambiguous with /v1/approvals/{id}/... (docs/protocol.md lists them).
	"GET /v1/approvals/standing":        "deprecated alias of GET /v1/standing-approvals",
	"DELETE /v1/approvals/standing/:id": "deprecated alias of DELETE /v1/standing-approvals/{id}",
}

// docMethods are the OpenAPI path item keys that are operations.
var docMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var (
	fiberParam = regexp.MustCompile(`:[A-Za-z0-9_]+\??`)
	docParam   = regexp.MustCompile(`\{([^{}/]+)\}`)
)

// routeKey normalises a route to "METHOD /path/{}" so that fiber's :id and
// the document's {eventId} compare equal: parameter names are the API's
// public names in the document (PROTOCOL.md uses {eventId}, {publicKey})
// and handler-local in the code; the test checks the names within the
// document separately (every {name} is a declared path parameter).
func routeKey(method, path string) string {
	path = fiberParam.ReplaceAllString(path, "{}")
	path = docParam.ReplaceAllString(path, "{}")
	return strings.ToUpper(method) + " " + path
}

// newTestServer builds the server with every route and no backing
// services: route registration touches none of them.
func newTestServer() *Server {
	return New(Deps{Metrics: NewMetrics(func() bool { return false })})
}

// registeredRoutes returns the server's routes as routeKey → the original
// "METHOD path" and the middleware (Use) prefixes as "USE <prefix>".
func registeredRoutes(t *testing.T, s *Server) (map[string]string, []string) {
	t.Helper()
	endpoints := map[string]string{}
	for _, r := range s.App.GetRoutes(true) {
		endpoints[routeKey(r.Method, r.Path)] = r.Method + " " + r.Path
	}
	// fiber registers HEAD alongside every GET; a HEAD without its GET
	// would be a route of its own.
	for k, v := range endpoints {
		if rest, ok := strings.CutPrefix(k, "HEAD "); ok {
			if _, hasGet := endpoints["GET "+rest]; hasGet {
				delete(endpoints, k)
			} else {
				t.Errorf("HEAD-only route %s", v)
			}
		}
	}
	var use []string
	for _, r := range s.App.GetRoutes(false) {
		if _, ok := endpoints[routeKey(r.Method, r.Path)]; ok || r.Method == "HEAD" {
			continue
		}
		if u := "USE " + r.Path; !slices.Contains(use, u) {
			use = append(use, u)
		}
	}
	sort.Strings(use)
	if len(endpoints) == 0 {
		t.Fatal("the server registered no routes")
	}
	return endpoints, use
}

type openapiDocument struct {
	raw   any
	paths map[string]map[string]json.RawMessage
}

func loadOpenAPI(t *testing.T, b []byte) openapiDocument {
	t.Helper()
	var doc openapiDocument
	if err := json.Unmarshal(b, &doc.raw); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	var top struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(top.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", top.OpenAPI)
	}
	doc.paths = top.Paths
	return doc
}

// operations returns routeKey → "METHOD path" of every documented operation.
func (d openapiDocument) operations() map[string]string {
	ops := map[string]string{}
	for p, item := range d.paths {
		for m := range item {
			if slices.Contains(docMethods, m) {
				ops[routeKey(m, p)] = strings.ToUpper(m) + " " + p
			}
		}
	}
	return ops
}

// TestOpenAPICoversRoutes: every route the server registers is documented,
// and every documented operation is a route (no stale documentation).
func TestOpenAPICoversRoutes(t *testing.T) {
	endpoints, use := registeredRoutes(t, newTestServer())
	ops := loadOpenAPI(t, openapiDoc).operations()
	for _, p := range coverageProblems(endpoints, use, ops) {
		t.Error(p)
	}
}

// coverageProblems compares the registered routes with the documented
// operations; it returns one message per mismatch, sorted.
func coverageProblems(endpoints map[string]string, use []string, ops map[string]string) []string {
	var out []string
	for _, u := range use {
		if _, ok := nonAPIRoutes[u]; !ok {
			out = append(out, "middleware route "+u+" is neither documented nor listed in nonAPIRoutes")
		}
	}
	for k, v := range endpoints {
		if _, ok := ops[k]; ok {
			continue
		}
		if _, ok := nonAPIRoutes[v]; ok {
			continue
		}
		out = append(out, "route "+v+" is not documented in openapi.json")
	}
	for k, v := range ops {
		if _, ok := endpoints[k]; !ok {
			out = append(out, "openapi.json documents "+v+", which the server does not register")
		}
	}
	for k := range nonAPIRoutes {
		if m, p, _ := strings.Cut(k, " "); m != "USE" {
			if _, ok := ops[routeKey(m, p)]; ok {
				out = append(out, k+" is listed in nonAPIRoutes but documented")
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPICoverageFails proves the coverage check can fail: a route
// without documentation, documentation without a route, and an unlisted
// middleware route are each reported.
func TestOpenAPICoverageFails(t *testing.T) {
	endpoints, use := registeredRoutes(t, newTestServer())
	ops := loadOpenAPI(t, openapiDoc).operations()
	if p := coverageProblems(endpoints, use, ops); len(p) != 0 {
		t.Fatalf("the real document has problems (see TestOpenAPICoversRoutes): %v", p)
	}
	cases := []struct {
		name string
		edit func(ops map[string]string, use []string) (map[string]string, []string)
		want string
	}{
		{"undocumented-route", func(ops map[string]string, use []string) (map[string]string, []string) {
			delete(ops, routeKey("POST", "/v1/approvals/{id}/approve"))
			return ops, use
		}, "route POST /v1/approvals/:id/approve is not documented"},
		{"stale-documentation", func(ops map[string]string, use []string) (map[string]string, []string) {
			ops[routeKey("GET", "/v1/no-such-route/{id}")] = "GET /v1/no-such-route/{id}"
			return ops, use
		}, "documents GET /v1/no-such-route/{id}, which the server does not register"},
		{"unlisted-middleware", func(ops map[string]string, use []string) (map[string]string, []string) {
			return ops, append(use, "USE /static")
		}, "middleware route USE /static"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, u := c.edit(maps.Clone(ops), slices.Clone(use))
			got := coverageProblems(endpoints, u, o)
			if len(got) != 1 || !strings.Contains(got[0], c.want) {
				t.Fatalf("problems = %q, want one containing %q", got, c.want)
			}
		})
	}
}

// TestOpenAPIDocument checks the document itself: consistent formatting,
// info.version = Version,
// every $ref resolves, every {param} in a path is a declared path
// parameter (and the reverse), and every operation has a summary and
// responses.
func TestOpenAPIDocument(t *testing.T) {
	t.Run("format", func(t *testing.T) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, openapiDoc, "", " "); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bytes.TrimSpace(buf.Bytes()), bytes.TrimSpace(openapiDoc)) {
			t.Fatal("openapi.json is not indented consistently (one space per level, as json.Indent writes it)")
		}
	})
	doc := loadOpenAPI(t, openapiDoc)
	t.Run("version", func(t *testing.T) {
		var v struct {
			Info struct {
				Version string `json:"version"`
			} `json:"info"`
		}
		if err := json.Unmarshal(openapiDoc, &v); err != nil {
			t.Fatal(err)
		}
		if v.Info.Version != Version {
			t.Fatalf("info.version = %q, want the server's Version %q", v.Info.Version, Version)
		}
	})
	t.Run("refs-resolve", func(t *testing.T) {
		n := 0
		walkRefs(doc.raw, "#", func(at, ref string) {
			n++
			if _, err := resolvePointer(doc.raw, ref); err != nil {
				t.Errorf("%s: $ref %q: %v", at, ref, err)
			}
		})
		if n == 0 {
			t.Fatal("no $ref found: the walk is broken")
		}
	})
	t.Run("path-params", func(t *testing.T) {
		for p, item := range doc.paths {
			want := map[string]bool{}
			for _, m := range docParam.FindAllStringSubmatch(p, -1) {
				want[m[1]] = true
			}
			common := pathParams(t, doc.raw, item["parameters"])
			for m, raw := range item {
				if !slices.Contains(docMethods, m) {
					continue
				}
				var op struct {
					Summary    string                     `json:"summary"`
					Parameters json.RawMessage            `json:"parameters"`
					Responses  map[string]json.RawMessage `json:"responses"`
				}
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Errorf("%s %s: %v", m, p, err)
					continue
				}
				if strings.TrimSpace(op.Summary) == "" {
					t.Errorf("%s %s has no summary", strings.ToUpper(m), p)
				}
				if len(op.Responses) == 0 {
					t.Errorf("%s %s has no responses", strings.ToUpper(m), p)
				}
				got := map[string]bool{}
				for k := range common {
					got[k] = true
				}
				for k := range pathParams(t, doc.raw, op.Parameters) {
					got[k] = true
				}
				for k := range want {
					if !got[k] {
						t.Errorf("%s %s: path parameter {%s} is not declared", strings.ToUpper(m), p, k)
					}
				}
				for k := range got {
					if !want[k] {
						t.Errorf("%s %s: declares path parameter %q that is not in the path", strings.ToUpper(m), p, k)
					}
				}
			}
		}
	})
}

// TestOpenAPIForGenerators: what a code generator needs from the document
// beyond validity: a servers list, a unique operationId on every
// operation, a security requirement on every operation (security: [] on
// the public ones, so that no root default is ever assumed), and a schema
// for every answer's body, refusals included (only 204 and a WebSocket's
// 101 have none). The Redocly lint (tools/openapi, run by make test) checks
// the rest of its recommended rules.
func TestOpenAPIForGenerators(t *testing.T) {
	var doc struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL == "" {
		t.Error("no servers")
	}
	ids := map[string]string{}
	for p, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(docMethods, m) {
				continue
			}
			at := strings.ToUpper(m) + " " + p
			var op struct {
				OperationID string           `json:"operationId"`
				Security    *json.RawMessage `json:"security"`
				Responses   map[string]struct {
					Content map[string]struct {
						Schema json.RawMessage `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			switch prev, dup := ids[op.OperationID]; {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", at)
			case dup:
				t.Errorf("%s and %s share operationId %q", at, prev, op.OperationID)
			}
			ids[op.OperationID] = at
			if op.Security == nil {
				t.Errorf("%s has no security requirement (public operations say security: [])", at)
			}
			for code, r := range op.Responses {
				if code == "204" || code == "101" {
					continue
				}
				if len(r.Content) == 0 {
					// Refusals are bodies too ({"error":…} or a decision).
					t.Errorf("%s: response %s documents no body", at, code)
				}
				for mt, c := range r.Content {
					if len(c.Schema) == 0 {
						t.Errorf("%s: response %s %s has no schema", at, code, mt)
					}
				}
			}
		}
	}
}

// pathParams returns the names of the in:path parameters of a parameter
// list, following $refs.
func pathParams(t *testing.T, root any, raw json.RawMessage) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if len(raw) == 0 {
		return out
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Errorf("parameters: %v", err)
		return out
	}
	for _, p := range list {
		if ref, ok := p["$ref"].(string); ok {
			v, err := resolvePointer(root, ref)
			if err != nil {
				continue // reported by refs-resolve
			}
			p, _ = v.(map[string]any)
		}
		if p["in"] == "path" {
			name, _ := p["name"].(string)
			if p["required"] != true {
				t.Errorf("path parameter %q is not required", name)
			}
			out[name] = true
		}
	}
	return out
}

// walkRefs calls f for every "$ref" string in v.
func walkRefs(v any, at string, f func(at, ref string)) {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["$ref"].(string); ok {
			f(at, r)
		}
		for k, c := range x {
			walkRefs(c, at+"/"+k, f)
		}
	case []any:
		for _, c := range x {
			walkRefs(c, at+"/[]", f)
		}
	}
}

// resolvePointer resolves a local reference "#/a/b" (RFC 6901).
func resolvePointer(root any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, errNotLocal
	}
	cur := root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, errDangling
		}
		if cur, ok = m[tok]; !ok {
			return nil, errDangling
		}
	}
	return cur, nil
}

type refError string

func (e refError) Error() string { return string(e) }

const (
	errNotLocal = refError("not a local reference (#/...)")
	errDangling = refError("does not resolve")
)

// TestOpenAPIServed: GET /v1/openapi.json answers the embedded document.
func TestOpenAPIServed(t *testing.T) {
	s := newTestServer()
	resp, err := s.App.Test(httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !bytes.Equal(b, openapiDoc) {
		t.Fatalf("status %d, content type %q, %d bytes (want the %d embedded)", resp.StatusCode, resp.Header.Get("Content-Type"), len(b), len(openapiDoc))
	}
}

// TestOpenAPIAdvertisedEndpoints: /.well-known/sint.json advertises
// exactly the operations openapi.json documents.
func TestOpenAPIAdvertisedEndpoints(t *testing.T) {
	ops := loadOpenAPI(t, openapiDoc).operations()
	advertised := map[string]bool{}
	for _, e := range endpointList {
		m, p, _ := strings.Cut(e, " ")
		k := routeKey(m, p)
		advertised[k] = true
		if _, ok := ops[k]; !ok {
			t.Errorf("/.well-known/sint.json advertises %s, which openapi.json does not document", e)
		}
	}
	for k := range ops {
		if !advertised[k] {
			t.Errorf("openapi.json documents %v, which /.well-known/sint.json does not advertise", k)
		}
	}
}
