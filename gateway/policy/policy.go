// Package policy loads the gateway's tier policy (PROTOCOL.md §5.3): a YAML
// file of rules {resource pattern, actions, tier}, the default tier for
// unmatched requests, injection-scan exemptions, approval timeouts, the
// anomaly threshold and a per-agent rate limit.
//
// A Policy is parsed and compiled once and is immutable afterwards, so it is
// safe for concurrent use and can be swapped atomically on reload (a bad file
// never replaces a good one: Parse either returns a complete Policy or an
// error). The package is pure except for Load, which reads one file.
//
// Parsing is strict: unknown keys, wrong types, duplicate keys, anchors and
// aliases, and out-of-range values are rejected with the file name, the line
// and the field, e.g. `policy.yaml:7: unknown field "tierr" in rules[1]`.
//
// The policy hash is sha256(JCS(the YAML read into the JSON data model as
// written, no defaults filled in, map keys as strings)), lowercase hex.
package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	"gopkg.in/yaml.v3"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
)

// Limits on a policy file.
const (
	MaxFileBytes       = 1 << 20 // a policy file larger than this is refused
	MaxRules           = 10000
	MaxResourceBytes   = 512 // PROTOCOL.md §1
	MaxActionBytes     = 64
	MaxActionsPerRule  = 64
	MaxExemptPatterns  = 1024
	MinApprovalTimeout = time.Second
	MaxApprovalTimeout = 7 * 24 * time.Hour
	MaxRateWindow      = 24 * time.Hour
	MaxPayloadMappings = 1024 // entries of payloadMappings
	MaxMapsPerEntry    = 64   // mappings in one entry's map
)

// Defaults applied when the file leaves a setting out (the hash never
// includes them).
const (
	DefaultTier             = 4
	DefaultAnomalyThreshold = 0.8
)

// defaultTimeouts are the approval timeouts by tier (PROTOCOL.md §7).
var defaultTimeouts = map[int]time.Duration{3: 60 * time.Second, 4: 300 * time.Second, 5: 900 * time.Second}

// ActionEstop is the action that is always tier 1, whatever the rules say.
const ActionEstop = "estop"

// AnyAction, as the only element of a rule's actions, matches every action.
const AnyAction = "*"

// Rule is one compiled policy rule. Rules returned by a Policy must not be
// modified.
type Rule struct {
	Resource                string   // resource pattern (§2)
	Actions                 []string // the actions, or ["*"] for any action
	Tier                    int      // 1..5
	EscalateOnHumanPresence bool
	Index                   int // position in the file's rules list, 0-based
	Line                    int // line of the rule in the file

	pat       pattern
	anyAction bool
}

// Specificity is the rule's number of literal (non-wildcard) characters in
// its resource pattern; the most specific matching rule wins.
func (r *Rule) Specificity() int { return r.pat.literals }

func (r *Rule) matches(resource, action string) bool {
	if !r.anyAction {
		found := false
		for _, a := range r.Actions {
			if a == action {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return r.pat.match(resource)
}

// Policy is a parsed, validated policy. The zero value is not usable.
type Policy struct {
	name  string
	raw   []byte
	hash  string
	rules []*Rule // file order
	// byPrecedence holds the rules by descending specificity, file order
	// among equals: the first match is the winner.
	byPrecedence []*Rule

	defaultTier      int
	tripOnSevere     bool
	exempt           []pattern
	timeouts         map[int]time.Duration
	anomalyThreshold float64
	rateMax          int64
	rateWindowMs     int64
	hasRate          bool
	mappings         []*MappingEntry // payloadMappings, file order
}

// MappingEntry is one compiled payloadMappings entry: the payload mappings
// that apply to requests on resources matching Resource with one of Actions
// (or any action for ["*"]).
type MappingEntry struct {
	Resource string
	Actions  []string
	Map      []physics.Mapping
	Line     int

	pat       pattern
	anyAction bool
}

// ParseError is a policy file error: file, line (0 when unknown) and message.
// It unwraps to a *codes.Error with code MALFORMED_REQUEST so that
// codes.Of(err) classifies it.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var errInvalidPolicy = codes.New(codes.MalformedRequest, "invalid policy file")

// Unwrap returns the coded error of every policy parse failure.
func (e *ParseError) Unwrap() error { return errInvalidPolicy }

//go:embed default.yaml
var defaultYAML []byte

var defaultPolicy = func() *Policy {
	p, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic("policy: embedded default policy is invalid: " + err.Error())
	}
	return p
}()

// Default returns the shipped default policy (default.yaml, embedded). It is
// shared and immutable.
func Default() *Policy { return defaultPolicy }

// DefaultYAML returns a copy of the shipped default policy file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Load reads and parses the policy file at path. The error names the file.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ParseError{File: path, Msg: "cannot read: " + err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &ParseError{File: path, Msg: "cannot read: " + err.Error()}
	}
	return Parse(path, data)
}

