package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/sintgate/sintgate/codes"
)

// goldenEntry is the first entry of the golden vector. Its canonical hash
// input and hash were computed by hand (python3 hashlib over the literal
// below), not by this package.
func goldenEntry() Entry {
	return Entry{
		EventID:        "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f", // UUIDv7, lowercase, hyphenated
		SequenceNumber: 1,                                      // hashed as the decimal STRING "1"
		Timestamp:      "2026-11-23T20:15:00.123456Z",          // UTC, exactly 6 fractional digits
		EventType:      "policy.evaluated",
		AgentID:        "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29", // agent public key hex
		TokenID:        "01936d5e-0000-7000-8000-000000000001",                             // present → hashed
		// Not canonical on purpose: keys unsorted, 1.50 (→ 1.5), "\u00e9" (→ literal é),
		// "<" kept literal (JCS never HTML-escapes), "\n" stays escaped.
		Payload:      json.RawMessage(`{"tier":1,"decision":"allow","resource":"ros:///cmd_vel","speed":1.50,"note":"\u00e9<\n"}`),
		PreviousHash: ZeroHash, // first entry: 64 zeros
	}
}

const (
	// goldenInput is JCS({eventId, sequenceNumber, timestamp, eventType,
	// agentId, tokenId, payload, previousHash}): keys in UTF-16 order
	// (agentId < eventId < eventType < payload < previousHash <
	// sequenceNumber < timestamp < tokenId), no whitespace, the payload
	// canonicalised recursively, sequenceNumber a string.
	goldenInput = `{"agentId":"3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",` +
		`"eventId":"01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e5f",` +
		`"eventType":"policy.evaluated",` +
		`"payload":{"decision":"allow","note":"é<\n","resource":"ros:///cmd_vel","speed":1.5,"tier":1},` +
		`"previousHash":"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"sequenceNumber":"1",` +
		`"timestamp":"2026-11-23T20:15:00.123456Z",` +
		`"tokenId":"01936d5e-0000-7000-8000-000000000001"}`
	// goldenHash = sha256(goldenInput), lowercase hex.
	goldenHash = "8d5552c415c9d6d0c0b74d5972c504d17783f31219889e6788f5498565850bae"
	// goldenHash2 is the hash of the second entry: no tokenId (key omitted,
	// never null), empty payload {}, previousHash = goldenHash.
	goldenHash2 = "92f641680c0f8fb6bbfeda285ffb326e5aae553a89250cf40f9f839131c970ff"
)

func TestGoldenVector(t *testing.T) {
	e := goldenEntry()
	p, err := CanonicalPayload(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	c := e
	c.Payload = p
	if got := string(HashInput(&c)); got != goldenInput {
		t.Fatalf("canonical input\n got %s\nwant %s", got, goldenInput)
	}
	h, err := HashEntry(&e)
	if err != nil {
		t.Fatal(err)
	}
	if h != goldenHash {
		t.Fatalf("hash %s, want %s", h, goldenHash)
	}
	e2 := Entry{
		EventID: "01936d5e-7b2a-7c3d-8e4f-0a1b2c3d4e60", SequenceNumber: 2,
		Timestamp: "2026-11-23T20:15:00.123457Z", EventType: "policy.loaded", AgentID: "system",
		Payload: json.RawMessage(`{}`), PreviousHash: goldenHash,
	}
	h2, err := HashEntry(&e2)
	if err != nil {
		t.Fatal(err)
	}
	if h2 != goldenHash2 {
		t.Fatalf("hash2 %s, want %s", h2, goldenHash2)
	}
	// HashInput must agree with the reference JCS library on the same object.
	ref, err := jcs.Transform([]byte(goldenInput))
	if err != nil || string(ref) != goldenInput {
		t.Fatalf("goldenInput is not JCS-canonical: %v", err)
	}
}

func TestTimestamp(t *testing.T) {
	ts := time.Date(2026, 11, 23, 20, 15, 0, 123456789, time.FixedZone("x", 3600))
	if got := FormatTimestamp(ts); got != "2026-11-23T19:15:00.123456Z" {
		t.Fatalf("FormatTimestamp = %s", got)
	}
	if got := FormatTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); got != "2026-01-02T03:04:05.000000Z" {
		t.Fatalf("zero fraction: %s", got)
	}
	for name, s := range map[string]string{
		"deny/three-digits":  "2026-11-23T20:15:00.123Z",
		"deny/offset":        "2026-11-23T20:15:00.123456+00:00",
		"deny/no-z":          "2026-11-23T20:15:00.1234560",
		"deny/bad-month":     "2026-13-23T20:15:00.123456Z",
		"deny/seven-digits":  "2026-11-23T20:15:00.1234567Z",
		"deny/lowercase-t":   "2026-11-23t20:15:00.123456Z",
		"deny/empty":         "",
		"deny/letters-digit": "2026-11-23T20:15:00.12345aZ",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseTimestamp(s); err == nil {
				t.Fatalf("accepted %q", s)
			}
		})
	}
}

func TestCanonicalPayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
		ok   bool
	}{
		{"ok/nil-is-empty-object", nil, `{}`, true},
		{"ok/struct", struct {
			B int    `json:"b"`
			A string `json:"a"`
		}{2, "x"}, `{"a":"x","b":2}`, true},
		{"ok/raw-sorted", json.RawMessage(`{ "z" : 1e2, "a":[true,null] }`), `{"a":[true,null],"z":100}`, true},
		{"deny/array", []int{1}, "", false},
		{"deny/string", "x", "", false},
		{"deny/null", json.RawMessage(`null`), "", false},
		{"deny/invalid-json", json.RawMessage(`{"a":}`), "", false},
		{"deny/duplicate-key", json.RawMessage(`{"a":1,"a":2}`), "", false},
		{"deny/too-deep", json.RawMessage(strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)), "", false},
		{"deny/too-large", map[string]string{"a": strings.Repeat("x", MaxPayloadBytes)}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalPayload(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
			if tc.ok && string(got) != tc.want {
				t.Fatalf("got %s want %s", got, tc.want)
			}
		})
	}
}

func sealedChain(t testing.TB, n int) []Entry {
	t.Helper()
	var out []Entry
	prev, prevTS := "", ""
	base := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		var tok string
		if i%2 == 0 {
			tok = "01936d5e-0000-7000-8000-000000000001"
		}
		p, err := Prepare(Event{EventType: "policy.evaluated", AgentID: "agent-" + string(rune('a'+i%26)), TokenID: tok,
			Payload: map[string]any{"i": i, "s": "x\u2028<y>\t"}})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("01936d5e-7b2a-7c3d-8e4f-%012d", i)
		e, _ := p.Next(uint64(i), id, prev, prevTS, base.Add(time.Duration(i)*time.Millisecond))
		prev, prevTS = e.Hash, e.Timestamp
		out = append(out, e)
	}
	return out
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, e := range sealedChain(t, 5) {
		enc := EncodeEntry(&e)
		ref, err := jcs.Transform(enc)
		if err != nil || !bytes.Equal(ref, enc) {
			t.Fatalf("EncodeEntry is not JCS: %s vs %s (%v)", enc, ref, err)
		}
		d, err := DecodeEntry(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(EncodeEntry(&d), enc) {
			t.Fatalf("round trip differs")
		}
		h, err := HashEntry(&d)
		if err != nil || h != e.Hash {
			t.Fatalf("hash after decode %s (%v), want %s", h, err, e.Hash)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := string(EncodeEntry(&sealedChain(t, 1)[0]))
	for name, line := range map[string]string{
		"deny/unknown-field":   strings.Replace(good, `{"agentId"`, `{"x":1,"agentId"`, 1),
		"deny/null-payload":    replaceJSONField(t, good, "payload", nil),
		"deny/array-payload":   replaceJSONField(t, good, "payload", []int{1}),
		"deny/null-token":      replaceJSONField(t, good, "tokenId", nil),
		"deny/empty-token":     replaceJSONField(t, good, "tokenId", ""),
		"deny/seq-zero":        replaceJSONField(t, good, "sequenceNumber", 0),
		"deny/seq-negative":    replaceJSONField(t, good, "sequenceNumber", -1),
		"deny/seq-string":      replaceJSONField(t, good, "sequenceNumber", "1"),
		"deny/upper-hash":      replaceJSONField(t, good, "hash", strings.ToUpper(ZeroHash[:63]+"a")),
		"deny/short-prev":      replaceJSONField(t, good, "previousHash", "00"),
		"deny/bad-eventid":     replaceJSONField(t, good, "eventId", "not-a-uuid"),
		"deny/empty-eventtype": replaceJSONField(t, good, "eventType", ""),
		"deny/trailing":        good + `{}`,
		"deny/not-json":        `{"a`,
		"deny/empty":           ``,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEntry([]byte(line)); err == nil {
				t.Fatalf("accepted %s", line)
			} else if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
		})
	}
}

