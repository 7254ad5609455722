package opcuabridge

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckNode(t *testing.T) {
	speed := `{"path":"/value","quantity":"linearVelocity","unit":"m/s"}`
	safe := []SafeWrite{{NodeID: "ns=1;s=Speed", Type: "Double", Value: json.RawMessage("0")}}
	for _, c := range []struct {
		name string
		spec NodeSpec
		want string // "" accepted, else a substring of the error
	}{
		{"mapped variable with safe stop", NodeSpec{Path: "Cell/Speed", NodeID: "ns=2;s=Speed", Kind: "variable", Type: "Double", Map: json.RawMessage(speed), SafeStop: safe}, ""},
		{"neither mapped nor non-physical", NodeSpec{Path: "Cell/Speed", NodeID: "ns=1;s=Speed", Kind: "variable", Type: "Double"}, "no payload mapping"},
		{"motion without safe stop", NodeSpec{Path: "Cell/Speed", NodeID: "ns=1;s=Speed", Kind: "variable", Type: "Double", Map: json.RawMessage(speed)}, "motion route has no safe stop"},
		{"safe stop of the wrong type", NodeSpec{Path: "Cell/Mode", NodeID: "ns=1;s=Mode", Kind: "variable", Type: "String", NonPhysical: true,
			SafeStop: []SafeWrite{{NodeID: "ns=1;s=Mode", Type: "Double", Value: json.RawMessage(`"stopped"`)}}}, "want a number"},
		{"dot-dot path", NodeSpec{Path: "Cell/../Speed", NodeID: "ns=1;s=Speed", Kind: "variable", Type: "Double", NonPhysical: true}, "not . or .."},
		{"unknown kind", NodeSpec{Path: "Cell/X", NodeID: "ns=1;s=X", Kind: "object", NonPhysical: true}, "kind is variable or method"},
		{"method without object", NodeSpec{Path: "Cell/Home", NodeID: "ns=1;s=Home", Kind: "method", NonPhysical: true}, "objectId"},
		{"bad node id", NodeSpec{Path: "Cell/X", NodeID: "nope", Kind: "variable", Type: "Double", NonPhysical: true}, "nodeId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := checkNode("cell1", c.spec)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if n.resource != "opcua://cell1/ns2/Cell/Speed" {
					t.Fatalf("resource %s", n.resource)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v; want %q", err, c.want)
			}
		})
	}
}

func TestSecurityIsNeverImplied(t *testing.T) {
	for _, c := range []struct {
		name string
		sec  Security
		want string
	}{
		{"no mode", Security{}, "security mode not configured"},
		{"None with a policy", Security{Mode: "None", Policy: "Basic256Sha256"}, "takes no policy"},
		{"SignAndEncrypt without certificate", Security{Mode: "SignAndEncrypt"}, "needs the bridge's certificate and key"},
		{"SignAndEncrypt with policy None", Security{Mode: "SignAndEncrypt", Policy: "None", CertFile: "c", KeyFile: "k"}, "policy other than None"},
		{"unknown mode", Security{Mode: "Plain"}, "want None, Sign or SignAndEncrypt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.sec.options(context.Background(), "opc.tcp://127.0.0.1:1")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v; want %q", err, c.want)
			}
		})
	}
	if _, err := (Security{Mode: "None"}).options(context.Background(), "opc.tcp://127.0.0.1:1"); err != nil {
		t.Fatalf("None given explicitly: %v", err)
	}
}
