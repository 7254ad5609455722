package mqttbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// Limits on agent payloads (PROTOCOL.md §1 caps a request body at 64 KiB
// and its JSON depth at 32; the payload travels inside the request with the
// token, so it gets half the body, and one level less than the body).
const (
	MaxPayloadBytes = 32 << 10
	MaxPayloadDepth = 31
	// MaxExactInt bounds integer literals (exclusive): the gateway reads
	// numbers as IEEE doubles (RFC 8785), and from 2^53 on an integer
	// literal can mean one number to the gateway (2^53+1 reads as 2^53)
	// and another to a device that parses int64.
	MaxExactInt = 1 << 53
)

// ParsePayload checks that an agent's MQTT payload can be sent as the
// intercept's params and returns it unchanged (the bytes the device will
// get). It must be a UTF-8 JSON object of at most MaxPayloadBytes, nested
// at most MaxPayloadDepth deep, without duplicate member names, with finite
// numbers and integer literals (no fraction or exponent) of magnitude below MaxExactInt. Anything else is
// refused with MALFORMED_REQUEST: the bridge never wraps or rewrites a
// payload, so what the gateway judged is byte for byte what the device
// receives.
func ParsePayload(b []byte) (json.RawMessage, error) {
	bad := func(format string, a ...any) (json.RawMessage, error) {
		return nil, codes.New(codes.MalformedRequest, "payload: "+fmt.Sprintf(format, a...))
	}
	if len(b) > MaxPayloadBytes {
		return bad("%d bytes, over %d", len(b), MaxPayloadBytes)
	}
	if !utf8.Valid(b) {
		return bad("not UTF-8")
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return bad("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walk(dec, 0); err != nil {
		return bad("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("data after the JSON object")
	}
	if _, err := attest.ParamsHash(b); err != nil {
		return bad("%v", err)
	}
	return json.RawMessage(b), nil
}

// walk reads one JSON value from dec, checking depth, member names and
// numbers.
func walk(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if depth+1 > MaxPayloadDepth {
			return fmt.Errorf("nested deeper than %d", MaxPayloadDepth)
		}
		if v == '[' {
			for dec.More() {
				if err := walk(dec, depth+1); err != nil {
					return err
				}
			}
		} else { // '{'
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				name, _ := k.(string)
				if seen[name] {
					return fmt.Errorf("duplicate member %q", name)
				}
				seen[name] = true
				if err := walk(dec, depth+1); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case json.Number:
		return checkNumber(string(v))
	}
	return nil
}

func checkNumber(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("number %s is not a finite double", s)
	}
	if !strings.ContainsAny(s, ".eE") && math.Abs(f) >= MaxExactInt {
		return fmt.Errorf("integer %s is not below 2^53 in magnitude (not exact as a double)", s)
	}
	return nil
}
