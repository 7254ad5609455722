package mcpbridge

import (
	"fmt"
	"slices"
	"strings"
)

// DownstreamEnvAllowed are the variables a downstream server inherits from
// the bridge without being named: enough to find programs, a home, the
// locale, the time zone and a temporary directory. Nothing else of the
// bridge's environment reaches it.
var DownstreamEnvAllowed = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"}

// DownstreamEnv builds the environment of the downstream server from the
// bridge's own (environ, "NAME=VALUE" entries as os.Environ returns) and
// the operator's explicit entries (extra: "NAME" copies the bridge's value,
// "NAME=VALUE" sets one): DownstreamEnvAllowed first, then extra in order
// (a later entry replaces an earlier one of the same name). It fails
// (fail closed, at start) when an entry names a SINT_* variable, is
// malformed, or when any value would carry one of secrets (the bridge's
// API key, its agent key): the downstream server's tools answer the agent,
// so anything they can read the agent can read.
func DownstreamEnv(environ, extra, secrets []string) ([]string, error) {
	parent := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if _, dup := parent[k]; !dup {
				parent[k] = v
			}
		}
	}
	var names []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = v
	}
	for _, k := range DownstreamEnvAllowed {
		if v, ok := parent[k]; ok {
			set(k, v)
		}
	}
	for _, e := range extra {
		k, v, hasValue := strings.Cut(e, "=")
		switch {
		case !validEnvName(k):
			return nil, fmt.Errorf("--env %q: not NAME or NAME=VALUE", e)
		case strings.HasPrefix(strings.ToUpper(k), "SINT_"):
			return nil, fmt.Errorf("--env %s: SINT_* variables are never passed to the downstream server", k)
		}
		if !hasValue {
			pv, ok := parent[k]
			if !ok {
				return nil, fmt.Errorf("--env %s: the bridge's environment has no %s", k, k)
			}
			v = pv
		}
		set(k, v)
	}
	out := make([]string, 0, len(names))
	for _, k := range names {
		v := vals[k]
		for _, s := range secrets {
			if s != "" && (strings.Contains(v, s) || strings.Contains(k, s)) {
				return nil, fmt.Errorf("downstream variable %s would carry a secret of the bridge (its API key or agent key)", k)
			}
		}
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// validEnvName reports whether k is a portable environment variable name.
func validEnvName(k string) bool {
	if k == "" || len(k) > 256 || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
