package api

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON encoding of d to dst: exactly the bytes of
// json.Marshal(d) (tested byte-equal), and its error, without reflection
// and with one buffer. The gateway answers every intercept with it. A string that
// encoding/json would escape (quote, backslash, control, <, >, &, U+2028,
// U+2029, invalid UTF-8) and an envelope that is not already in
// encoding/json's compact form take the encoding/json path.
func (d *Decision) AppendJSON(dst []byte) ([]byte, error) {
	if !d.fastOK() {
		b, err := json.Marshal(d)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	dst = append(dst, `{"requestId":`...)
	dst = appendStrPtr(dst, d.RequestID)
	dst = append(dst, `,"decision":`...)
	dst = appendStr(dst, d.Decision)
	dst = append(dst, `,"tier":`...)
	dst = strconv.AppendInt(dst, int64(d.Tier), 10)
	dst = append(dst, `,"code":`...)
	dst = appendStrPtr(dst, d.Code)
	dst = append(dst, `,"reason":`...)
	dst = appendStrPtr(dst, d.Reason)
	dst = append(dst, `,"approvalId":`...)
	dst = appendStrPtr(dst, d.ApprovalID)
	dst = append(dst, `,"attestation":`...)
	dst = appendStrPtr(dst, d.Attestation)
	dst = append(dst, `,"envelope":`...)
	if d.Envelope == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, d.Envelope...)
	}
	dst = append(dst, `,"ledger":`...)
	if d.Ledger == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"eventId":`...)
		dst = appendStr(dst, d.Ledger.EventID)
		dst = append(dst, `,"sequence":`...)
		dst = strconv.AppendUint(dst, d.Ledger.Sequence, 10)
		dst = append(dst, `,"hash":`...)
		dst = appendStr(dst, d.Ledger.Hash)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"policyHash":`...)
	dst = appendStrPtr(dst, d.PolicyHash)
	if d.RequiredApprovals != nil {
		dst = append(dst, `,"requiredApprovals":`...)
		dst = strconv.AppendInt(dst, int64(*d.RequiredApprovals), 10)
	}
	if d.ExpiresAt != nil {
		dst = append(dst, `,"expiresAt":`...)
		dst = strconv.AppendInt(dst, *d.ExpiresAt, 10)
	}
	return append(dst, '}'), nil
}

// fastOK reports whether every string of d needs no escaping and the
// envelope is already compact JSON that encoding/json would copy unchanged.
func (d *Decision) fastOK() bool {
	for _, p := range [...]*string{d.RequestID, d.Code, d.Reason, d.ApprovalID, d.Attestation, d.PolicyHash} {
		if p != nil && !plain(*p) {
			return false
		}
	}
	if !plain(d.Decision) {
		return false
	}
	if d.Ledger != nil && (!plain(d.Ledger.EventID) || !plain(d.Ledger.Hash)) {
		return false
	}
	return d.Envelope == nil || compactAsIs(d.Envelope)
}

// plain reports whether s is printable ASCII that encoding/json writes
// between quotes as it is.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// compactAsIs reports whether encoding/json would copy the raw message b
// unchanged: valid, without insignificant white space, and without a
// byte that it rewrites inside strings (<, >, &, the start byte of U+2028
// and U+2029, any other non-ASCII byte is left to the slow path too).
func compactAsIs(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	inStr, esc := false, false
	for _, c := range b {
		switch {
		case c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&':
			return false
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}

func appendStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendStrPtr(dst []byte, p *string) []byte {
	if p == nil {
		return append(dst, "null"...)
	}
	return appendStr(dst, *p)
}
