package attest

import (
	"encoding/json"
	"errors"
	"strconv"
)

// The verifier's JSON reading: attestation headers and payloads are small
// flat objects, read in one pass over their top-level members without
// reflection. Validity is checked first with json.Valid, so the scanner
// below only has to find member boundaries. Duplicate member names are
// refused (encoding/json would keep the last silently, another parser the
// first).

const maxMembers = 32

var (
	errNotObject = errors.New("not a JSON object")
	errDuplicate = errors.New("duplicate member")
	errTooMany   = errors.New("too many members")
)

// forEachMember calls fn with each top-level member of the JSON object data
// (name unquoted, value raw) and refuses invalid JSON, non-objects and
// duplicate names.
func forEachMember(data []byte, fn func(name string, raw []byte) error) error {
	if !json.Valid(data) {
		return errors.New("invalid JSON")
	}
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errNotObject
	}
	i++
	var seen [maxMembers]string
	n := 0
	for {
		i = skipWS(data, i)
		if data[i] == '}' {
			return nil
		}
		if data[i] == ',' {
			i = skipWS(data, i+1)
		}
		end := skipString(data, i)
		name, err := unquote(data[i:end])
		if err != nil {
			return err
		}
		for _, s := range seen[:n] {
			if s == name {
				return errDuplicate
			}
		}
		if n == maxMembers {
			return errTooMany
		}
		seen[n] = name
		n++
		i = skipWS(data, end)
		i = skipWS(data, i+1) // ':'
		vend := skipValue(data, i)
		if err := fn(name, data[i:vend]); err != nil {
			return err
		}
		i = vend
	}
}

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at d[i] == '"'.
func skipString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the (valid) JSON value starting at i.
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = skipString(d, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// unquote returns the value of a raw JSON string.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			var s string
			err := json.Unmarshal(raw, &s)
			return s, err
		}
	}
	return string(body), nil
}

// rawInt parses a JSON integer (no fraction, no exponent) like
// encoding/json does into an int64.
func rawInt(raw []byte) (int64, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, errors.New("not a number")
	}
	return strconv.ParseInt(string(raw), 10, 64)
}
