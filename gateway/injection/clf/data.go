package clf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Item is one labelled item of an evaluation set (eval/injection/*.jsonl).
type Item struct {
	ID       string          `json:"id"`
	Lang     string          `json:"lang"`
	Label    string          `json:"label"`
	Category string          `json:"category"`
	Params   json.RawMessage `json:"params"`
	// Strings are the string values of Params (object keys sorted, as
	// Scanner.ScanValue walks them; keys themselves are not included),
	// each passed through the normaliser given to ParseSet.
	Strings []string `json:"-"`
	// Extras are the caller's extra features of each string.
	Extras [][]Extra `json:"-"`
}

// ParseSet reads a JSON Lines set; prep turns each string value into the
// classifier's input (normal form and extra features).
func ParseSet(data []byte, prep func(string) (string, []Extra)) ([]Item, error) {
	var out []Item
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var it Item
		if err := json.Unmarshal(line, &it); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if it.ID == "" || (it.Label != "attack" && it.Label != "benign") || len(it.Params) == 0 {
			return nil, fmt.Errorf("line %d: item needs id, label attack|benign and params", n)
		}
		var v any
		if err := json.Unmarshal(it.Params, &v); err != nil {
			return nil, fmt.Errorf("line %d: params: %w", n, err)
		}
		walkStrings(v, func(s string) {
			n, ex := prep(s)
			it.Strings = append(it.Strings, n)
			it.Extras = append(it.Extras, ex)
		})
		out = append(out, it)
	}
	return out, sc.Err()
}

func walkStrings(v any, f func(string)) {
	switch t := v.(type) {
	case string:
		f(t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkStrings(t[k], f)
		}
	case []any:
		for _, e := range t {
			walkStrings(e, f)
		}
	}
}

// ClassOf maps an evaluation category to a class index (-1 for benign
// items and for obfuscation, whose underlying intent is not labelled).
func ClassOf(category string) int {
	switch category {
	case "override", "goal_hijack", "instruction_override":
		return 0
	case "robot_hijack", "config_injection", "safety_bypass":
		return 1
	case "exfiltration":
		return 2
	case "role_injection", "role_hijack", "jailbreak_framing":
		return 3
	}
	return -1
}

// ExampleOf is the training text of an item: its strings joined by
// newlines.
func ExampleOf(it Item) Example {
	e := Example{Text: []byte(strings.Join(it.Strings, "\n")), Attack: it.Label == "attack", Class: ClassOf(it.Category)}
	off := int32(0)
	for i, s := range it.Strings {
		for _, x := range it.Extras[i] {
			e.Extra = append(e.Extra, Extra{H: x.H, Start: x.Start + off, End: x.End + off})
		}
		off += int32(len(s)) + 1
	}
	return e
}
