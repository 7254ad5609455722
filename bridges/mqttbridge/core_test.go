package mqttbridge

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

var routeCases = []struct {
	name, in string
	want     Route // zero: error
}{
	{"ok/simple", "agent/line1/valve7=line1/valve7", Route{Agent: "agent/line1/valve7", Device: "line1/valve7"}},
	{"ok/dots-dashes", "a.b/c-d_e=dev/x.y", Route{Agent: "a.b/c-d_e", Device: "dev/x.y"}},
	{"ok/one-level", "a=b", Route{Agent: "a", Device: "b"}},
	{"bad/no-equals", "agent/valve7", Route{}},
	{"bad/same-topic", "line1/valve7=line1/valve7", Route{}},
	{"bad/empty-level", "agent//valve7=line1/valve7", Route{}},
	{"bad/leading-slash", "/agent/valve7=line1/valve7", Route{}},
	{"bad/trailing-slash", "agent/=line1/valve7", Route{}},
	{"bad/plus-wildcard", "agent/+=line1/valve7", Route{}},
	{"bad/hash-wildcard", "agent/valve7=line1/#", Route{}},
	{"bad/dollar-topic", "$SYS/x=line1/valve7", Route{}},
	{"bad/dot-level", "agent/valve7=line1/../safety", Route{}},
	{"bad/single-dot-level", "agent/valve7=./valve7", Route{}},
	{"bad/space", "agent/valve 7=line1/valve7", Route{}},
	{"bad/percent", "agent/valve7=line1/valve%37", Route{}},
	{"bad/empty-device", "agent/valve7=", Route{}},
	{"bad/two-equals", "a=b=c", Route{}},
	{"bad/too-long", strings.Repeat("a", MaxTopicLen+1) + "=b", Route{}},
}

func TestParseRoute(t *testing.T) {
	for _, tc := range routeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRoute(tc.in)
			if tc.want.Agent == "" {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParseRoute(%q) = %+v, %v; want MALFORMED_REQUEST", tc.in, got, err)
				}
				return
			}
			if err != nil || got.Agent != tc.want.Agent || got.Device != tc.want.Device {
				t.Fatalf("ParseRoute(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
	if r, _ := ParseRoute("agent/line1/valve7=line1/valve7"); r.Resource("factory") != "mqtt://factory/line1/valve7" {
		t.Errorf("Resource = %q", r.Resource("factory"))
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, tc := range routeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoute(s)
		if err != nil {
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("%q: error without MALFORMED_REQUEST: %v", s, err)
			}
			return
		}
		again, err := ParseRoute(r.Agent + "=" + r.Device)
		if err != nil || again.Agent != r.Agent || again.Device != r.Device {
			t.Fatalf("%q → %+v → %+v, %v", s, r, again, err)
		}
		if r.Agent == r.Device {
			t.Fatalf("same topics accepted: %q", s)
		}
		// The resource is in normal form: no wildcards, empty or dot
		// segments, nothing a policy pattern would read specially.
		res := r.Resource("b")
		path := strings.TrimPrefix(res, "mqtt://")
		for _, seg := range strings.Split(path, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q: resource %q has segment %q", s, res, seg)
			}
		}
		if strings.ContainsAny(res[len("mqtt://"):], "*+#$%? \\") {
			t.Fatalf("%q: resource %q has a special character", s, res)
		}
	})
}

var brokerCases = []struct {
	name, in string
	ok       bool
}{
	{"ok/simple", "factory", true},
	{"ok/host-like", "broker-1.cell3", true},
	{"bad/empty", "", false},
	{"bad/upper", "Factory", false},
	{"bad/slash", "a/b", false},
	{"bad/leading-dot", ".a", false},
	{"bad/empty-label", "a..b", false},
	{"bad/wildcard", "a*", false},
	{"bad/too-long", strings.Repeat("a", MaxBrokerNameLen+1), false},
}

