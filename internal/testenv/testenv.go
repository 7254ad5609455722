// Package testenv gives integration tests the addresses of the real services
// that scripts/services.sh runs on loopback (PostgreSQL, Redis, a ROS 1
// master, Mosquitto, Chromium).
//
// Each accessor reads the service's environment variable (exported by
// `eval "$(scripts/services.sh env)"`) and checks that the service answers
// (a short TCP dial, or an executable file for Chromium). When it does not,
// the test is skipped with a message naming the command that starts the
// service — or, when CI=true, the test fails with that message: on CI a
// missing service is a failure, never a silent skip.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Environment variables read by the accessors (printed by services.sh env).
const (
	EnvPostgres = "SINT_TEST_PG_URL"
	EnvRedis    = "SINT_TEST_REDIS_ADDR"
	EnvROS      = "SINT_TEST_ROS_MASTER"
	EnvMQTT     = "SINT_TEST_MQTT_ADDR"
	EnvChromium = "SINT_TEST_CHROMIUM"
)

// DialTimeout bounds the reachability probe of each service.
const DialTimeout = 2 * time.Second

// SystemPython is the interpreter ROS tools must run on: the Debian ROS
// modules live in the system python, and a pyenv python may come first on
// PATH.
const SystemPython = "/usr/bin/python3"

// service describes one external service for error messages.
type service struct {
	name  string // human name, e.g. "PostgreSQL"
	env   string // environment variable
	short string // services.sh name
}

var (
	svcPostgres = service{"PostgreSQL", EnvPostgres, "pg"}
	svcRedis    = service{"Redis", EnvRedis, "redis"}
	svcROS      = service{"ROS master", EnvROS, "ros"}
	svcMQTT     = service{"MQTT broker (Mosquitto)", EnvMQTT, "mqtt"}
	svcChromium = service{"Chromium", EnvChromium, "chromium"}
)

// StartCommand is the shell command that starts service svc (a services.sh
// name such as "pg") and exports its variables.
func StartCommand(svc string) string {
	return fmt.Sprintf(`scripts/services.sh up %s && eval "$(scripts/services.sh env)"`, svc)
}

// unavailable fails (CI=true) or skips the test, naming the service, why it
// is unavailable and the command that starts it.
func unavailable(tb testing.TB, s service, why string) {
	tb.Helper()
	missing(tb, fmt.Sprintf("testenv: %s unavailable: %s; start it with: %s", s.name, why, StartCommand(s.short)))
}

// missing is the one rule for a missing dependency: the test fails under
// CI=true and is skipped with msg otherwise.
func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s (CI=true: a missing dependency is a failure)", msg)
		return
	}
	tb.Skipf("%s", msg)
}

// Program returns the path of a program a test runs itself (a private
// redis-server or PostgreSQL cluster for an outage test): name is looked up
// in PATH, or checked as is when it contains a slash. A missing or
// non-executable program is a missing dependency: the test is skipped, or
// fails under CI=true, with a message saying how to install it.
func Program(tb testing.TB, name, install string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(tb, fmt.Sprintf("testenv: program %s unavailable: %v; install it with: %s", name, err, install))
		return ""
	}
	return p
}

// File reports whether the file or directory at path exists (a tool's
// installed modules, e.g. a node_modules package). A missing one is a
// missing dependency: the test is skipped, or fails under CI=true, with a
// message saying how to install it.
func File(tb testing.TB, path, install string) bool {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(tb, fmt.Sprintf("testenv: %s unavailable: %v; install it with: %s", path, err, install))
		return false
	}
	return true
}

// lookup returns the variable's value, or reports the service unavailable
// and returns ok=false.
func lookup(tb testing.TB, s service) (string, bool) {
	tb.Helper()
	v := strings.TrimSpace(os.Getenv(s.env))
	if v == "" {
		unavailable(tb, s, s.env+" is not set")
		return "", false
	}
	return v, true
}

// reachable reports the service unavailable when nothing accepts a TCP
// connection at hostport within DialTimeout.
func reachable(tb testing.TB, s service, hostport string) bool {
	tb.Helper()
	c, err := net.DialTimeout("tcp", hostport, DialTimeout)
	if err != nil {
		unavailable(tb, s, fmt.Sprintf("%s=%s does not answer: %v", s.env, os.Getenv(s.env), err))
		return false
	}
	_ = c.Close()
	return true
}

// PostgresURL returns the URL of the test PostgreSQL server (a database that
// tests share; see FreshPGDatabase for a private one).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	v, ok := lookup(tb, svcPostgres)
	if !ok {
		return ""
	}
	cfg, err := pgconn.ParseConfig(v)
	if err != nil {
		unavailable(tb, svcPostgres, fmt.Sprintf("%s is not a valid connection string: %v", EnvPostgres, err))
		return ""
	}
	if !reachable(tb, svcPostgres, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))) {
		return ""
	}
	return v
}