// Parse parses and validates a policy file; name is used in error messages.
func Parse(name string, data []byte) (*Policy, error) {
	if len(data) > MaxFileBytes {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileBytes)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: name, Msg: "empty policy file"}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(name, err)
		}
		return nil, &ParseError{File: name, Line: extra.Line, Msg: "more than one YAML document"}
	}
	ps := &parser{name: name}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) != 1 {
			return nil, &ParseError{File: name, Msg: "empty policy file"}
		}
		root = root.Content[0]
	}
	// The data model (for the hash) and the schema check walk the same tree.
	model, err := ps.model(root, "")
	if err != nil {
		return nil, err
	}
	p := &Policy{name: name, raw: bytes.Clone(data)}
	if err := ps.policy(root, p); err != nil {
		return nil, err
	}
	js, err := json.Marshal(model)
	if err != nil {
		return nil, &ParseError{File: name, Msg: "cannot encode for hashing: " + err.Error()}
	}
	canon, err := jcs.Transform(js)
	if err != nil {
		return nil, &ParseError{File: name, Msg: "cannot canonicalise for hashing: " + err.Error()}
	}
	sum := sha256.Sum256(canon)
	p.hash = hex.EncodeToString(sum[:])
	return p, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(strings.Replace(msg, m[0]+": ", "", 1), m[0])
	}
	return &ParseError{File: name, Line: line, Msg: "invalid YAML: " + strings.TrimSpace(msg)}
}

type parser struct{ name string }

func (ps *parser) errf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{File: ps.name, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func where(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// model converts a node to the JSON data model as written: mappings become
// objects keyed by the key's text, sequences arrays, and scalars by their
// resolved YAML tag (int and float → number, bool, null, str → string).
func (ps *parser) model(n *yaml.Node, path string) (any, error) {
	if n.Anchor != "" {
		return nil, ps.errf(n, "anchors are not supported%s", where(path))
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nil, ps.errf(n, "aliases are not supported%s", where(path))
	case yaml.MappingNode:
		obj := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, ps.errf(k, "mapping key must be a scalar%s", where(path))
			}
			if k.Tag == "!!merge" {
				return nil, ps.errf(k, "merge keys are not supported%s", where(path))
			}
			if _, dup := obj[k.Value]; dup {
				return nil, ps.errf(k, "duplicate field %q%s", k.Value, where(path))
			}
			m, err := ps.model(v, join(path, k.Value))
			if err != nil {
				return nil, err
			}
			obj[k.Value] = m
		}
		return obj, nil
	case yaml.SequenceNode:
		arr := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			m, err := ps.model(c, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			arr = append(arr, m)
		}
		return arr, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, ps.errf(n, "invalid boolean %q%s", n.Value, where(path))
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, ps.errf(n, "integer %q out of range%s", n.Value, where(path))
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, ps.errf(n, "number %q is not a finite number%s", n.Value, where(path))
			}
			return f, nil
		default:
			return nil, ps.errf(n, "unsupported value %q (tag %s)%s", n.Value, n.ShortTag(), where(path))
		}
	}
	return nil, ps.errf(n, "unsupported YAML node%s", where(path))
}

// fields walks a mapping node, rejecting unknown keys, and calls set for
// each known one. Duplicates were rejected by model.
func (ps *parser) fields(n *yaml.Node, path string, known map[string]func(v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			return ps.errf(n, "policy must be a mapping")
		}
		return ps.errf(n, "%s must be a mapping", path)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		set, ok := known[k.Value]
		if !ok {
			return ps.errf(k, "unknown field %q%s", k.Value, where(path))
		}
		if err := set(v); err != nil {
			return err
		}
	}
	return nil
}

