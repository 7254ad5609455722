package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/server"
	"github.com/sintgate/sintgate/store/embedded"
)

// Config is the data directory's config.json.
type Config struct {
	GatewayID string `json:"gatewayId"`
	CreatedAt int64  `json:"createdAt"`
}

// Data directory layout.
const (
	configFile = "config.json"
	KeysFile   = "keys.json"
	stateFile  = "state.db"
	ledgerDir  = "ledger"
	// JournalFile is the e-stop's write-ahead journal of trips.
	JournalFile = "estop.journal"
)

// ReadConfig reads DIR/config.json.
func ReadConfig(dir string) (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", configFile, err)
	}
	if c.GatewayID == "" {
		return c, fmt.Errorf("%s: gatewayId is empty", configFile)
	}
	return c, nil
}

// InitResult is what InitDataDir made (the --json output of init).
type InitResult struct {
	AdminAPIKey  string `json:"adminApiKey,omitempty"`
	GatewayKeyID string `json:"gatewayKeyId"`
	DataDir      string `json:"dataDir"`
	GatewayID    string `json:"-"`
}

// InitDataDir creates dir if it holds no config; an existing one is left
// unchanged (created=false).
func InitDataDir(ctx context.Context, dir string, now time.Time) (InitResult, bool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return InitResult{}, false, err
	}
	res := InitResult{DataDir: abs}
	if c, err := ReadConfig(abs); err == nil {
		ks, err := attest.LoadOrCreate(filepath.Join(abs, KeysFile), c.GatewayID, now)
		if err != nil {
			return res, false, err
		}
		res.GatewayKeyID, res.GatewayID = ks.Active().KID, c.GatewayID
		return res, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, false, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return res, false, err
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return res, false, err
	}
	cfg := Config{GatewayID: "gw-" + hex.EncodeToString(id[:]), CreatedAt: now.UnixMilli()}
	ks, err := attest.LoadOrCreate(filepath.Join(abs, KeysFile), cfg.GatewayID, now)
	if err != nil {
		return res, false, err
	}
	st, err := embedded.Open(filepath.Join(abs, stateFile))
	if err != nil {
		return res, false, err
	}
	defer st.Close()
	k, secret, err := server.NewAPIKey("admin", []string{"admin"})
	if err != nil {
		return res, false, err
	}
	k.CreatedAt = now
	if err := st.PutAPIKey(ctx, k); err != nil {
		return res, false, err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	// The config is written last: its presence marks a complete init.
	if err := os.WriteFile(filepath.Join(abs, configFile), append(b, '\n'), 0o600); err != nil {
		return res, false, err
	}
	res.AdminAPIKey, res.GatewayKeyID, res.GatewayID = secret, ks.Active().KID, cfg.GatewayID
	return res, true, nil
}
