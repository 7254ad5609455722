package tokens

import (
	"encoding/json"
	"errors"
)

// schema describes the JSON shape the pre-decode scan enforces: for objects,
// the exact (case-sensitive) member names allowed and the schema of each
// member's value; for arrays, the schema of the elements. encoding/json
// matches names case-insensitively, keeps the last of duplicate names and
// silently accepts null for non-pointer fields; the scan closes those
// parser-differential holes before json.Unmarshal runs.
type schema struct {
	fields   map[string]*schema
	elem     *schema
	nullable bool
	required bool
	arrLen   int // arrays: exact number of elements (0 = any)
}

var (
	scalar         = &schema{}
	nullableScalar = &schema{nullable: true}
	scalarArray    = &schema{elem: scalar}
	req            = func(s *schema) *schema { c := *s; c.required = true; return &c }

	headerSchema = &schema{fields: map[string]*schema{
		"alg": req(scalar),
		"typ": req(scalar),
		"kid": scalar,
	}}

	constraintsSchema = &schema{fields: map[string]*schema{
		"maxVelocityMps":        scalar,
		"maxAngularVelocityRps": scalar,
		"maxAccelerationMps2":   scalar,
		"maxJerkMps3":           scalar,
		"maxForceNewtons":       scalar,
		"maxTorqueNm":           scalar,
		"geofence": {fields: map[string]*schema{
			"frame":   req(scalar),
			"polygon": req(&schema{elem: &schema{elem: scalar, arrLen: 2}}),
		}},
		"timeWindow": {fields: map[string]*schema{
			"start": req(scalar),
			"end":   req(scalar),
		}},
		"maxRepetitions": scalar,
		"rateLimit": {fields: map[string]*schema{
			"maxCalls": req(scalar),
			"windowMs": req(scalar),
		}},
		"requiresHumanPresence": scalar,
		"quorum": {fields: map[string]*schema{
			"required":   req(scalar),
			"authorized": req(scalarArray),
		}},
	}}

	payloadSchema = &schema{fields: map[string]*schema{
		"tokenId":         req(scalar),
		"issuer":          req(scalar),
		"subject":         req(scalar),
		"resource":        req(scalar),
		"actions":         req(scalarArray),
		"constraints":     req(constraintsSchema),
		"tier":            req(scalar),
		"issuedAt":        req(scalar),
		"expiresAt":       req(scalar),
		"notBefore":       nullableScalar,
		"delegationChain": req(scalarArray),
		"parentTokenId":   req(nullableScalar),
		"nonce":           req(scalar),
		"revocable":       req(scalar),
	}}
)

var errScan = errors.New("malformed JSON")

type scanFrame struct {
	s      *schema
	obj    bool
	seen   []string // member names seen in this object
	expKey bool     // object: the next string is a member name
	valFor *schema  // object: schema of the value that follows the pending name
	n      int      // array: elements started so far
}

// scanJSON checks b, before it is decoded, against the depth limit and sc:
// no unknown, duplicate or missing member names, no null except where
// allowed, no object or array where a scalar is expected. It assumes nothing
// about b's validity; json.Unmarshal validates the syntax afterwards.
func scanJSON(b []byte, sc *schema) error {
	stack := make([]scanFrame, 0, 8)
	// next is the schema of the next value to start; nil means "no value
	// expected here" (after a complete top-level value).
	next := sc
	top := func() *scanFrame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	valueDone := func() {
		if f := top(); f != nil {
			if f.obj {
				f.valFor = nil
			} else {
				next = f.s.elem
			}
		} else {
			next = nil
		}
	}
	// beginValue returns the schema for a value starting now.
	beginValue := func() (*schema, error) {
		f := top()
		if f == nil {
			if next == nil {
				return nil, errScan
			}
			return next, nil
		}
		if f.obj {
			if f.expKey || f.valFor == nil {
				return nil, errScan
			}
			return f.valFor, nil
		}
		if f.s.elem == nil {
			return nil, errScan
		}
		f.n++
		if f.s.arrLen > 0 && f.n > f.s.arrLen {
			return nil, errors.New("array too long")
		}
		return f.s.elem, nil
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r', ',', ':':
			if c == ',' {
				if f := top(); f != nil && f.obj {
					f.expKey = true
				}
			}
		case '{', '[':
			s, err := beginValue()
			if err != nil {
				return err
			}
			if len(stack) >= MaxJSONDepth {
				return errors.New("JSON nested deeper than 32")
			}
			if c == '{' && s.fields == nil || c == '[' && s.elem == nil {
				return errors.New("unexpected object or array")
			}
			stack = append(stack, scanFrame{s: s, obj: c == '{', expKey: c == '{'})
		case '}', ']':
			f := top()
			if f == nil || f.obj != (c == '}') {
				return errScan
			}
			if !f.obj && f.s.arrLen > 0 && f.n != f.s.arrLen {
				return errors.New("array of the wrong length")
			}
			if f.obj {
				for name, fs := range f.s.fields {
					if fs.required && !contains(f.seen, name) {
						return errors.New("missing member " + name)
					}
				}
			}
			stack = stack[:len(stack)-1]
			valueDone()
		case '"':
			j := i + 1
			esc := false
			for ; j < len(b); j++ {
				if b[j] == '\\' {
					esc = true
					j++
					continue
				}
				if b[j] == '"' {
					break
				}
			}
			if j >= len(b) {
				return errScan
			}
			raw := b[i : j+1]
			i = j
			if f := top(); f != nil && f.obj && f.expKey {
				name := string(raw[1 : len(raw)-1])
				if esc {
					if err := json.Unmarshal(raw, &name); err != nil {
						return errScan
					}
				}
				fs, ok := f.s.fields[name]
				if !ok {
					return errors.New("unknown member " + quoteName(name))
				}
				if contains(f.seen, name) {
					return errors.New("duplicate member " + quoteName(name))
				}
				f.seen = append(f.seen, name)
				f.expKey = false
				f.valFor = fs
				continue
			}
			s, err := beginValue()
			if err != nil {
				return err
			}
			if s.fields != nil || s.elem != nil {
				return errors.New("unexpected string")
			}
			valueDone()
		default:
			// A literal: number, true, false or null.
			j := i
			for j < len(b) && !isDelim(b[j]) {
				j++
			}
			lit := b[i:j]
			i = j - 1
			s, err := beginValue()
			if err != nil {
				return err
			}
			if s.fields != nil || s.elem != nil {
				return errors.New("unexpected scalar")
			}
			if string(lit) == "null" && !s.nullable {
				return errors.New("unexpected null")
			}
			valueDone()
		}
	}
	if len(stack) != 0 || next != nil {
		return errScan
	}
	return nil
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func quoteName(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