func (ps *parser) intField(v *yaml.Node, field string, lo, hi int64) (int64, error) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		return 0, ps.errf(v, "%s must be an integer", field)
	}
	var i int64
	if err := v.Decode(&i); err != nil || i < lo || i > hi {
		return 0, ps.errf(v, "%s must be an integer in %d..%d, got %s", field, lo, hi, v.Value)
	}
	return i, nil
}

func (ps *parser) boolField(v *yaml.Node, field string) (bool, error) {
	var b bool
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
		return false, ps.errf(v, "%s must be true or false", field)
	}
	return b, nil
}

func (ps *parser) stringField(v *yaml.Node, field string) (string, error) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		return "", ps.errf(v, "%s must be a string", field)
	}
	return v.Value, nil
}

func (ps *parser) seq(v *yaml.Node, field string) ([]*yaml.Node, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, ps.errf(v, "%s must be a list", field)
	}
	return v.Content, nil
}

var actionRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// validPattern checks a resource pattern: 1..512 bytes of printable ASCII
// without spaces (the resource alphabet plus the wildcards).
func validPattern(p string) string {
	if p == "" {
		return "must not be empty"
	}
	if len(p) > MaxResourceBytes {
		return fmt.Sprintf("longer than %d bytes", MaxResourceBytes)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c > '~' {
			return fmt.Sprintf("contains character %q; patterns are printable ASCII without spaces", rune(c))
		}
	}
	if strings.Contains(p, "***") {
		return "contains \"***\"; use \"*\" or \"**\""
	}
	return ""
}

