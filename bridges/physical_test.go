package bridges

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

func TestParseMappings(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		n         int // 0 = error
	}{
		{"ok/object", `{"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"}`, 1},
		{"ok/array", `[{"path":"cmd.speed","quantity":"linearVelocity","unit":"m/s"},{"quantity":"position","x":"/x","y":"/y","unit":"mm"}]`, 2},
		{"bad/unknown-member", `{"path":"/s","quantity":"force","unit":"N","max":3}`, 0},
		{"bad/unit", `{"path":"/s","quantity":"force","unit":"lbf"}`, 0},
		{"bad/empty-array", `[]`, 0},
		{"bad/trailing-data", `{"path":"/s","quantity":"force","unit":"N"} x`, 0},
		{"bad/not-json", `speed`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maps, err := ParseMappings(tc.doc)
			if tc.n == 0 {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParseMappings = %v, %v; want MALFORMED_REQUEST", maps, err)
				}
				return
			}
			if err != nil || len(maps) != tc.n {
				t.Fatalf("ParseMappings = %v, %v", maps, err)
			}
		})
	}
}

func TestClampPayload(t *testing.T) {
	route, err := ParseMappings(`{"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env, in, out string // out "" = refused
		changed            bool
		maps               bool
	}{
		{"clamp/route-mapping", `{"maxVelocityMps":0.5}`, `{"cmd":{"speed":700}}`, `{"cmd":{"speed":500}}`, true, true},
		{"clamp/envelope-payload-map", `{"maxForceNewtons":20,"payloadMap":[{"path":"/grip/f","quantity":"force","unit":"N"}]}`,
			`{"grip":{"f":35}}`, `{"grip":{"f":20}}`, true, false},
		{"keep/no-mappings-anywhere", `{"maxVelocityMps":0.5}`, `{"speed":9}`, `{"speed":9}`, false, false},
		{"keep/within", `{"maxVelocityMps":0.5}`, `{"cmd":{"speed":100}}`, `{"cmd":{"speed":100}}`, false, true},
		{"refuse/bad-envelope", `{"maxVelocityMps":-1}`, `{"cmd":{"speed":100}}`, "", false, true},
		{"refuse/missing", `{"maxVelocityMps":0.5}`, `{"cmd":{}}`, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maps := route
			if !tc.maps {
				maps = nil
			}
			out, changed, err := ClampPayload(maps, []byte(tc.env), []byte(tc.in))
			if tc.out == "" {
				if err == nil {
					t.Fatalf("ClampPayload = %s, want refused", out)
				}
				return
			}
			if err != nil || string(out) != tc.out || changed != tc.changed {
				t.Fatalf("ClampPayload = %s %v %v; want %s %v", out, changed, err, tc.out, tc.changed)
			}
		})
	}
}

// TestEnvelopeCacheSameAsClampPayload: the cached parse answers exactly as
// ClampPayload through envelope changes, repeats and a bad envelope (never
// kept), also from goroutines sharing one cache.
func TestEnvelopeCacheSameAsClampPayload(t *testing.T) {
	route, err := ParseMappings(`{"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"}`)
	if err != nil {
		t.Fatal(err)
	}
	envA := `{"maxVelocityMps":0.5}`
	envB := `{"maxVelocityMps":0.2,"maxForceNewtons":20,"payloadMap":[{"path":"/grip/f","quantity":"force","unit":"N"}]}`
	bad := `{"maxVelocityMps":-1}`
	steps := [][2]string{
		{envA, `{"cmd":{"speed":700}}`}, {envA, `{"cmd":{"speed":100}}`}, {envB, `{"cmd":{"speed":700},"grip":{"f":35}}`},
		{envA, `{"cmd":{"speed":700}}`}, {bad, `{"cmd":{"speed":100}}`}, {bad, `{"cmd":{"speed":100}}`},
		{envA, `{"cmd":{"speed":499}}`}, {envB, `{"cmd":{}}`}, {"", `{"cmd":{"speed":9}}`}, {envA, `{"cmd":{"speed":501}}`},
	}
	same := func(c *EnvelopeCache, env, in string) error {
		out, changed, err := c.ClampPayload(route, []byte(env), []byte(in))
		wout, wchanged, werr := ClampPayload(route, []byte(env), []byte(in))
		if string(out) != string(wout) || changed != wchanged || (err == nil) != (werr == nil) {
			return fmt.Errorf("env %s in %s: cache %s %v %v, ClampPayload %s %v %v", env, in, out, changed, err, wout, wchanged, werr)
		}
		return nil
	}
	var c EnvelopeCache
	for _, s := range steps {
		if err := same(&c, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				s := steps[(i+g)%len(steps)]
				if err := same(&c, s[0], s[1]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
