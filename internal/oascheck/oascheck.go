// Package oascheck checks HTTP answers against an OpenAPI 3.1 document's own
// response schemas: it finds the documented operation of a request (the
// concrete path before a templated one), the documented response of the
// status (exact code, then NXX, then default) and media type, and validates
// the body with a JSON Schema 2020-12 validator (each line of an NDJSON
// body on its own). Tests use it to prove that
// a live gateway answers what GET /v1/openapi.json promises.
package oascheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL names the document inside the schema compiler.
const docURL = "mem:///openapi.json"

// Doc is a loaded OpenAPI document.
type Doc struct {
	routes   []route
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema
}

// route is one documented path template.
type route struct {
	template string
	re       *regexp.Regexp
	params   int
	ops      map[string]operation // lower-case method → operation
}

type operation struct {
	ID        string                     `json:"operationId"`
	Responses map[string]json.RawMessage `json:"responses"`
}

type response struct {
	Content map[string]struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"content"`
}

var templateParam = regexp.MustCompile(`\{[^{}/]+\}`)

// Load parses an OpenAPI 3.1 document.
func Load(doc []byte) (*Doc, error) {
	var top struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("oascheck: %w", err)
	}
	if !strings.HasPrefix(top.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("oascheck: openapi %q is not 3.1.x", top.OpenAPI)
	}
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("oascheck: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, raw); err != nil {
		return nil, fmt.Errorf("oascheck: %w", err)
	}
	d := &Doc{compiler: c, cache: map[string]*jsonschema.Schema{}}
	for tmpl, item := range top.Paths {
		r := route{template: tmpl, ops: map[string]operation{}}
		re := strings.ReplaceAll(regexp.QuoteMeta(templateParam.ReplaceAllString(tmpl, "\x00")), "\x00", `[^/]+`)
		r.re = regexp.MustCompile("^" + re + "$")
		r.params = len(templateParam.FindAllString(tmpl, -1))
		for m, rawOp := range item {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
			default:
				continue
			}
			var op operation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				return nil, fmt.Errorf("oascheck: %s %s: %w", m, tmpl, err)
			}
			r.ops[m] = op
		}
		d.routes = append(d.routes, r)
	}
	// Concrete paths first (fewest parameters), then by template, so that
	// /v1/approvals/stream wins over /v1/approvals/{id}.
	sort.Slice(d.routes, func(i, j int) bool {
		if d.routes[i].params != d.routes[j].params {
			return d.routes[i].params < d.routes[j].params
		}
		return d.routes[i].template < d.routes[j].template
	})
	return d, nil
}

// Operation names the documented operation of method and path: its
// operationId and path template. ok is false when none matches.
func (d *Doc) Operation(method, path string) (id, template string, ok bool) {
	r, op, ok := d.find(method, path)
	if !ok {
		return "", "", false
	}
	return op.ID, r.template, true
}

func (d *Doc) find(method, path string) (route, operation, bool) {
	m := strings.ToLower(method)
	for _, r := range d.routes {
		if !r.re.MatchString(path) {
			continue
		}
		if op, ok := r.ops[m]; ok {
			return r, op, true
		}
	}
	return route{}, operation{}, false
}

// ErrUndocumented is wrapped by CheckResponse when the operation, status or
// media type is not in the document.
var ErrUndocumented = errors.New("not documented")

// CheckResponse validates one answer: method and path of the request (path
// without the query), the status, the Content-Type header and the body.
func (d *Doc) CheckResponse(method, path string, status int, contentType string, body []byte) error {
	r, op, ok := d.find(method, path)
	if !ok {
		return fmt.Errorf("%s %s: operation %w", method, path, ErrUndocumented)
	}
	code := strconv.Itoa(status)
	key := ""
	for _, k := range []string{code, code[:1] + "XX", "default"} {
		if _, ok := op.Responses[k]; ok {
			key = k
			break
		}
	}
	if key == "" {
		return fmt.Errorf("%s %s (%s): status %d %w", method, path, op.ID, status, ErrUndocumented)
	}
	var resp response
	if err := json.Unmarshal(op.Responses[key], &resp); err != nil {
		return fmt.Errorf("%s %s: response %s: %w", method, r.template, key, err)
	}
	if len(resp.Content) == 0 {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("%s %s (%s): status %d documents no body, got %d bytes", method, path, op.ID, status, len(body))
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s %s (%s): status %d: Content-Type %q: %w", method, path, op.ID, status, contentType, err)
	}
	media, ok := resp.Content[mt]
	if !ok {
		return fmt.Errorf("%s %s (%s): status %d: media type %s %w", method, path, op.ID, status, mt, ErrUndocumented)
	}
	if len(media.Schema) == 0 {
		return fmt.Errorf("%s %s (%s): status %d %s has no schema", method, path, op.ID, status, mt)
	}
	ptr := "/paths/" + escape(r.template) + "/" + strings.ToLower(method) + "/responses/" + escape(key) + "/content/" + escape(mt) + "/schema"
	sch, err := d.schema(ptr)
	if err != nil {
		return fmt.Errorf("%s %s (%s): %w", method, r.template, op.ID, err)
	}
	if mt == "application/x-ndjson" || mt == "application/jsonl" {
		// One JSON value a line, each matching the schema.
		for i, line := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
			if err != nil {
				return fmt.Errorf("%s %s (%s): status %d: line %d is not JSON: %w", method, path, op.ID, status, i+1, err)
			}
			if err := sch.Validate(v); err != nil {
				return fmt.Errorf("%s %s (%s): status %d: line %d does not match the documented schema: %w\nline: %.600s", method, path, op.ID, status, i+1, err, line)
			}
		}
		return nil
	}
	var v any
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("%s %s (%s): status %d: body is not JSON: %w", method, path, op.ID, status, err)
		}
	} else {
		v = string(body)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s %s (%s): status %d: the body does not match the documented schema: %w\nbody: %.600s", method, path, op.ID, status, err, body)
	}
	return nil
}

func (d *Doc) schema(ptr string) (*jsonschema.Schema, error) {
	if s, ok := d.cache[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	d.cache[ptr] = s
	return s, nil
}

// escape encodes one JSON pointer token (RFC 6901) for use in a URL fragment.
func escape(tok string) string {
	tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
	return strings.NewReplacer("{", "%7B", "}", "%7D").Replace(tok)
}
