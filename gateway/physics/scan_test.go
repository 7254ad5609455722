package physics

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sameScan fails when the one-pass scanner and the token stream disagree on
// a valid document.
func sameScan(t *testing.T, doc []byte) {
	t.Helper()
	if !json.Valid(doc) {
		return
	}
	got, err := scanNumbersValid(doc)
	want, werr := scanNumbersTokens(doc)
	if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v %v\nwant %+v %v", doc, got, err, want, werr)
	}
}

var scanDocs = []string{
	`{"linear":{"x":0.5,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.25}}`,
	`{"header":{"stamp":{"sec":1,"nanosec":2},"frame_id":"map"},"points":[{"positions":[],"velocities":[1.5,-2e-7,3E+2],"time_from_start":{"sec":0,"nanosec":0}}]}`,
	` { "a" : [ 1 , [ 2 , { "b" : -0.0 } ] , true , false , null , "s\"]}" ] } `,
	"{\"\\u0078\":1,\"x\\\\y\":2,\"é\":3,\"bad\xff\":4,\"\\ud800\":5}",
	`[[],{},[[1]],{"":7}]`,
	`42`, `-1.5e-300`, `"str"`, `null`, `{}`, `[]`,
	`{"big":1e400}`, `{"a":1,"a":2}`,
	`{"data":[` + strings.Repeat("1,", 300) + `1]}`,
	strings.Repeat(`[`, 500) + `1` + strings.Repeat(`]`, 500),
}

// TestScanNumbersSame: on valid documents the one-pass scanner finds
// exactly the numbers, locations, spans, values and errors of the token
// stream; invalid documents still go to the token stream.
func TestScanNumbersSame(t *testing.T) {
	for _, d := range scanDocs {
		if !json.Valid([]byte(d)) {
			t.Fatalf("not valid: %q", d)
		}
		sameScan(t, []byte(d))
	}
	for _, bad := range []string{`{"a":1} {"b":2}`, `{"a":}`, `{"a":1`, ``} {
		got, err := scanNumbers([]byte(bad))
		want, werr := scanNumbersTokens([]byte(bad))
		if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v %v, want %+v %v", bad, got, err, want, werr)
		}
	}
}

func FuzzScanNumbersSame(f *testing.F) {
	for _, d := range scanDocs {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { sameScan(t, doc) })
}

func BenchmarkScanNumbers(b *testing.B) {
	doc := []byte(scanDocs[0])
	for _, v := range []struct {
		name string
		fn   func([]byte) ([]numberAt, error)
	}{{"one-pass", scanNumbers}, {"tokens", scanNumbersTokens}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.fn(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
