package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// schema describes the JSON shape the pre-decode scan enforces: for objects,
// the exact (case-sensitive) member names allowed and the schema of each
// member's value; for arrays, the schema of the elements. encoding/json
// matches names case-insensitively, keeps the last of duplicate names and
// silently accepts null for non-pointer fields; the scan closes those
// parser-differential holes before json.Unmarshal runs. Scalars have a
// kind, so that a wrong one (2.0 or 1e3 for an integer, a string for a
// number) is refused by name: every error names the member's path and the
// form expected ("tier: expected an integer, got 2.0").
type schema struct {
	fields   map[string]*schema
	elem     *schema
	kind     kind // scalars: what the literal must be
	nullable bool
	required bool
	arrLen   int // arrays: exact number of elements (0 = any)
}

// kind is the form a scalar must have.
type kind uint8

const (
	kindAny kind = iota
	kindString
	kindInteger // a JSON number written as an integer: no fraction, no exponent
	kindNumber
	kindBool
)

var (
	str            = &schema{kind: kindString}
	integer        = &schema{kind: kindInteger}
	number         = &schema{kind: kindNumber}
	boolean        = &schema{kind: kindBool}
	nullableStr    = &schema{kind: kindString, nullable: true}
	nullableInt    = &schema{kind: kindInteger, nullable: true}
	strArray       = &schema{elem: str}
	req            = func(s *schema) *schema { c := *s; c.required = true; return &c }
	integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

	headerSchema = &schema{fields: map[string]*schema{
		"alg": req(str),
		"typ": req(str),
		"kid": str,
	}}

	constraintsSchema = &schema{fields: map[string]*schema{
		"maxVelocityMps":        number,
		"maxAngularVelocityRps": number,
		"maxAccelerationMps2":   number,
		"maxJerkMps3":           number,
		"maxForceNewtons":       number,
		"maxTorqueNm":           number,
		"geofence": {fields: map[string]*schema{
			"frame":   req(str),
			"polygon": req(&schema{elem: &schema{elem: number, arrLen: 2}}),
		}},
		"timeWindow": {fields: map[string]*schema{
			"start": req(integer),
			"end":   req(integer),
		}},
		"maxRepetitions": integer,
		"rateLimit": {fields: map[string]*schema{
			"maxCalls": req(integer),
			"windowMs": req(integer),
		}},
		"requiresHumanPresence": boolean,
		"quorum": {fields: map[string]*schema{
			"required":   req(integer),
			"authorized": req(strArray),
		}},
	}}

	payloadSchema = &schema{fields: map[string]*schema{
		"tokenId":         req(str),
		"issuer":          req(str),
		"subject":         req(str),
		"resource":        req(str),
		"actions":         req(strArray),
		"constraints":     req(constraintsSchema),
		"tier":            req(integer),
		"issuedAt":        req(integer),
		"expiresAt":       req(integer),
		"notBefore":       nullableInt,
		"delegationChain": req(strArray),
		"parentTokenId":   req(nullableStr),
		"nonce":           req(str),
		"revocable":       req(boolean),
	}}
)

// form describes what s accepts, for error messages: "an integer", "an
// array of 2 numbers", "a string or null".
func (s *schema) form() string {
	var f string
	switch {
	case s.fields != nil:
		f = "an object"
	case s.elem != nil:
		f = "an array of "
		if s.arrLen > 0 {
			f += strconv.Itoa(s.arrLen) + " "
		}
		f += plural(s.elem.form())
	default:
		f = [...]string{kindAny: "a scalar", kindString: "a string", kindInteger: "an integer", kindNumber: "a number", kindBool: "true or false"}[s.kind]
	}
	if s.nullable {
		f += " or null"
	}
	return f
}

// plural turns "an integer" into "integers", "an array of 2 numbers" into
// "arrays of 2 numbers".
func plural(form string) string {
	form = strings.TrimPrefix(strings.TrimPrefix(form, "a "), "an ")
	if rest, ok := strings.CutPrefix(form, "array"); ok {
		return "arrays" + rest
	}
	if form == "true or false" {
		return "booleans"
	}
	return form + "s"
}

// scalarOK reports whether the literal (a number, true, false or null) or
// string (isString) has the kind s wants.
func (s *schema) scalarOK(lit []byte, isString bool) bool {
	switch s.kind {
	case kindString:
		return isString
	case kindInteger:
		return !isString && integerLiteral.Match(lit)
	case kindNumber:
		return !isString && len(lit) > 0 && (lit[0] == '-' || lit[0] >= '0' && lit[0] <= '9')
	case kindBool:
		return !isString && (string(lit) == "true" || string(lit) == "false")
	}
	return true
}

var errScan = errors.New("malformed JSON")

// fieldError is a schema violation at a member path.
func fieldError(path, format string, a ...any) error {
	if path == "" {
		path = "(top level)"
	}
	return errors.New(path + ": " + fmt.Sprintf(format, a...))
}

// gotLiteral shows a literal in an error, shortened.
func gotLiteral(lit []byte) string {
	if len(lit) > 24 {
		return string(lit[:24]) + "…"
	}
	return string(lit)
}

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
	// path names the value being read; parent the container being read.
	path := func() string { return framesPath(stack) }
	parent := func() string { return framesPath(stack[:len(stack)-1]) }
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
			return nil, fieldError(parent(), "expected %s, got a longer array", f.s.form())
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
				got := "an object"
				if c == '[' {
					got = "an array"
				}
				return fieldError(path(), "expected %s, got %s", s.form(), got)
			}
			stack = append(stack, scanFrame{s: s, obj: c == '{', expKey: c == '{'})
		case '}', ']':
			f := top()
			if f == nil || f.obj != (c == '}') {
				return errScan
			}
			if !f.obj && f.s.arrLen > 0 && f.n != f.s.arrLen {
				return fieldError(parent(), "expected %s, got %d elements", f.s.form(), f.n)
			}
			if f.obj {
				var missing []string
				for name, fs := range f.s.fields {
					if fs.required && !contains(f.seen, name) {
						missing = append(missing, name)
					}
				}
				if len(missing) > 0 {
					sort.Strings(missing)
					p := parent()
					if p != "" {
						p += "."
					}
					return fieldError(p+missing[0], "missing (expected %s)", f.s.fields[missing[0]].form())
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
					return fieldError(parent(), "unknown member %s", quoteName(name))
				}
				if contains(f.seen, name) {
					return fieldError(parent(), "duplicate member %s", quoteName(name))
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
			if s.fields != nil || s.elem != nil || !s.scalarOK(nil, true) {
				return fieldError(path(), "expected %s, got a string", s.form())
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
			if string(lit) == "null" {
				if !s.nullable {
					return fieldError(path(), "expected %s, got null", s.form())
				}
			} else if s.fields != nil || s.elem != nil || !s.scalarOK(lit, false) {
				return fieldError(path(), "expected %s, got %s", s.form(), gotLiteral(lit))
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

// framesPath names the value the innermost of frames is reading:
// "constraints.quorum.required", "actions[2]"; "" at the top level.
func framesPath(frames []scanFrame) string {
	var b strings.Builder
	for _, f := range frames {
		switch {
		case f.obj && len(f.seen) > 0:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.seen[len(f.seen)-1])
		case !f.obj && f.n > 0:
			fmt.Fprintf(&b, "[%d]", f.n-1)
		}
	}
	return b.String()
}