func (ps *parser) policy(root *yaml.Node, p *Policy) error {
	p.defaultTier = DefaultTier
	p.anomalyThreshold = DefaultAnomalyThreshold
	p.timeouts = make(map[int]time.Duration, 3)
	for k, v := range defaultTimeouts {
		p.timeouts[k] = v
	}
	var haveVersion bool
	err := ps.fields(root, "", map[string]func(*yaml.Node) error{
		"version": func(v *yaml.Node) error {
			if _, err := ps.intField(v, "version", 1, 1); err != nil {
				return ps.errf(v, "unsupported version %s (this gateway reads version 1)", v.Value)
			}
			haveVersion = true
			return nil
		},
		"defaultTier": func(v *yaml.Node) error {
			t, err := ps.intField(v, "defaultTier", 1, 5)
			p.defaultTier = int(t)
			return err
		},
		"tripOnSevereViolation": func(v *yaml.Node) error {
			b, err := ps.boolField(v, "tripOnSevereViolation")
			p.tripOnSevere = b
			return err
		},
		"rules": func(v *yaml.Node) error {
			items, err := ps.seq(v, "rules")
			if err != nil {
				return err
			}
			if len(items) > MaxRules {
				return ps.errf(v, "more than %d rules", MaxRules)
			}
			for i, item := range items {
				r, err := ps.rule(item, i)
				if err != nil {
					return err
				}
				p.rules = append(p.rules, r)
			}
			return nil
		},
		"injection": func(v *yaml.Node) error {
			return ps.fields(v, "injection", map[string]func(*yaml.Node) error{
				"exempt": func(v *yaml.Node) error {
					items, err := ps.seq(v, "injection.exempt")
					if err != nil {
						return err
					}
					if len(items) > MaxExemptPatterns {
						return ps.errf(v, "more than %d injection.exempt patterns", MaxExemptPatterns)
					}
					for i, item := range items {
						f := fmt.Sprintf("injection.exempt[%d]", i)
						s, err := ps.stringField(item, f)
						if err != nil {
							return err
						}
						if msg := validPattern(s); msg != "" {
							return ps.errf(item, "%s: pattern %s", f, msg)
						}
						p.exempt = append(p.exempt, compilePattern(s))
					}
					return nil
				},
			})
		},
		"approvalTimeoutsMs": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return ps.errf(v, "approvalTimeoutsMs must be a mapping of tier (3, 4, 5) to milliseconds")
			}
			seen := map[int64]bool{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				tier, err := ps.intField(k, "approvalTimeoutsMs key", 3, 5)
				if err != nil {
					return ps.errf(k, "unknown field %q in approvalTimeoutsMs (tiers 3, 4, 5 need approval)", k.Value)
				}
				if seen[tier] {
					return ps.errf(k, "duplicate field %q in approvalTimeoutsMs", k.Value)
				}
				seen[tier] = true
				ms, err := ps.intField(val, fmt.Sprintf("approvalTimeoutsMs.%d", tier),
					MinApprovalTimeout.Milliseconds(), MaxApprovalTimeout.Milliseconds())
				if err != nil {
					return err
				}
				p.timeouts[int(tier)] = time.Duration(ms) * time.Millisecond
			}
			return nil
		},
		"anomaly": func(v *yaml.Node) error {
			return ps.fields(v, "anomaly", map[string]func(*yaml.Node) error{
				"threshold": func(v *yaml.Node) error {
					var f float64
					tag := v.ShortTag()
					if v.Kind != yaml.ScalarNode || (tag != "!!float" && tag != "!!int") || v.Decode(&f) != nil ||
						!(f > 0 && f <= 1) {
						return ps.errf(v, "anomaly.threshold must be a number in (0, 1], got %s", v.Value)
					}
					p.anomalyThreshold = f
					return nil
				},
			})
		},
		"payloadMappings": func(v *yaml.Node) error {
			items, err := ps.seq(v, "payloadMappings")
			if err != nil {
				return err
			}
			if len(items) > MaxPayloadMappings {
				return ps.errf(v, "more than %d payloadMappings entries", MaxPayloadMappings)
			}
			for i, item := range items {
				e, err := ps.mappingEntry(item, i)
				if err != nil {
					return err
				}
				p.mappings = append(p.mappings, e)
			}
			return nil
		},
		"agentRateLimit": func(v *yaml.Node) error {
			var haveMax, haveWin bool
			err := ps.fields(v, "agentRateLimit", map[string]func(*yaml.Node) error{
				"maxCalls": func(v *yaml.Node) error {
					n, err := ps.intField(v, "agentRateLimit.maxCalls", 1, 1_000_000_000)
					p.rateMax, haveMax = n, true
					return err
				},
				"windowMs": func(v *yaml.Node) error {
					n, err := ps.intField(v, "agentRateLimit.windowMs", 1, MaxRateWindow.Milliseconds())
					p.rateWindowMs, haveWin = n, true
					return err
				},
			})
			if err != nil {
				return err
			}
			if !haveMax || !haveWin {
				return ps.errf(v, "agentRateLimit needs both maxCalls and windowMs")
			}
			p.hasRate = true
			return nil
		},
	})
	if err != nil {
		return err
	}
	if !haveVersion {
		return ps.errf(root, "missing field \"version\" (must be 1)")
	}
	p.byPrecedence = make([]*Rule, len(p.rules))
	copy(p.byPrecedence, p.rules)
	sort.SliceStable(p.byPrecedence, func(i, j int) bool {
		return p.byPrecedence[i].pat.literals > p.byPrecedence[j].pat.literals
	})
	return nil
}

// actions parses a rule's or mapping entry's action list.
func (ps *parser) actions(v *yaml.Node, path string) (acts []string, anyAction bool, err error) {
	items, err := ps.seq(v, path+".actions")
	if err != nil {
		return nil, false, err
	}
	if len(items) == 0 {
		return nil, false, ps.errf(v, "%s.actions must not be empty (use [\"*\"] for any action)", path)
	}
	if len(items) > MaxActionsPerRule {
		return nil, false, ps.errf(v, "%s.actions has more than %d actions", path, MaxActionsPerRule)
	}
	seen := make(map[string]bool, len(items))
	for j, item := range items {
		f := fmt.Sprintf("%s.actions[%d]", path, j)
		a, err := ps.stringField(item, f)
		if err != nil {
			return nil, false, err
		}
		switch {
		case a == AnyAction:
			if len(items) != 1 {
				return nil, false, ps.errf(item, "%s: \"*\" must be the only action", f)
			}
			anyAction = true
		case a == ActionEstop:
			return nil, false, ps.errf(item, "%s: action \"estop\" is always tier 1; rules cannot apply to it", f)
		case !actionRE.MatchString(a):
			return nil, false, ps.errf(item, "%s: invalid action %q (want [a-z0-9._-]{1,64} or \"*\")", f, a)
		}
		if seen[a] {
			return nil, false, ps.errf(item, "%s: duplicate action %q", f, a)
		}
		seen[a] = true
		acts = append(acts, a)
	}
	return acts, anyAction, nil
}

