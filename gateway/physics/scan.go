package physics

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// scanValid is scanNumbers for a document json.Valid accepts (exactly one
// JSON value, nesting within encoding/json's bound): one pass over the
// bytes, where the token stream of scanNumbersTokens allocates for every
// token. Its result is scanNumbersTokens' (TestScanNumbersSame,
// FuzzScanNumbersSame).
type scanValid struct {
	doc   []byte
	segs  []string
	isIdx []bool
	out   []numberAt
}

func scanNumbersValid(doc []byte) ([]numberAt, error) {
	s := scanValid{doc: doc}
	if _, err := s.value(s.ws(0)); err != nil {
		return nil, err
	}
	return s.out, nil
}

func (s *scanValid) ws(i int) int {
	for i < len(s.doc) {
		switch s.doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index after the string starting at i (a '"').
func (s *scanValid) stringEnd(i int) int {
	j := i + 1
	for s.doc[j] != '"' {
		if s.doc[j] == '\\' {
			j++
		}
		j++
	}
	return j + 1
}

// key returns the member name raw (quotes included) unescaped as
// encoding/json does (escapes decoded, invalid UTF-8 replaced).
func key(raw []byte) (string, error) {
	body := raw[1 : len(raw)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || utf8.Valid(body) && !containsByte(body, '\\') {
		return string(body), nil
	}
	var k string
	err := json.Unmarshal(raw, &k)
	return k, err
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func (s *scanValid) push(seg string, idx bool) {
	s.segs, s.isIdx = append(s.segs, seg), append(s.isIdx, idx)
}

func (s *scanValid) pop() { s.segs, s.isIdx = s.segs[:len(s.segs)-1], s.isIdx[:len(s.isIdx)-1] }

// value scans the value at i and returns the index after it.
func (s *scanValid) value(i int) (int, error) {
	d := s.doc
	var err error
	switch d[i] {
	case '{':
		i = s.ws(i + 1)
		if d[i] == '}' {
			return i + 1, nil
		}
		for {
			end := s.stringEnd(i)
			k, kerr := key(d[i:end])
			if kerr != nil {
				return 0, kerr
			}
			i = s.ws(s.ws(end) + 1) // past ':'
			s.push(k, false)
			if i, err = s.value(i); err != nil {
				return 0, err
			}
			s.pop()
			i = s.ws(i)
			if d[i] == '}' {
				return i + 1, nil
			}
			i = s.ws(i + 1) // past ','
		}
	case '[':
		i = s.ws(i + 1)
		if d[i] == ']' {
			return i + 1, nil
		}
		for n := 0; ; n++ {
			s.push(strconv.Itoa(n), true)
			if i, err = s.value(i); err != nil {
				return 0, err
			}
			s.pop()
			i = s.ws(i)
			if d[i] == ']' {
				return i + 1, nil
			}
			i = s.ws(i + 1)
		}
	case '"':
		return s.stringEnd(i), nil
	case 't', 'n':
		return i + 4, nil
	case 'f':
		return i + 5, nil
	}
	j := i
	for j < len(d) && (d[j] >= '0' && d[j] <= '9' || d[j] == '-' || d[j] == '+' || d[j] == '.' || d[j] == 'e' || d[j] == 'E') {
		j++
	}
	lit := string(d[i:j])
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return 0, fmt.Errorf("number %s: %v", lit, err)
	}
	s.out = append(s.out, numberAt{
		segs: append([]string(nil), s.segs...), isIdx: append([]bool(nil), s.isIdx...),
		start: i, end: j, v: f,
	})
	return j, nil
}
