package servicescript

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
)

// script is scripts/services.sh of this repository.
func script(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "services.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs services.sh with args and env in a private services directory,
// so that it never touches the services this clone (or any other) runs.
func run(t *testing.T, svcDir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script(t)}, args...)...)
	cmd.Env = append(append(os.Environ(), "SINT_SERVICES_DIR="+svcDir,
		"SINT_PG_PORT=", "SINT_REDIS_PORT=", "SINT_ROS_PORT=", "SINT_MQTT_PORT="), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// holdPort listens on a free loopback port for the test's lifetime: the
// "other clone's" service.
func holdPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestTakenPortMovesToAFreeOne: when the port services.sh would use for
// Redis is held by another process, up takes the next free port, says
// which, records it, and env prints it; the instance answers there and down
// stops it. With the port asked for explicitly (SINT_REDIS_PORT), a taken
// port is an error that names the variable. Before, up stopped with "port
// … is taken by another process".
func TestTakenPortMovesToAFreeOne(t *testing.T) {
	testenv.Program(t, "redis-server", "scripts/services.sh up redis (apt-get install redis-server redis-tools)")
	testenv.Program(t, "redis-cli", "apt-get install redis-tools")
	svcDir := t.TempDir()
	taken := holdPort(t)
	// The port a previous run recorded, now held by someone else.
	if err := os.MkdirAll(filepath.Join(svcDir, "ports"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(svcDir, "ports", "redis"), []byte(strconv.Itoa(taken)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = run(t, svcDir, nil, "down", "redis") })

	out, err := run(t, svcDir, nil, "up", "redis")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`redis: port (\d+) is taken by another process.*; using (\d+)`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.Itoa(taken) {
		t.Fatalf("up did not say which port it took instead of %d:\n%s", taken, out)
	}
	got := m[2]
	if !strings.Contains(out, "redis up on 127.0.0.1:"+got) {
		t.Fatalf("up does not report the port it serves on:\n%s", out)
	}
	env, err := run(t, svcDir, nil, "env", "redis")
	if err != nil || strings.TrimSpace(env) != "export SINT_TEST_REDIS_ADDR=127.0.0.1:"+got {
		t.Fatalf("env: %v %q, want the moved port %s", err, env, got)
	}
	if pong := redisPing(t, "127.0.0.1:"+got); pong != "+PONG" {
		t.Fatalf("the moved instance answers %q", pong)
	}
	// A second up reuses this clone's instance on its recorded port.
	if out, err := run(t, svcDir, nil, "up", "redis"); err != nil || !strings.Contains(out, "redis up on 127.0.0.1:"+got) {
		t.Fatalf("second up: %v\n%s", err, out)
	}
	if out, err := run(t, svcDir, nil, "down", "redis"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}

	t.Run("explicit-port-taken-is-an-error", func(t *testing.T) {
		dir := t.TempDir()
		out, err := run(t, dir, []string{"SINT_REDIS_PORT=" + strconv.Itoa(taken)}, "up", "redis")
		if err == nil || !strings.Contains(out, "SINT_REDIS_PORT="+strconv.Itoa(taken)) {
			t.Fatalf("up with a taken explicit port: %v\n%s", err, out)
		}
	})
}

// redisPing sends PING over RESP and returns the reply line.
func redisPing(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}
