package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

const mib = 1 << 20

func TestAuto(t *testing.T) {
	cases := []struct {
		name string
		h    Host
		want int64
	}{
		{"unknown-host/one-cpu-budget", Host{}, 384 * mib},
		{"2-cpus-24GiB/budget", Host{Physical: 24 << 30, CPUs: 2}, 512 * mib},
		{"16-cpus-64GiB/budget-grows-with-cpus", Host{Physical: 64 << 30, CPUs: 16}, 2304 * mib},
		{"4-cpus-2GiB-edge-box/quarter-of-ram", Host{Physical: 2 << 30, CPUs: 4}, 512 * mib},
		{"4-cpus-1GiB-edge-box/quarter-of-ram", Host{Physical: 1 << 30, CPUs: 4}, 256 * mib},
		{"tiny-machine/floor", Host{Physical: 128 * mib, CPUs: 1}, MinAuto},
		{"container-300MiB/90-percent", Host{CgroupLimit: 300 * mib, Physical: 24 << 30, CPUs: 2}, 300 * mib / 10 * 9},
		{"container-64MiB/never-above-the-container", Host{CgroupLimit: 64 * mib, Physical: 24 << 30, CPUs: 2}, 64 * mib / 10 * 9},
		{"container-4GiB/budget", Host{CgroupLimit: 4 << 30, Physical: 24 << 30, CPUs: 2}, 512 * mib},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Auto(tc.h); got != tc.want {
				t.Fatalf("Auto(%+v) = %d MiB, want %d MiB", tc.h, got/mib, tc.want/mib)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	host := Host{Physical: 24 << 30, CPUs: 2}
	const auto = 512 * mib
	cases := []struct {
		name, flag, env string
		want            Choice
		wantErr         bool
	}{
		{name: "default-is-auto", flag: "auto", want: Choice{auto, "auto"}},
		{name: "empty-flag-is-auto", want: Choice{auto, "auto"}},
		{name: "flag-size", flag: "768MiB", want: Choice{768 * mib, "flag"}},
		{name: "flag-off", flag: "off", want: Choice{math.MaxInt64, "off"}},
		{name: "env-wins-over-flag", flag: "768MiB", env: "100MiB", want: Choice{100 * mib, "GOMEMLIMIT"}},
		{name: "env-wins-over-auto", flag: "auto", env: "1GiB", want: Choice{1 << 30, "GOMEMLIMIT"}},
		{name: "env-off-wins", flag: "768MiB", env: "off", want: Choice{math.MaxInt64, "GOMEMLIMIT"}},
		{name: "bad-flag-refused", flag: "lots", wantErr: true},
		{name: "negative-flag-refused", flag: "-1MiB", wantErr: true},
		{name: "bad-env-refused", flag: "auto", env: "12XB", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.flag, tc.env, host)
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("Resolve(%q, %q) = %+v, %v; want %+v (error %v)", tc.flag, tc.env, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParse(t *testing.T) {
	ok := map[string]int64{"0": 0, "1234": 1234, "10B": 10, "4KiB": 4 << 10, "512MiB": 512 * mib, "2GiB": 2 << 30, "1TiB": 1 << 40}
	for in, want := range ok {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.5GiB", "+1MiB", "-1", "1 MiB", "1mb", "9999999TiB", "0x10"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}

func TestCgroupAndMeminfo(t *testing.T) {
	for in, want := range map[string]int64{"max\n": 0, "9223372036854771712\n": 0, "536870912\n": 512 * mib, "garbage": 0} {
		if got := cgroupValue(in); got != want {
			t.Errorf("cgroupValue(%q) = %d, want %d", in, got, want)
		}
	}
	p := filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(p, []byte("MemTotal:       24684228 kB\nMemFree:        19000000 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := memTotal(f); err != nil || got != 24684228<<10 {
		t.Fatalf("memTotal = %d, %v", got, err)
	}
}

// FuzzParse: Parse never panics and accepts only what it can print back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"512MiB", "0", "1TiB", "-1", "9223372036854775807", "8796093022208TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
	})
}
