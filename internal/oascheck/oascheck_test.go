package oascheck

import (
	"errors"
	"strings"
	"testing"
)

const testDoc = `{
 "openapi": "3.1.0",
 "info": {"title": "t", "version": "1"},
 "paths": {
  "/v1/things/{id}": {
   "get": {"operationId": "getThing", "responses": {
    "200": {"description": "a thing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
    "4XX": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
   }},
   "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "gone"}}}
  },
  "/v1/things/export": {
   "get": {"operationId": "export", "responses": {"200": {"description": "lines", "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}
  },
  "/v1/things/special": {
   "get": {"operationId": "getSpecial", "responses": {"200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string", "pattern": "^special"}}}}}}
  }
 },
 "components": {"schemas": {
  "Thing": {"type": "object", "required": ["id", "size"], "properties": {"id": {"type": "string"}, "size": {"type": "integer"}, "tags": {"type": ["array", "null"], "items": {"type": "string"}}}},
  "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code"]}}}
 }}
}`

func TestCheckResponse(t *testing.T) {
	d, err := Load([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		status             int
		ct, body           string
		want               string // "" = valid; else a substring of the error
		undocumented       bool
	}{
		{"valid", "GET", "/v1/things/a1", 200, "application/json; charset=utf-8", `{"id":"a1","size":3,"tags":null}`, "", false},
		{"missing-required", "GET", "/v1/things/a1", 200, "application/json", `{"id":"a1"}`, "size", false},
		{"wrong-type", "GET", "/v1/things/a1", 200, "application/json", `{"id":"a1","size":2.5}`, "size", false},
		{"ref-through-NXX", "GET", "/v1/things/a1", 404, "application/json", `{"error":{"code":"NOT_FOUND"}}`, "", false},
		{"NXX-wrong-body", "GET", "/v1/things/a1", 404, "application/json", `{"message":"x"}`, "error", false},
		{"undocumented-status", "GET", "/v1/things/a1", 500, "application/json", `{}`, "status 500", true},
		{"undocumented-operation", "POST", "/v1/things/a1", 200, "application/json", `{}`, "operation", true},
		{"undocumented-media-type", "GET", "/v1/things/a1", 200, "text/html", `<p>`, "media type", true},
		{"not-json", "GET", "/v1/things/a1", 200, "application/json", `{"id":`, "not JSON", false},
		{"no-content-documented", "DELETE", "/v1/things/a1", 204, "", ``, "", false},
		{"no-content-but-body", "DELETE", "/v1/things/a1", 204, "application/json", `{}`, "no body", false},
		{"concrete-path-wins", "GET", "/v1/things/special", 200, "text/plain", `special text`, "", false},
		{"ndjson-each-line", "GET", "/v1/things/export", 200, "application/x-ndjson", "{\"id\":\"a\",\"size\":1}\n{\"id\":\"b\",\"size\":2}\n", "", false},
		{"ndjson-bad-line", "GET", "/v1/things/export", 200, "application/x-ndjson", "{\"id\":\"a\",\"size\":1}\n{\"id\":\"b\"}\n", "line 2", false},
		{"text-schema", "GET", "/v1/things/special", 200, "text/plain", `other`, "does not match", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.CheckResponse(c.method, c.path, c.status, c.ct, []byte(c.body))
			if c.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if errors.Is(err, ErrUndocumented) != c.undocumented {
				t.Fatalf("errors.Is(ErrUndocumented) = %v, want %v", !c.undocumented, c.undocumented)
			}
		})
	}
}

func TestOperation(t *testing.T) {
	d, err := Load([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	if id, tmpl, ok := d.Operation("GET", "/v1/things/special"); !ok || id != "getSpecial" || tmpl != "/v1/things/special" {
		t.Fatalf("%q %q %v", id, tmpl, ok)
	}
	if id, _, ok := d.Operation("get", "/v1/things/x"); !ok || id != "getThing" {
		t.Fatalf("%q %v", id, ok)
	}
	if _, _, ok := d.Operation("GET", "/v1/things/x/y"); ok {
		t.Fatal("a parameter matched across a slash")
	}
}

func TestLoadRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not-json": `{`,
		"3.0":      `{"openapi":"3.0.3","paths":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load([]byte(doc)); err == nil {
				t.Fatal("loaded")
			}
		})
	}
}