// RedisAddr returns host:port of the test Redis server.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	v, ok := lookup(tb, svcRedis)
	if !ok || !reachable(tb, svcRedis, v) {
		return ""
	}
	return v
}

// ROSMaster returns the XML-RPC URL of the test ROS 1 master
// (e.g. http://127.0.0.1:51311/).
func ROSMaster(tb testing.TB) string {
	tb.Helper()
	v, ok := lookup(tb, svcROS)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		unavailable(tb, svcROS, fmt.Sprintf("%s=%q is not an http URL", EnvROS, v))
		return ""
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "11311")
	}
	if !reachable(tb, svcROS, host) {
		return ""
	}
	return v
}

// MQTTAddr returns host:port of the test MQTT broker.
func MQTTAddr(tb testing.TB) string {
	tb.Helper()
	v, ok := lookup(tb, svcMQTT)
	if !ok || !reachable(tb, svcMQTT, v) {
		return ""
	}
	return v
}

// Chromium returns the path of the Chromium executable for browser tests.
func Chromium(tb testing.TB) string {
	tb.Helper()
	v, ok := lookup(tb, svcChromium)
	if !ok {
		return ""
	}
	st, err := os.Stat(v)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		why := "is not an executable file"
		if err != nil {
			why = err.Error()
		}
		unavailable(tb, svcChromium, fmt.Sprintf("%s=%s %s", EnvChromium, v, why))
		return ""
	}
	return v
}

// ChromiumArgs returns the flags headless Chromium needs on these machines
// (root, no GPU, a closed network) with a private profile in userDataDir.
// Append the URL or other flags (e.g. --dump-dom) to the result.
func ChromiumArgs(userDataDir string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		"--user-data-dir=" + userDataDir,
	}
}

// ChromiumCommand returns a headless Chromium command with ChromiumArgs, a
// fresh profile under tb.TempDir() and args appended. It reports Chromium
// unavailable like Chromium does (then the returned command is nil).
func ChromiumCommand(ctx context.Context, tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	bin := Chromium(tb)
	if bin == "" {
		return nil
	}
	all := append(ChromiumArgs(filepath.Join(tb.TempDir(), "chromium-profile")), args...)
	return exec.CommandContext(ctx, bin, all...)
}

// ROSCommand returns a command running ROS tool (e.g. "rostopic") on the
// system python against the test master, with ROS logs under tb.TempDir().
// It reports the master unavailable like ROSMaster does (then the returned
// command is nil).
func ROSCommand(ctx context.Context, tb testing.TB, tool string, args ...string) *exec.Cmd {
	tb.Helper()
	master := ROSMaster(tb)
	if master == "" {
		return nil
	}
	path, err := exec.LookPath(filepath.Join("/usr/bin", tool))
	if err != nil {
		unavailable(tb, svcROS, fmt.Sprintf("ROS tool %s not installed: %v", tool, err))
		return nil
	}
	home := tb.TempDir()
	cmd := exec.CommandContext(ctx, SystemPython, append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH=/usr/bin:/bin:"+os.Getenv("PATH"),
		"ROS_MASTER_URI="+master,
		"ROS_HOSTNAME=127.0.0.1",
		"ROS_HOME="+home,
		"ROS_LOG_DIR="+filepath.Join(home, "log"),
		"PYTHONNOUSERSITE=1",
	)
	return cmd
}

// FreshPGDatabase creates a database private to this test on the server of
// PostgresURL, drops it (forcibly) in tb.Cleanup, and returns its URL. Use it
// so that parallel test packages never see each other's tables.
func FreshPGDatabase(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL(tb)
	if base == "" {
		return ""
	}
	name := dbName(tb.Name())
	fresh, err := withDatabase(base, name)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("testenv: create database %s: %v", name, err)
		return ""
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if err := adminExec(ctx, base, q); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return fresh
}

// adminExec runs one statement on a short-lived connection to url, retrying
// while the template database is busy (concurrent CREATE DATABASE).
func adminExec(ctx context.Context, url, sql string) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = func() error {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close(context.Background()) }()
			_, err = conn.Exec(ctx, sql)
			return err
		}()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
	return err
}

// dbName derives a unique, valid database name (≤ 63 bytes) from a test name.
func dbName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	prefix := b.String()
	if len(prefix) > 44 {
		prefix = prefix[:44]
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return prefix + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase returns the postgres URL base with its database replaced.
func withDatabase(base, db string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", fmt.Errorf("%s must be a postgres:// URL to derive a fresh database from it, got %q", EnvPostgres, base)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}