func replaceJSONField(t testing.TB, line, key string, v any) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	m[key] = v
	b, _ := json.Marshal(m)
	return string(b)
}

func TestVerifyChain(t *testing.T) {
	mut := func(f func(es []Entry)) []Entry {
		es := sealedChain(t, 6)
		f(es)
		return es
	}
	for _, tc := range []struct {
		name    string
		entries []Entry
		prev    string
		bad     uint64
	}{
		{"ok/intact", sealedChain(t, 6), ZeroHash, 0},
		{"ok/empty", nil, ZeroHash, 0},
		{"ok/suffix-from-prev", mut(func(es []Entry) {}), ZeroHash, 0},
		{"deny/payload-changed", mut(func(es []Entry) { es[2].Payload = json.RawMessage(`{"i":99}`) }), ZeroHash, 3},
		{"deny/agent-changed", mut(func(es []Entry) { es[4].AgentID = "mallory" }), ZeroHash, 5},
		{"deny/token-dropped", mut(func(es []Entry) { es[1].TokenID = "" }), ZeroHash, 2},
		{"deny/hash-rewritten-breaks-next", mut(func(es []Entry) {
			es[2].EventType = "x.y"
			es[2].Hash, _ = HashEntry(&es[2])
		}), ZeroHash, 4},
		{"deny/gap", mut(func(es []Entry) { copy(es[3:], es[4:]) }), ZeroHash, 4},
		{"deny/reordered", mut(func(es []Entry) { es[1], es[2] = es[2], es[1] }), ZeroHash, 2},
		{"deny/wrong-genesis", sealedChain(t, 3), goldenHash, 1},
		{"deny/timestamp-backwards", mut(func(es []Entry) {
			es[3].Timestamp = "2000-01-01T00:00:00.000000Z"
			es[3].Hash, _ = HashEntry(&es[3])
		}), ZeroHash, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, err := VerifySlice(tc.entries, tc.prev)
			if bad != tc.bad {
				t.Fatalf("firstBad = %d (%v), want %d", bad, err, tc.bad)
			}
			if (err == nil) != (tc.bad == 0) {
				t.Fatalf("err = %v", err)
			}
			var ce *ChainError
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("not a ChainError: %T", err)
			}
		})
	}
	t.Run("ok/starts-mid-chain", func(t *testing.T) {
		es := sealedChain(t, 6)
		if bad, err := VerifySlice(es[3:], es[2].Hash); bad != 0 {
			t.Fatalf("bad %d: %v", bad, err)
		}
	})
}

func TestJCSStringMatchesReference(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é\u2028\u2029<>&", "😀"} {
		t.Run(s, func(t *testing.T) { checkJCSString(t, s) })
	}
}

func checkJCSString(t testing.TB, s string) {
	var b bytes.Buffer
	writeJCSString(&b, s)
	enc, _ := json.Marshal(s)
	ref, err := jcs.Transform(enc)
	if err != nil {
		t.Fatalf("jcs: %v", err)
	}
	if !bytes.Equal(ref, b.Bytes()) {
		t.Fatalf("writeJCSString(%q) = %s, reference %s", s, b.Bytes(), ref)
	}
}

func TestValidateEvent(t *testing.T) {
	cases := []struct {
		name string
		ev   Event
		ok   bool
	}{
		{"ok/plain", Event{EventType: "a.b", AgentID: "x", TokenID: "t"}, true},
		{"ok/unicode", Event{EventType: "a.\u2028", AgentID: "é😀", TokenID: ""}, true},
		{"deny/empty-type", Event{AgentID: "x"}, false},
		{"deny/empty-agent", Event{EventType: "a"}, false},
		{"deny/nul-in-type", Event{EventType: "a\x00", AgentID: "x"}, false},
		{"deny/nul-in-agent", Event{EventType: "a", AgentID: "x\x00y"}, false},
		{"deny/nul-in-token", Event{EventType: "a", AgentID: "x", TokenID: "\x00"}, false},
		{"deny/bad-utf8", Event{EventType: "a", AgentID: "\xff"}, false},
		{"deny/bad-event-id", Event{EventID: "nope", EventType: "a", AgentID: "x"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateEvent(&tc.ev)
			if (err == nil) != tc.ok || (err != nil && codes.Of(err) != codes.MalformedRequest) {
				t.Fatalf("ValidateEvent = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