func TestCheckBrokerName(t *testing.T) {
	for _, tc := range brokerCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckBrokerName(tc.in); (err == nil) != tc.ok {
				t.Fatalf("CheckBrokerName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func FuzzCheckBrokerName(f *testing.F) {
	for _, tc := range brokerCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckBrokerName(s) != nil {
			return
		}
		if strings.ContainsAny(s, "/*?#+%") || strings.Contains(s, "..") || s == "" || len(s) > MaxBrokerNameLen {
			t.Fatalf("accepted %q", s)
		}
	})
}

var payloadCases = []struct {
	name, in string
	ok       bool
}{
	{"ok/object", `{"state":"on"}`, true},
	{"ok/spacing-kept", " {\n \"level\" : 0.50 }\n", true},
	{"ok/empty-object", `{}`, true},
	{"ok/nested", `{"a":{"b":[1,2,{"c":null}]},"d":true}`, true},
	{"ok/big-but-exact-fraction", `{"x":1e300}`, true},
	{"ok/int-below-2^53", `{"n":9007199254740991}`, true},
	{"bad/empty", ``, false},
	{"bad/not-json", `open`, false},
	{"bad/array", `[1]`, false},
	{"bad/string", `"on"`, false},
	{"bad/number", `1`, false},
	{"bad/null", `null`, false},
	{"bad/truncated", `{"a":`, false},
	{"bad/trailing-data", `{"a":1} {"b":2}`, false},
	{"bad/trailing-garbage", `{"a":1}x`, false},
	{"bad/duplicate-member", `{"a":1,"a":2}`, false},
	{"bad/nested-duplicate", `{"o":{"a":1,"a":1}}`, false},
	{"bad/int-2^53+1", `{"n":9007199254740993}`, false},
	{"bad/negative-big-int", `{"n":-18446744073709551616}`, false},
	{"bad/infinite", `{"x":1e999}`, false},
	{"bad/invalid-utf8", "{\"a\":\"\xff\"}", false},
	{"bad/too-deep", strings.Repeat(`{"a":`, MaxPayloadDepth+1) + `1` + strings.Repeat(`}`, MaxPayloadDepth+1), false},
	{"bad/too-big", `{"a":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`, false},
}

func TestParsePayload(t *testing.T) {
	for _, tc := range payloadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePayload([]byte(tc.in))
			if !tc.ok {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParsePayload(%q) = %s, %v; want MALFORMED_REQUEST", tc.in, got, err)
				}
				return
			}
			if err != nil || string(got) != tc.in {
				t.Fatalf("ParsePayload(%q) = %q, %v; want the same bytes", tc.in, got, err)
			}
		})
	}
	// Depth MaxPayloadDepth is allowed.
	deep := strings.Repeat(`{"a":`, MaxPayloadDepth) + `1` + strings.Repeat(`}`, MaxPayloadDepth)
	if _, err := ParsePayload([]byte(deep)); err != nil {
		t.Errorf("depth %d refused: %v", MaxPayloadDepth, err)
	}
}

// FuzzParsePayload: an accepted payload is returned unchanged, is a JSON
// object, hashes (so the attestation check can be done), and the request
// body carrying it hashes the same (encoding/json compacts raw params; JCS
// must not care).
func FuzzParsePayload(f *testing.F) {
	for _, tc := range payloadCases {
		if len(tc.in) < 1024 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("error without MALFORMED_REQUEST: %v", err)
			}
			return
		}
		if !bytes.Equal(p, b) {
			t.Fatalf("payload changed: %q → %q", b, p)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			t.Fatalf("accepted %q, not an object: %v", b, err)
		}
		h1, err := attest.ParamsHash(p)
		if err != nil {
			t.Fatalf("accepted %q but it does not hash: %v", b, err)
		}
		body, err := json.Marshal(struct {
			Params json.RawMessage `json:"params"`
		}{p})
		if err != nil {
			t.Fatalf("accepted %q but it does not marshal: %v", b, err)
		}
		var back struct {
			Params json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(body, &back); err != nil {
			t.Fatal(err)
		}
		if h2, err := attest.ParamsHash(back.Params); err != nil || h2 != h1 {
			t.Fatalf("hash changed in transit: %s → %s, %v", h1, h2, err)
		}
	})
}

