package gateway

import "github.com/sintgate/sintgate/tokens"

// HoldsToken answers from memory alone whether subject holds a registered
// token: known is false when no registered token of subject is in memory
// (it may have been registered on another replica); holds is true when one
// of them is unrevoked. The e-stop trip endpoint uses it when the store
// cannot answer. It scans the registered tokens (a trip is rare).
func (r *Registry) HoldsToken(subject string) (known, holds bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for id, raw := range r.tokens {
		t, err := tokens.Parse(raw)
		if err != nil || t.Claims.Subject != subject {
			continue
		}
		known = true
		if !r.rev.IsRevoked(id) {
			return true, true
		}
	}
	return known, false
}
