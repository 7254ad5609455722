package gpio

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/sintgate/sintgate/codes"
)

// MaxCommandBytes bounds a command's params.
const MaxCommandBytes = 4 << 10

// Command is a GPIO command: exactly one of Value (digital) and Duty (PWM,
// fraction 0..1) is set.
type Command struct {
	Value *bool    `json:"value,omitempty"`
	Duty  *float64 `json:"duty,omitempty"`
}

// ParseCommand parses params strictly: a JSON object with exactly one of
// "value" (bool) and "duty" (number in [0, 1]); unknown fields, trailing
// data and other types are MALFORMED_REQUEST.
func ParseCommand(params []byte) (Command, error) {
	var c Command
	if len(params) > MaxCommandBytes {
		return c, codes.New(codes.MalformedRequest, "gpio command too large")
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, codes.Wrap(codes.MalformedRequest, "gpio command: want {\"value\":bool} or {\"duty\":0..1}", err)
	}
	if dec.More() {
		return Command{}, codes.New(codes.MalformedRequest, "gpio command: trailing data")
	}
	switch {
	case (c.Value == nil) == (c.Duty == nil):
		return Command{}, codes.New(codes.MalformedRequest, "gpio command: exactly one of value and duty")
	case c.Duty != nil && (math.IsNaN(*c.Duty) || *c.Duty < 0 || *c.Duty > 1):
		return Command{}, codes.New(codes.MalformedRequest, "gpio command: duty must be within [0, 1]")
	}
	return c, nil
}
