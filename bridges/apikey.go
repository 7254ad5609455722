package bridges

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// MaxAPIKeyFile bounds the size of an API key file.
const MaxAPIKeyFile = 4 << 10

// APIKeyEnv is the environment variable operators' tools (sintctl) read
// the operator key from. Bridges never read it: it usually holds an admin
// key, and whatever a bridge inherits its subprocesses could inherit too.
const APIKeyEnv = "SINT_API_KEY"

// LoadAPIKeyFile reads an operator API key (sk_<id>_<secret>) from path:
// a regular file that only its owner may read or write (no group or other
// permission bits), holding the key on one line. Anything else is an
// error: a key others can read is already leaked.
func LoadAPIKeyFile(path string) (string, error) {
	key, err := ReadSecretFile(path, "API key file", MaxAPIKeyFile)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(key, "sk_") {
		return "", fmt.Errorf("API key file %s does not hold an API key (sk_<id>_<secret>)", path)
	}
	return key, nil
}

// ReadSecretFile reads one secret (a key, a bearer token) from path: a
// regular file that only its owner may read or write (no group or other
// permission bits), at most max bytes, holding the secret on one line
// without blanks. what names the file in errors ("API key file"). The file
// is checked through the descriptor it is read from (no race between the
// check and the read), and a FIFO or device is refused, never read.
func ReadSecretFile(path, what string, max int64) (string, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer, and the bridge would hang at start instead of refusing it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s %s has mode %#o: group and others must have no access (chmod 600)", what, path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > max {
		return "", fmt.Errorf("%s %s is larger than %d bytes", what, path, max)
	}
	secret := strings.TrimSpace(string(b))
	switch {
	case secret == "":
		return "", fmt.Errorf("%s %s is empty", what, path)
	case strings.ContainsAny(secret, " \t\r\n"):
		return "", fmt.Errorf("%s %s must hold one secret on one line", what, path)
	}
	return secret, nil
}

// ErrInheritedAPIKey is returned by RefuseInheritedAPIKey.
var ErrInheritedAPIKey = errors.New(APIKeyEnv + " is set, but bridges do not read it (it is the operator's key, usually admin, and subprocesses could inherit it): give the bridge its own read-scoped key with --api-key-file, or unset " + APIKeyEnv + " to run without the e-stop watch")

// RefuseInheritedAPIKey removes SINT_API_KEY from the process environment
// (so that nothing started later inherits it) and, when it was set and the
// bridge was given no key of its own (haveKey false), returns
// ErrInheritedAPIKey: a bridge that used to take its key from there must
// not silently start without its e-stop watch.
func RefuseInheritedAPIKey(haveKey bool) error {
	set := os.Getenv(APIKeyEnv) != ""
	_ = os.Unsetenv(APIKeyEnv)
	if set && !haveKey {
		return ErrInheritedAPIKey
	}
	return nil
}

// OperatorKey returns the bridge's operator key from --api-key-file (file)
// or --api-key (flagValue; visible to every local user in the process
// list, so the file is preferred), "" when neither is given. Giving both is
// an error, and so is SINT_API_KEY set without either
// (RefuseInheritedAPIKey, which also removes it from the environment).
func OperatorKey(file, flagValue string) (string, error) {
	if file != "" && flagValue != "" {
		return "", errors.New("give at most one of --api-key-file and --api-key")
	}
	if err := RefuseInheritedAPIKey(file != "" || flagValue != ""); err != nil {
		return "", err
	}
	if file != "" {
		return LoadAPIKeyFile(file)
	}
	return flagValue, nil
}
