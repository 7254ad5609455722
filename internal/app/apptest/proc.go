package apptest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/app"
)

var build struct {
	sync.Once
	path string
	err  error
}

// GatewayBinary builds cmd/sint-gateway once per test binary run and
// returns its path.
func GatewayBinary(t testing.TB) string {
	t.Helper()
	build.Do(func() {
		dir, err := os.MkdirTemp("", "sint-gateway-bin")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "sint-gateway")
		out, err := exec.Command("go", "build", "-o", build.path, "github.com/sintgate/sintgate/cmd/sint-gateway").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Process is a real sint-gateway serve process on a data directory and a
// fixed loopback address, which can be killed and started again on the
// same directory and address (a gateway restart, as a bridge sees it).
type Process struct {
	T        testing.TB
	Dir      string // the data directory
	Addr     string // 127.0.0.1:port, the same for every start
	URL      string
	AdminKey string
	policy   string
	extra    []string // more serve flags (a fleet's --store and --redis)

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// StartProcess initialises a data directory under t.TempDir and serves it
// with a sint-gateway process and the policy at policyPath; the process is
// killed at cleanup.
func StartProcess(t testing.TB, policyPath string) *Process {
	t.Helper()
	p := newProcess(t, policyPath)
	p.Start()
	t.Cleanup(p.Kill)
	return p
}

// StartFleet starts a replicated fleet of n sint-gateway processes sharing
// the PostgreSQL database at pgURL and the Redis at redisAddr: n data
// directories with one identity (the first one's keys.json and
// config.json copied into the others, as docs/deploy.md says), each served
// on its own fixed address so that a replica can be killed and started
// again. The first replica's admin key works on every replica. The
// processes are killed at cleanup.
func StartFleet(t testing.TB, policyPath string, n int, pgURL, redisAddr string) []*Process {
	t.Helper()
	ps := make([]*Process, n)
	for i := range ps {
		p := newProcess(t, policyPath)
		p.extra = []string{"--store", pgURL, "--redis", redisAddr}
		if i > 0 {
			for _, name := range []string{app.KeysFile, "config.json"} {
				b, err := os.ReadFile(filepath.Join(ps[0].Dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(p.Dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p.AdminKey = ps[0].AdminKey
		}
		ps[i] = p
	}
	for _, p := range ps {
		p.Start()
		t.Cleanup(p.Kill)
	}
	return ps
}

// newProcess initialises a data directory and picks an address.
func newProcess(t testing.TB, policyPath string) *Process {
	t.Helper()
	dir := t.TempDir()
	res, created, err := app.InitDataDir(context.Background(), dir, time.Now())
	if err != nil || !created {
		t.Fatalf("init: created=%v err=%v", created, err)
	}
	policy, err := filepath.Abs(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &Process{T: t, Dir: dir, Addr: addr, URL: "http://" + addr, AdminKey: res.AdminAPIKey, policy: policy}
}

// Start starts the process (again) and waits until it answers /health.
func (p *Process) Start() {
	p.T.Helper()
	bin := GatewayBinary(p.T)
	args := append([]string{"serve", "--data-dir", p.Dir, "--listen", p.Addr, "--policy", p.policy, "--log-level", "warn"}, p.extra...)
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		p.T.Fatal(err)
	}
	p.mu.Lock()
	p.cmd, p.logs = cmd, &logs
	p.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.T.Fatalf("gateway process never answered /health: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the process with SIGKILL and waits for it (no-op when not
// running).
func (p *Process) Kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// Admin calls an operator endpoint of the process with the admin key (see
// Gateway.Admin).
func (p *Process) Admin(method, path string, in, out any) int {
	p.T.Helper()
	g := &Gateway{T: p.T, URL: p.URL, AdminKey: p.AdminKey}
	return g.Admin(method, path, in, out)
}

// Logs returns what the last process wrote; call it after Kill (the
// output is copied until the process exits).
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs == nil {
		return ""
	}
	return p.logs.String()
}
