package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/gowebpki/jcs"

	"github.com/sintgate/sintgate/codes"
)

// EmptyParamsHash is ParamsHash of absent params: sha256("{}").
var EmptyParamsHash = func() string {
	s := sha256.Sum256([]byte("{}"))
	return hex.EncodeToString(s[:])
}()

// jsonSpace is the whitespace of RFC 8259 (bytes.TrimSpace would also trim
// \f and \v, which are not JSON whitespace).
const jsonSpace = " \t\n\r"

// ParamsHash returns sha256(JCS(params)) as lowercase hex. Absent params
// (nil, empty, only whitespace) and a JSON null are hashed as the empty object
// {}: neither carries a command, and a bridge that has no parameters to send
// hashes {} too. Any other JSON value is canonicalised as is (RFC 8785;
// duplicate object members and invalid UTF-8 are rejected). Invalid JSON
// yields a MALFORMED_REQUEST *codes.Error.
func ParamsHash(params json.RawMessage) (string, error) {
	p := bytes.Trim(params, jsonSpace)
	if len(p) == 0 || string(p) == "null" {
		return EmptyParamsHash, nil
	}
	var buf [512]byte
	c, ok := fastCanonical(p, buf[:0])
	if !ok {
		var err error
		if c, err = jcs.Transform(p); err != nil {
			return "", codes.Wrap(codes.MalformedRequest, "params are not canonicalisable JSON", err)
		}
	}
	s := sha256.Sum256(c)
	return hex.EncodeToString(s[:]), nil
}
