package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var pubA = strings.Repeat("ab", 32)

var registrationCases = []struct {
	name string
	body string
	ok   bool
}{
	{"ok/minimal", `{"publicKey":"` + pubA + `","name":"arm"}`, true},
	{"ok/full", `{"publicKey":"` + pubA + `","name":"arm","owner":"cell-7","labels":{"robot":"ur5"},"capabilities":["ros:///arm/**"]}`, true},
	{"bad/upper-hex-key", `{"publicKey":"` + strings.ToUpper(pubA) + `","name":"arm"}`, false},
	{"bad/no-name", `{"publicKey":"` + pubA + `"}`, false},
	{"bad/empty-label-key", `{"publicKey":"` + pubA + `","name":"a","labels":{"":"x"}}`, false},
	{"bad/empty-capability", `{"publicKey":"` + pubA + `","name":"a","capabilities":[""]}`, false},
	{"bad/nul-in-name", `{"publicKey":"` + pubA + `","name":"a\u0000b"}`, false},
	{"bad/long-owner", `{"publicKey":"` + pubA + `","name":"a","owner":"` + strings.Repeat("o", 129) + `"}`, false},
	{"bad/unknown-field", `{"publicKey":"` + pubA + `","name":"a","x":1}`, false},
}

func parseRegistration(b []byte) (agentRegistration, error) {
	var r agentRegistration
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	return r, r.validate()
}

func TestAgentRegistrationValidate(t *testing.T) {
	for _, c := range registrationCases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := parseRegistration([]byte(c.body)); (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func FuzzAgentRegistration(f *testing.F) {
	for _, c := range registrationCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRegistration(b)
		if err != nil {
			return
		}
		if r.Name == "" || len(r.Name) > MaxAgentName || !utf8.ValidString(r.Name) || len(r.Labels) > MaxAgentLabels || len(r.Capabilities) > MaxCapabilities {
			t.Fatalf("accepted %+v", r)
		}
		for k, v := range r.Labels {
			if k == "" || len(k) > MaxLabelKey || len(v) > MaxLabelValue || strings.ContainsRune(k+v, 0) {
				t.Fatalf("accepted label %q=%q", k, v)
			}
		}
	})
}
