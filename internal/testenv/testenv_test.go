package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf/Skipf instead of stopping
// the goroutine, so the fail-or-skip decision itself can be tested.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recorder) Skipf(f string, a ...any)  { r.skip = fmt.Sprintf(f, a...) }
func (r *recorder) Name() string              { return "recorder" }
func (r *recorder) Cleanup(func())            {}
func (r *recorder) Errorf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestUnavailable(t *testing.T) {
	dead := closedPort(t)
	plain := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     string
		value   string
		call    func(testing.TB) string
		svc     string
		wantWhy string
	}{
		{"pg/unset", EnvPostgres, "", PostgresURL, "up pg", "SINT_TEST_PG_URL is not set"},
		{"pg/unreachable", EnvPostgres, "postgres://u@" + dead + "/db?sslmode=disable", PostgresURL, "up pg", "does not answer"},
		{"pg/garbage", EnvPostgres, "postgres://[::1", PostgresURL, "up pg", "not a valid connection string"},
		{"redis/unset", EnvRedis, "", RedisAddr, "up redis", "SINT_TEST_REDIS_ADDR is not set"},
		{"redis/unreachable", EnvRedis, dead, RedisAddr, "up redis", "does not answer"},
		{"ros/unset", EnvROS, "", ROSMaster, "up ros", "SINT_TEST_ROS_MASTER is not set"},
		{"ros/unreachable", EnvROS, "http://" + dead + "/", ROSMaster, "up ros", "does not answer"},
		{"ros/not-a-url", EnvROS, "127.0.0.1", ROSMaster, "up ros", "not an http URL"},
		{"mqtt/unset", EnvMQTT, "", MQTTAddr, "up mqtt", "SINT_TEST_MQTT_ADDR is not set"},
		{"mqtt/unreachable", EnvMQTT, dead, MQTTAddr, "up mqtt", "does not answer"},
		{"chromium/unset", EnvChromium, "", Chromium, "up chromium", "SINT_TEST_CHROMIUM is not set"},
		{"chromium/missing-file", EnvChromium, "/nonexistent/chromium", Chromium, "up chromium", "no such file"},
		{"chromium/not-executable", EnvChromium, plain, Chromium, "up chromium", "not an executable"},
		{"program/not-in-path", "PATH", t.TempDir(), func(tb testing.TB) string { return Program(tb, "redis-server", "apt-get install redis-server") },
			"install it with: apt-get install redis-server", "program redis-server unavailable"},
		{"program/missing-path", "SINT_UNUSED", "", func(tb testing.TB) string {
			return Program(tb, "/nonexistent/bin/initdb", "apt-get install postgresql")
		},
			"install it with: apt-get install postgresql", "no such file"},
		{"program/not-executable", "SINT_UNUSED", "", func(tb testing.TB) string { return Program(tb, plain, "x") }, "install it with: x", "permission denied"},
	}
	for _, ci := range []string{"true", ""} {
		for _, tc := range cases {
			mode := "skip"
			if ci == "true" {
				mode = "fail"
			}
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Setenv("CI", ci)
				t.Setenv(tc.env, tc.value)
				r := &recorder{TB: t}
				if got := tc.call(r); got != "" {
					t.Fatalf("accessor returned %q for an unavailable service", got)
				}
				msg := r.skip
				if ci == "true" {
					msg = r.fatal
					if r.skip != "" {
						t.Fatalf("CI=true must fail, not skip: %s", r.skip)
					}
				} else if r.fatal != "" {
					t.Fatalf("outside CI a missing service must skip, not fail: %s", r.fatal)
				}
				if msg == "" {
					t.Fatal("neither failed nor skipped")
				}
				for _, want := range []string{svcHint(tc.svc), tc.wantWhy} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q lacks %q", msg, want)
					}
				}
			})
		}
	}
}

func TestAvailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	live := l.Addr().String()
	t.Setenv("CI", "true")
	cases := []struct {
		name  string
		env   string
		value string
		call  func(testing.TB) string
	}{
		{"pg/listening", EnvPostgres, "postgres://u@" + live + "/db?sslmode=disable", PostgresURL},
		{"redis/listening", EnvRedis, live, RedisAddr},
		{"ros/listening", EnvROS, "http://" + live + "/", ROSMaster},
		{"mqtt/listening", EnvMQTT, live, MQTTAddr},
		{"chromium/executable", EnvChromium, "/bin/sh", Chromium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			r := &recorder{TB: t}
			if got := tc.call(r); got != tc.value {
				t.Fatalf("got %q, want %q (fatal=%q skip=%q)", got, tc.value, r.fatal, r.skip)
			}
			if r.fatal != "" || r.skip != "" {
				t.Fatalf("unexpected fatal=%q skip=%q", r.fatal, r.skip)
			}
		})
	}
}

func TestDBName(t *testing.T) {
	cases := []struct{ name, in string }{
		{"simple", "TestStore"},
		{"subtest", "TestStore/append/ok-case"},
		{"long", strings.Repeat("TestVeryLongName/", 10)},
		{"unicode", "TestÜberß/日本"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := dbName(tc.in), dbName(tc.in)
			if a == b {
				t.Fatalf("two calls gave the same name %q", a)
			}
			if len(a) > 63 {
				t.Fatalf("name %q longer than 63 bytes", a)
			}
			for _, r := range a {
				if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
					t.Fatalf("name %q has %q", a, r)
				}
			}
		})
	}
}

func TestWithDatabase(t *testing.T) {
	cases := []struct{ name, base, want string }{
		{"ok/path", "postgres://sint@127.0.0.1:55432/sint_test?sslmode=disable", "postgres://sint@127.0.0.1:55432/t_x?sslmode=disable"},
		{"ok/no-path", "postgresql://127.0.0.1:5432", "postgresql://127.0.0.1:5432/t_x"},
		{"err/keyword-dsn", "host=127.0.0.1 port=5432", ""},
		{"err/opaque", "postgres:0", ""},
		{"err/other-scheme", "mysql://127.0.0.1/db", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withDatabase(tc.base, "t_x")
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want error, got %q", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// svcHint is the part of the message that says how to get the dependency:
// "up pg" names a services.sh service, anything else is quoted as is.
func svcHint(s string) string {
	if strings.HasPrefix(s, "up ") {
		return "scripts/services.sh " + s
	}
	return s
}

// TestProgram: a program that is present is returned with its path.
func TestProgram(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	if p := Program(r, "sh", "apt-get install dash"); p == "" || r.fatal != "" || r.skip != "" {
		t.Fatalf("sh: %q fatal=%q skip=%q", p, r.fatal, r.skip)
	}
}
