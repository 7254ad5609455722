package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestGracefulShutdown sends SIGTERM to a gateway under load: it exits 0,
// says it drained, every answer a client got is a complete decision, and
// every allow answered is in the ledger.
func TestGracefulShutdown(t *testing.T) {
	bin := gatewayBinary(t)
	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := filepath.Abs("testdata/policy.yaml")
	g := startGateway(t, bin, dir, "--policy", policy, "--log-level", "info")
	hc := &http.Client{Timeout: 5 * time.Second}
	admin := func(path string, in any) {
		b, _ := json.Marshal(in)
		req, _ := http.NewRequest("POST", g.url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+res.AdminAPIKey)
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	admin("/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")})
	tok := tokentest.Sign("root", tokentest.Root("root", "sd-agent", 1, time.Now().UnixMilli()))
	admin("/v1/tokens", map[string]string{"token": tok.Raw})

	var mu sync.Mutex
	allows := map[string]string{}
	answered := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ts := time.Now().UnixMilli()
				body, _ := json.Marshal(map[string]any{
					"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub("sd-agent"), "timestamp": ts,
					"tokenId": tok.Claims.TokenID, "resource": "ros:///cmd_vel", "action": "publish",
					"params": map[string]any{"linear": map[string]any{"x": 0.2}},
				})
				req, _ := http.NewRequest("POST", g.url+"/v1/intercept", bytes.NewReader(body))
				for k, v := range signed("sd-agent", body, ts) {
					req.Header.Set(k, v)
				}
				resp, err := hc.Do(req)
				if err != nil {
					continue // refused after the listener closed: never in flight
				}
				var d api.Decision
				if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
					t.Errorf("an answered request got a broken body: %v", err)
				}
				resp.Body.Close()
				mu.Lock()
				answered++
				if d.Decision == "allow" {
					allows[d.Ledger.EventID] = d.Ledger.Hash
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = g.cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, g.logs.String())
	}
	if !strings.Contains(g.logs.String(), "in-flight requests were answered") {
		t.Fatalf("no drain message in the log:\n%s", g.logs.String())
	}
	if answered == 0 || len(allows) == 0 {
		t.Fatal("no request was answered; the test proves nothing")
	}
	lg, err := filestore.Open(filepath.Join(dir, ledgerDir), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	for id, hash := range allows {
		e, err := lg.GetByEventID(context.Background(), id)
		if err != nil || e.Hash != hash {
			t.Fatalf("answered allow %s not in the ledger as told: %v", id, err)
		}
	}
}
