package app

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/internal/testenv"
)

// privateRedis is a redis-server of one test's own, without persistence, on
// a free loopback port: outage tests stop and restart it (never the shared
// one). It is stopped at the end of the test.
type privateRedis struct {
	t    *testing.T
	bin  string
	Addr string
	cmd  *exec.Cmd
	// Args are added to the server's command line (set before Start).
	Args []string
}

// startPrivateRedis starts a private redis-server with args added to its
// command line; under CI=true a missing
// redis-server fails the test (testenv.Program).
func startPrivateRedis(t *testing.T, args ...string) *privateRedis {
	t.Helper()
	r := &privateRedis{t: t, bin: redisServerBin(t), Addr: freeAddr(t), Args: args}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start starts the server (empty: it keeps nothing across a restart) and
// waits until it listens.
func (r *privateRedis) Start() {
	r.t.Helper()
	port := r.Addr[strings.LastIndex(r.Addr, ":")+1:]
	r.cmd = exec.Command(r.bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, r.Args...)...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitUntil(r.t, "redis-server to listen", func() bool {
		c, err := (&netDialer{}).dial(r.Addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop kills the server (an outage); a second Stop does nothing.
func (r *privateRedis) Stop() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// redisServerBin finds redis-server; under CI=true its absence fails.
func redisServerBin(t *testing.T) string {
	t.Helper()
	return testenv.Program(t, "redis-server", "apt-get install redis-server")
}
