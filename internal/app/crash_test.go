package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// buildGateway builds cmd/sint-gateway once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sint-gateway-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "sint-gateway")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "github.com/sintgate/sintgate/cmd/sint-gateway").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gatewayProc is a sint-gateway serve process.
type gatewayProc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func startGateway(t *testing.T, bin, dataDir string, extra ...string) *gatewayProc {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{cmd: cmd, url: "http://" + addr, logs: &logs}
	waitUntil(t, "the gateway to answer /health", func() bool {
		resp, err := http.Get(g.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return g
}

// TestCrashRecovery kills a gateway under load with SIGKILL at random
// instants, 20 times, restarting it each time. Afterwards the ledger must
// verify, its sequence numbers must be gap-free, and every allow a client
// received must be in it with the hash the client was given.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 21 gateway processes")
	}
	bin := gatewayBinary(t)
	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := filepath.Abs("testdata/policy.yaml")
	hc := &http.Client{Timeout: 5 * time.Second}
	admin := func(url, method, path string, in any) int {
		b, _ := json.Marshal(in)
		req, _ := http.NewRequest(method, url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+res.AdminAPIKey)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	g := startGateway(t, bin, dir, "--policy", policy)
	if st := admin(g.url, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}); st != 201 {
		t.Fatalf("root: %d", st)
	}
	tok := tokentest.Sign("root", tokentest.Root("root", "crash-agent", 1, time.Now().UnixMilli()))
	if st := admin(g.url, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}); st != 201 {
		t.Fatalf("token: %d", st)
	}

	type seen struct {
		seq  uint64
		hash string
	}
	var mu sync.Mutex
	allows := map[string]seen{} // eventId → what the client was told
	rng := rand.New(rand.NewPCG(42, 7))
	const kills = 20
	for round := 0; round <= kills; round++ {
		if round > 0 {
			g = startGateway(t, bin, dir, "--policy", policy)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 2 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					ts := time.Now().UnixMilli()
					body, _ := json.Marshal(map[string]any{
						"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub("crash-agent"),
						"timestamp": ts, "tokenId": tok.Claims.TokenID, "resource": "ros:///cmd_vel", "action": "publish",
						"params": map[string]any{"linear": map[string]any{"x": 0.1 * float64(w+1), "y": 0, "z": 0}},
					})
					req, _ := http.NewRequest("POST", g.url+"/v1/intercept", bytes.NewReader(body))
					for k, v := range signed("crash-agent", body, ts) {
						req.Header.Set(k, v)
					}
					resp, err := client.Do(req)
					if err != nil {
						continue // the gateway died under us: no answer, nothing promised
					}
					var d api.Decision
					derr := json.NewDecoder(resp.Body).Decode(&d)
					resp.Body.Close()
					if derr == nil && resp.StatusCode == 200 && d.Decision == "allow" && d.Ledger != nil {
						mu.Lock()
						allows[d.Ledger.EventID] = seen{d.Ledger.Sequence, d.Ledger.Hash}
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		if round < kills {
			_ = g.cmd.Process.Signal(syscall.SIGKILL)
		} else {
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
		}
		_ = g.cmd.Wait()
		close(stop)
		wg.Wait()
	}
	if len(allows) == 0 {
		t.Fatal("no allow was received; the test proves nothing")
	}

	lg, err := filestore.Open(filepath.Join(dir, ledgerDir), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	ctx := context.Background()
	size, err := lg.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := lg.Verify(ctx, 1, size)
	if err != nil || !vr.Valid || vr.Checked != size {
		t.Fatalf("ledger of %d entries does not verify: %+v %v", size, vr, err)
	}
	for i := uint64(1); i <= size; i++ {
		e, err := lg.Get(ctx, i)
		if err != nil || e.SequenceNumber != i {
			t.Fatalf("sequence %d: %+v %v", i, e.SequenceNumber, err)
		}
	}
	for id, s := range allows {
		e, err := lg.GetByEventID(ctx, id)
		if err != nil {
			t.Fatalf("allow %s (#%d) a client received is missing: %v", id, s.seq, err)
		}
		if e.SequenceNumber != s.seq || e.Hash != s.hash {
			t.Fatalf("allow %s: ledger has #%d %s, client was told #%d %s", id, e.SequenceNumber, e.Hash, s.seq, s.hash)
		}
	}
	t.Logf("%d kills, %d entries, %d allows received and found", kills, size, len(allows))
	var _ ledger.Entry
}
