// Package check validates records before a store writes them, so that both
// implementations refuse the same inputs: ids must be 1 to store.MaxIDBytes
// bytes, and every stored string must be valid UTF-8 without NUL bytes
// (what a PostgreSQL text column can hold, and what JSON round-trips
// exactly). It is pure.
package check

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sintgate/sintgate/store"
)

// ErrInvalid is wrapped by every validation error. It is not a store
// sentinel: callers see a plain error and fail closed.
var ErrInvalid = errors.New("invalid record")

// ID checks one id.
func ID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, kind)
	}
	if len(id) > store.MaxIDBytes {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, kind, len(id), store.MaxIDBytes)
	}
	return Text(kind, id)
}

// Text checks that every s is valid UTF-8 without NUL bytes.
func Text(what string, ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: %s holds a NUL byte", ErrInvalid, what)
		}
	}
	return nil
}

// Root checks a root before it is stored.
func Root(r store.Root) error {
	return errors.Join(ID("root public key", r.PublicKey), Text("root name", r.Name))
}

// APIKey checks an API key before it is stored.
func APIKey(k store.APIKey) error {
	return errors.Join(ID("api key id", k.ID), Text("api key operator", k.OperatorID), Text("api key scope", k.Scopes...))
}

// Token checks a token record before it is stored.
func Token(t store.TokenRecord) error {
	err := errors.Join(ID("token id", t.TokenID), Text("token", t.Raw, t.Issuer, t.Subject))
	if t.ParentTokenID != "" {
		err = errors.Join(err, ID("parent token id", t.ParentTokenID))
	}
	return err
}

// Approval checks an approval before it is stored.
func Approval(a store.Approval) error {
	err := errors.Join(ID("approval id", a.ApprovalID), ID("approval agent id", a.AgentID),
		ID("approval request id", a.RequestID),
		Text("approval", a.State, a.TokenID, a.Resource, a.Action))
	for _, v := range a.Votes {
		err = errors.Join(err, Text("approval vote", v.OperatorID, v.Vote, v.Reason))
	}
	return err
}

// Agent checks an agent before it is stored.
func Agent(a store.Agent) error {
	err := errors.Join(ID("agent id", a.AgentID), Text("agent", a.Name, a.Owner, a.CircuitCause),
		Text("agent capability", a.Capabilities...))
	for k, v := range a.Labels {
		err = errors.Join(err, Text("agent label", k, v))
	}
	return err
}

// Estop checks a breaker state before it is stored.
func Estop(s store.EstopState) error {
	err := Text("estop", s.State, s.Reason)
	for _, src := range s.Sources {
		err = errors.Join(err, Text("estop source", src.ID, src.Kind, src.State))
	}
	if s.Epoch > 1<<63-1 {
		err = errors.Join(err, fmt.Errorf("%w: estop epoch %d above 2^63-1", ErrInvalid, s.Epoch))
	}
	return err
}
