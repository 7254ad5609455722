package gateway

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// decisionPayload is the payload of a policy.evaluated ledger entry. It is
// written for every decision, so it is encoded by hand, directly in RFC 8785
// (JCS) form: members in code-point order of their names, integers in
// decimal, strings escaped as JCS does. The ledger still checks that the
// bytes are canonical (and re-encodes them if not), so a mistake here costs
// time, never a wrong hash.
type decisionPayload struct {
	Action     string
	AgentID    string
	ApprovalID string // omitted when empty
	Charged    int64  // omitted when 0
	Code       string // null when empty
	Decision   string
	ParamsHash string
	PolicyHash string
	RequestID  string
	Resource   string
	Stage      int
	Tier       int
}

// raw returns the JCS bytes of p.
func (p *decisionPayload) raw() json.RawMessage {
	b := make([]byte, 0, 320+len(p.Resource))
	b = append(b, `{"action":`...)
	b = appendJCSString(b, p.Action)
	b = append(b, `,"agentId":`...)
	b = appendJCSString(b, p.AgentID)
	if p.ApprovalID != "" {
		b = append(b, `,"approvalId":`...)
		b = appendJCSString(b, p.ApprovalID)
	}
	if p.Charged != 0 {
		b = append(b, `,"charged":`...)
		b = appendJCSInt(b, p.Charged)
	}
	b = append(b, `,"code":`...)
	if p.Code == "" {
		b = append(b, "null"...)
	} else {
		b = appendJCSString(b, p.Code)
	}
	b = append(b, `,"decision":`...)
	b = appendJCSString(b, p.Decision)
	b = append(b, `,"paramsHash":`...)
	b = appendJCSString(b, p.ParamsHash)
	b = append(b, `,"policyHash":`...)
	b = appendJCSString(b, p.PolicyHash)
	b = append(b, `,"requestId":`...)
	b = appendJCSString(b, p.RequestID)
	b = append(b, `,"resource":`...)
	b = appendJCSString(b, p.Resource)
	b = append(b, `,"stage":`...)
	b = appendJCSInt(b, int64(p.Stage))
	b = append(b, `,"tier":`...)
	b = appendJCSInt(b, int64(p.Tier))
	return append(b, '}')
}

// appendJCSInt appends n as an RFC 8785 number. JCS numbers are IEEE
// doubles: integers up to 2^53 in magnitude are their decimal digits;
// larger ones (never a tier, stage or credit count in practice) are
// rounded and formatted by the JCS library.
func appendJCSInt(b []byte, n int64) []byte {
	const exact = 1 << 53
	if n >= -exact && n <= exact {
		return strconv.AppendInt(b, n, 10)
	}
	c, err := jcs.Transform(strconv.AppendInt(nil, n, 10))
	if err != nil { // cannot happen for an integer literal
		return strconv.AppendInt(b, n, 10)
	}
	return append(b, c...)
}

// appendJCSString appends s as an RFC 8785 string: '"' and '\\' escaped,
// \b \t \n \f \r in short form, other controls as \u00xx (lowercase hex),
// everything else as is. Invalid UTF-8 is written as U+FFFD, as
// encoding/json does (the inputs here were validated before).
func appendJCSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