func TestSetSafeStop(t *testing.T) {
	base := func() []Route {
		return []Route{{Agent: "agent/v1", Device: "line1/v1"}, {Agent: "agent/v2", Device: "line1/v2"}}
	}
	for _, tc := range []struct {
		name, spec string
		ok         bool
	}{
		{"ok/object", `line1/v2={"state":"closed"}`, true},
		{"bad/no-equals", `line1/v2`, false},
		{"bad/unknown-device", `line1/v3={}`, false},
		{"bad/agent-topic-not-device", `agent/v1={}`, false},
		{"bad/not-object", `line1/v1=closed`, false},
		{"bad/bad-topic", `line1/#={}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := base()
			err := SetSafeStop(rs, tc.spec)
			if (err == nil) != tc.ok {
				t.Fatalf("SetSafeStop(%q) = %v, want ok=%v", tc.spec, err, tc.ok)
			}
			if tc.ok && (string(rs[1].SafeStop) != `{"state":"closed"}` || rs[0].SafeStop != nil) {
				t.Fatalf("routes %+v", rs)
			}
		})
	}
}

func FuzzSetSafeStop(f *testing.F) {
	f.Add(`line1/v1={"state":"closed"}`)
	f.Add(`line1/v1=closed`)
	f.Add(`x={}`)
	f.Fuzz(func(t *testing.T, spec string) {
		rs := []Route{{Agent: "agent/v1", Device: "line1/v1"}}
		if SetSafeStop(rs, spec) != nil {
			if rs[0].SafeStop != nil {
				t.Fatalf("%q: refused but set", spec)
			}
			return
		}
		if _, err := ParsePayload(rs[0].SafeStop); err != nil {
			t.Fatalf("%q: set a payload that does not parse: %v", spec, err)
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	ok := func() Config {
		return Config{Broker: "mqtt://127.0.0.1:1", BrokerName: "b", Gateway: nopDecider{}, Verifier: nopVerifier{}, TokenID: "t",
			Routes: []Route{{Agent: "agent/v1", Device: "line1/v1", NonPhysical: true}}}
	}
	if _, err := New(ok()); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"bad/no-gateway", func(c *Config) { c.Gateway = nil }},
		{"bad/no-broker", func(c *Config) { c.Broker = "" }},
		{"bad/broker-name", func(c *Config) { c.BrokerName = "A/B" }},
		{"bad/no-routes", func(c *Config) { c.Routes = nil }},
		{"bad/two-tokens", func(c *Config) { c.Token = "x" }},
		{"bad/no-token", func(c *Config) { c.TokenID = "" }},
		{"bad/duplicate-agent", func(c *Config) {
			c.Routes = append(c.Routes, Route{Agent: "agent/v1", Device: "line1/v2", NonPhysical: true})
		}},
		{"bad/duplicate-device", func(c *Config) {
			c.Routes = append(c.Routes, Route{Agent: "agent/v2", Device: "line1/v1", NonPhysical: true})
		}},
		{"bad/loop", func(c *Config) {
			c.Routes = append(c.Routes, Route{Agent: "line1/v1", Device: "line1/v9", NonPhysical: true})
		}},
		{"bad/route-without-mapping", func(c *Config) { c.Routes[0].NonPhysical = false }},
		{"bad/route-mapped-and-non-physical", func(c *Config) {
			if err := SetMapping(c.Routes, `line1/v1={"path":"/cmd/speed","quantity":"linearVelocity","unit":"m/s"}`); err != nil {
				panic(err)
			}
		}},
		{"bad/report-topic-is-device", func(c *Config) { c.ReportTopic = "line1/v1" }},
		{"bad/unparsed-route", func(c *Config) { c.Routes[0].Device = "line1/#" }},
		{"bad/safe-stop-not-json", func(c *Config) { c.Routes[0].SafeStop = []byte("stop") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			if _, err := New(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
