package mcpbridge_test

import (
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
)

func TestDownstreamEnv(t *testing.T) {
	parent := []string{"PATH=/bin", "HOME=/home/r", "SINT_API_KEY=sk_k_secret", "SINT_URL=http://gw", "AWS_SECRET_ACCESS_KEY=x", "ROS_MASTER_URI=http://m:11311", "TZ=UTC"}
	secrets := []string{"sk_k_secret", "secret", "abcdef0123456789"}
	for _, tc := range []struct {
		name    string
		extra   []string
		want    string // sorted, comma-joined
		wantErr string
	}{
		{"allow-list-only", nil, "HOME=/home/r,PATH=/bin,TZ=UTC", ""},
		{"named-copied", []string{"ROS_MASTER_URI"}, "HOME=/home/r,PATH=/bin,ROS_MASTER_URI=http://m:11311,TZ=UTC", ""},
		{"named-set-and-replaced", []string{"CELL=a", "CELL=b", "PATH=/usr/bin"}, "CELL=b,HOME=/home/r,PATH=/usr/bin,TZ=UTC", ""},
		{"sint-named-refused", []string{"SINT_API_KEY"}, "", "SINT_"},
		{"sint-any-case-refused", []string{"sint_url=x"}, "", "SINT_"},
		{"secret-value-refused", []string{"TOKEN=pre-sk_k_secret"}, "", "secret"},
		{"secret-part-refused", []string{"X=secret"}, "", "secret"},
		{"agent-key-refused", []string{"K=abcdef0123456789"}, "", "secret"},
		{"missing-named-refused", []string{"NOPE"}, "", "has no NOPE"},
		{"bad-name-refused", []string{"A B=1"}, "", "not NAME"},
		{"empty-name-refused", []string{"=1"}, "", "not NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mcpbridge.DownstreamEnv(parent, tc.extra, secrets)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tc.want {
				t.Fatalf("%q %v, want %s", got, err, tc.want)
			}
		})
	}
}