// mappingEntry parses payloadMappings[i]: {resource, actions, map}, all
// required. A mapping whose quantity, unit or path the physics package
// cannot use is an error here, so a policy never loads with a mapping the
// gateway would have to skip.
func (ps *parser) mappingEntry(n *yaml.Node, i int) (*MappingEntry, error) {
	path := fmt.Sprintf("payloadMappings[%d]", i)
	e := &MappingEntry{Line: n.Line}
	var haveRes, haveActions, haveMap bool
	err := ps.fields(n, path, map[string]func(*yaml.Node) error{
		"resource": func(v *yaml.Node) error {
			s, err := ps.stringField(v, path+".resource")
			if err != nil {
				return err
			}
			if msg := validPattern(s); msg != "" {
				return ps.errf(v, "%s.resource: pattern %s", path, msg)
			}
			e.Resource, e.pat, haveRes = s, compilePattern(s), true
			return nil
		},
		"actions": func(v *yaml.Node) error {
			acts, anyAction, err := ps.actions(v, path)
			e.Actions, e.anyAction, haveActions = acts, anyAction, err == nil
			return err
		},
		"map": func(v *yaml.Node) error {
			items, err := ps.seq(v, path+".map")
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return ps.errf(v, "%s.map must not be empty", path)
			}
			if len(items) > MaxMapsPerEntry {
				return ps.errf(v, "%s.map has more than %d mappings", path, MaxMapsPerEntry)
			}
			for j, item := range items {
				f := fmt.Sprintf("%s.map[%d]", path, j)
				var spec physics.MappingSpec
				str := func(dst *string, name string) func(*yaml.Node) error {
					return func(v *yaml.Node) error {
						s, err := ps.stringField(v, f+"."+name)
						*dst = s
						return err
					}
				}
				if err := ps.fields(item, f, map[string]func(*yaml.Node) error{
					"path": str(&spec.Path, "path"), "quantity": str(&spec.Quantity, "quantity"),
					"unit": str(&spec.Unit, "unit"), "x": str(&spec.X, "x"), "y": str(&spec.Y, "y"),
					"frame": str(&spec.Frame, "frame"),
				}); err != nil {
					return err
				}
				m, err := physics.NewMapping(spec)
				if err != nil {
					return ps.errf(item, "%s: %s", f, reasonText(err))
				}
				e.Map = append(e.Map, m)
			}
			haveMap = true
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !haveRes:
		return nil, ps.errf(n, "missing field \"resource\" in %s", path)
	case !haveActions:
		return nil, ps.errf(n, "missing field \"actions\" in %s", path)
	case !haveMap:
		return nil, ps.errf(n, "missing field \"map\" in %s", path)
	}
	return e, nil
}

func reasonText(err error) string {
	var ce *codes.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}

func (ps *parser) rule(n *yaml.Node, i int) (*Rule, error) {
	path := fmt.Sprintf("rules[%d]", i)
	r := &Rule{Index: i, Line: n.Line}
	var haveRes, haveActions, haveTier bool
	err := ps.fields(n, path, map[string]func(*yaml.Node) error{
		"resource": func(v *yaml.Node) error {
			s, err := ps.stringField(v, path+".resource")
			if err != nil {
				return err
			}
			if msg := validPattern(s); msg != "" {
				return ps.errf(v, "%s.resource: pattern %s", path, msg)
			}
			r.Resource, r.pat, haveRes = s, compilePattern(s), true
			return nil
		},
		"actions": func(v *yaml.Node) error {
			acts, anyAction, err := ps.actions(v, path)
			r.Actions, r.anyAction, haveActions = acts, anyAction, err == nil
			return err
		},
		"tier": func(v *yaml.Node) error {
			t, err := ps.intField(v, path+".tier", 1, 5)
			r.Tier, haveTier = int(t), true
			return err
		},
		"escalateOnHumanPresence": func(v *yaml.Node) error {
			b, err := ps.boolField(v, path+".escalateOnHumanPresence")
			r.EscalateOnHumanPresence = b
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !haveRes:
		return nil, ps.errf(n, "missing field \"resource\" in %s", path)
	case !haveActions:
		return nil, ps.errf(n, "missing field \"actions\" in %s", path)
	case !haveTier:
		return nil, ps.errf(n, "missing field \"tier\" in %s", path)
	}
	return r, nil
}

// Name returns the file name the policy was parsed from.
func (p *Policy) Name() string { return p.name }

// Hash returns the policy hash, 64 lowercase hex characters.
func (p *Policy) Hash() string { return p.hash }

// Raw returns a copy of the policy file's bytes as parsed.
func (p *Policy) Raw() []byte { return bytes.Clone(p.raw) }

// Rules returns the rules in file order. The slice must not be modified.
func (p *Policy) Rules() []*Rule { return p.rules }

// DefaultTier returns the tier of requests no rule matches (4 unless set).
func (p *Policy) DefaultTier() int { return p.defaultTier }

// MatchRule returns the winning rule for (resource, action): among rules
// whose pattern matches resource and whose actions contain action (or are
// ["*"]), the one with the most literal characters, the first in the file on
// a tie. It returns nil when no rule matches and always for action "estop".
func (p *Policy) MatchRule(resource, action string) *Rule {
	if action == ActionEstop {
		return nil
	}
	for _, r := range p.byPrecedence {
		if r.matches(resource, action) {
			return r
		}
	}
	return nil
}

// MaxTier is the highest tier.
const MaxTier = 5

// Tier assigns the tier of a request (PROTOCOL.md §5.3): the winning rule's
// tier or the default tier, +1 when humanPresent (a trusted signal) and the
// rule escalates on human presence, +1 when anomalous, capped at 5. The
// action "estop" is always tier 1.
func (p *Policy) Tier(resource, action string, humanPresent, anomalous bool) int {
	if action == ActionEstop {
		return 1
	}
	t := p.defaultTier
	if r := p.MatchRule(resource, action); r != nil {
		t = r.Tier
		if humanPresent && r.EscalateOnHumanPresence {
			t++
		}
	}
	if anomalous {
		t++
	}
	return min(t, MaxTier)
}

// InjectionExempt reports whether resource is exempt from the injection scan.
func (p *Policy) InjectionExempt(resource string) bool {
	for i := range p.exempt {
		if p.exempt[i].match(resource) {
			return true
		}
	}
	return false
}

// ApprovalTimeout returns how long an approval of the given tier stays
// pending (defaults 3: 60 s, 4: 300 s, 5: 900 s). Tiers that need no
// approval (1, 2) and invalid tiers return 0.
func (p *Policy) ApprovalTimeout(tier int) time.Duration { return p.timeouts[tier] }

// TripOnSevereViolation reports whether a severe physical violation (a value
// ≥ 2× its limit) trips the e-stop in addition to opening the agent's circuit.
func (p *Policy) TripOnSevereViolation() bool { return p.tripOnSevere }

// AgentRateLimit returns the per-agent rate limit (maxCalls per windowMs
// milliseconds, applied to each agent's intercepts); ok is false when the
// policy sets none.
func (p *Policy) AgentRateLimit() (maxCalls, windowMs int64, ok bool) {
	return p.rateMax, p.rateWindowMs, p.hasRate
}

// PayloadMappings returns the payload mappings that apply to a request on
// resource with action: those of every payloadMappings entry whose pattern
// matches resource and whose actions contain action (or are ["*"]), in file
// order. Every matching entry applies — not only the most specific — so a
// broader entry can never be switched off by a narrower one. Nil when none
// applies. The result must not be modified.
func (p *Policy) PayloadMappings(resource, action string) []physics.Mapping {
	var out []physics.Mapping
	for _, e := range p.mappings {
		if !e.anyAction && !slices.Contains(e.Actions, action) {
			continue
		}
		if e.pat.match(resource) {
			out = append(out, e.Map...)
		}
	}
	return out
}

// AnomalyThreshold returns the anomaly score (0..1] above which an agent is
// anomalous and its requests get one tier more (default 0.8).
func (p *Policy) AnomalyThreshold() float64 { return p.anomalyThreshold }
