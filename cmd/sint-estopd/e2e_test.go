package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/link"
)

const keyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// TestMain doubles as the "gateway side" helper process: with
// SINT_ESTOPD_HELPER set, the test binary runs a link server (breaker that
// re-arms once the controller is healthy) and prints its address.
func TestMain(m *testing.M) {
	if os.Getenv("SINT_ESTOPD_HELPER") == "1" {
		runGatewayHelper()
		return
	}
	os.Exit(m.Run())
}

func runGatewayHelper() {
	key, _ := hex.DecodeString(keyHex)
	b := estop.NewBreaker()
	codec, err := link.NewCodec(key, link.RoleGateway, uint64(time.Now().UnixNano()), link.DefaultMaxSkew)
	if err != nil {
		panic(err)
	}
	srv := link.NewServer(b, codec, link.Config{}, "controller", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().String())
	go autoReset(context.Background(), b)
	srv.Serve(context.Background(), ln)
}

// autoReset plays the operator: it resets whenever nothing is latched.
func autoReset(ctx context.Context, b *estop.Breaker) {
	ch, unsub := b.Subscribe()
	defer unsub()
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-ch:
			if s.Tripped && len(s.Latched()) == 0 {
				b.Reset(ctx, "test", "auto")
			}
		}
	}
}

var buildOnce sync.Once
var binPath string
var buildErr error

func buildEstopd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sint-estopd-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sint-estopd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// controllerProc is a running sint-estopd whose log lines are scanned.
type controllerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []map[string]any
	seen  chan struct{}
}

func startController(t *testing.T, gateway string) *controllerProc {
	t.Helper()
	bin := buildEstopd(t)
	cmd := exec.Command(bin, "--simulate", "--gateway", gateway)
	cmd.Env = append(os.Environ(), "SINT_ESTOP_KEY="+keyHex)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &controllerProc{cmd: cmd, stdin: stdin, seen: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, m)
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// relay returns the relay word of the latest "controller state" line.
func (p *controllerProc) relay() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.lines) - 1; i >= 0; i-- {
		if p.lines[i]["msg"] == "controller state" {
			s, _ := p.lines[i]["relay"].(string)
			return s
		}
	}
	return ""
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func latched(b *estop.Breaker, src estop.Source) bool {
	for _, s := range b.Snapshot().Latched() {
		if s.ID == src.ID && s.Kind == src.Kind {
			return true
		}
	}
	return false
}

// TestKillController: SIGKILL the controller → the gateway-side link trips
// the breaker with the controller link latched.
func TestKillController(t *testing.T) {
	key, _ := hex.DecodeString(keyHex)
	b := estop.NewBreaker()
	codec, _ := link.NewCodec(key, link.RoleGateway, uint64(time.Now().UnixNano()), link.DefaultMaxSkew)
	srv := link.NewServer(b, codec, link.Config{}, "controller", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	go autoReset(ctx, b)
	waitFor(t, "boot trip (no controller yet)", func() bool { return latched(b, srv.LinkSource()) })

	p := startController(t, ln.Addr().String())
	waitFor(t, "link up and breaker re-armed", func() bool { return !b.Tripped() })
	waitFor(t, "controller relay energised", func() bool { return p.relay() == "energised" })

	t.Run("trip/frozen-controller-caught-by-watchdog", func(t *testing.T) {
		// SIGSTOP keeps the TCP connection open: only missing heartbeats tell
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "watchdog trip", func() bool { return b.Tripped() && latched(b, srv.LinkSource()) })
		if !strings.Contains(b.Snapshot().Reason, link.ErrHeartbeatLost.Error()) {
			t.Fatalf("reason %q, want heartbeat loss", b.Snapshot().Reason)
		}
		p.cmd.Process.Signal(syscall.SIGCONT)
		waitFor(t, "link back and re-armed", func() bool { return !b.Tripped() })
	})
	epoch := b.Snapshot().Epoch

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "breaker trip after controller death", func() bool { return b.Tripped() && latched(b, srv.LinkSource()) })
	if s := b.Snapshot(); s.Epoch <= epoch || !strings.Contains(s.Reason, "controller link lost") {
		t.Fatalf("state after kill: %+v", s)
	}
	if _, err := b.Reset(context.Background(), "bob", "try"); err == nil {
		t.Fatal("reset succeeded with the controller gone")
	}
}

// TestKillGateway: SIGKILL the gateway-side process → the controller opens
// its relay (within the heartbeat timeout; timing is measured in the
// benchmark, not here).
func TestKillGateway(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), "SINT_ESTOPD_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	p := startController(t, strings.TrimSpace(addr))
	waitFor(t, "relay energised", func() bool { return p.relay() == "energised" })

	t.Run("trip/press-opens-relay", func(t *testing.T) {
		io.WriteString(p.stdin, "press\n")
		waitFor(t, "relay open on press", func() bool { return p.relay() == "open" })
		io.WriteString(p.stdin, "release\n")
		// the gateway latched the button; the helper resets once it clears
		waitFor(t, "relay energised after release and reset", func() bool { return p.relay() == "energised" })
	})

	t.Run("trip/frozen-gateway-caught-by-watchdog", func(t *testing.T) {
		if err := helper.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "relay open on heartbeat loss", func() bool { return p.relay() == "open" })
		helper.Process.Signal(syscall.SIGCONT)
		waitFor(t, "relay energised after the link is back", func() bool { return p.relay() == "energised" })
	})

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "relay open after gateway death", func() bool { return p.relay() == "open" })
}
