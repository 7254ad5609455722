// Package memlimit chooses the Go runtime's soft memory limit (GOMEMLIMIT)
// for `sint-gateway serve`.
//
// The gateway collects at GOGC=400 to spend less CPU on the collector: its
// heap may grow to five times the live heap before a collection. Without a
// memory limit, a burst (a connection spike, a flood of large bodies) leaves
// the process at five times its peak live heap until the next collection,
// and in a container that headroom can reach the memory limit and get the
// gateway OOM-killed, an outage of the safety gateway. A soft limit makes
// the collector work harder, and return memory to the OS, as the process
// approaches it; it never makes an allocation fail (past the limit the
// runtime caps the collector at about half the CPU and lets the heap grow).
//
// The default ("auto") is the smallest of: a budget that grows with the
// decision rate the process can reach, BaseBudget + PerCPUBudget per CPU of
// GOMAXPROCS (state that grows with load, such as the 120 s replay window,
// grows with ~3,000 decisions/s per core); a quarter of the physical memory (not below
// MinAuto); and 90 % of the cgroup's memory limit (v2 memory.max or v1
// memory.limit_in_bytes), so a container's hard limit is never reached
// first. That is bounded on a shared edge computer and far above what the
// gateway needs at rest (tens of MiB) or at the peak of a 5,000-connection
// spike (about 210 MiB, docs/benchmarks.md). GOMEMLIMIT in the environment,
// when set, wins over every flag value: the runtime has already applied it.
//
// Below the limit nothing here returns memory after a burst; that is
// internal/memrelief's job.
package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// The automatic budget: BaseBudget plus PerCPUBudget for each CPU the
// process may use.
const (
	BaseBudget   = 256 << 20
	PerCPUBudget = 128 << 20
)

// Host is what the automatic limit is derived from; zero means unknown or
// unlimited.
type Host struct {
	CgroupLimit int64 // bytes
	Physical    int64 // bytes
	CPUs        int   // GOMAXPROCS
}

// Auto returns the automatic limit for h: min(BaseBudget + PerCPUBudget ×
// CPUs, physical/4), not below MinAuto, and then at most 90 % of the cgroup
// limit (the container's hard limit is never exceeded by the default).
func Auto(h Host) int64 {
	l := int64(BaseBudget) + int64(PerCPUBudget)*int64(max(h.CPUs, 1))
	if h.Physical > 0 {
		l = max(min(l, h.Physical/4), MinAuto)
	}
	if h.CgroupLimit > 0 {
		l = min(l, h.CgroupLimit/10*9)
	}
	return l
}

// MinAuto is the floor of the automatic limit on a small machine: below it
// the collector would run continuously even at idle.
const MinAuto = 64 << 20

// Choice is the resolved limit and where it came from.
type Choice struct {
	Bytes  int64  // the limit; math.MaxInt64 means none
	Source string // "GOMEMLIMIT", "flag", "auto" or "off"
}

func (c Choice) String() string {
	if c.Bytes == math.MaxInt64 {
		return "off (" + c.Source + ")"
	}
	return fmt.Sprintf("%d MiB (%s)", c.Bytes>>20, c.Source)
}

// Resolve decides the limit from the flag value (auto, off, or a size in
// GOMEMLIMIT syntax), the GOMEMLIMIT environment variable and the host.
// A set GOMEMLIMIT wins (env is its value, "" when unset); an invalid flag
// value is an error (the gateway does not start on a typo).
func Resolve(flag, env string, h Host) (Choice, error) {
	if env = strings.TrimSpace(env); env != "" {
		if env == "off" {
			return Choice{math.MaxInt64, "GOMEMLIMIT"}, nil
		}
		n, err := Parse(env)
		if err != nil {
			return Choice{}, fmt.Errorf("GOMEMLIMIT: %w", err)
		}
		return Choice{n, "GOMEMLIMIT"}, nil
	}
	switch f := strings.TrimSpace(flag); f {
	case "", "auto":
		return Choice{Auto(h), "auto"}, nil
	case "off":
		return Choice{math.MaxInt64, "off"}, nil
	default:
		n, err := Parse(f)
		if err != nil {
			return Choice{}, fmt.Errorf("--memory-limit: %w", err)
		}
		return Choice{n, "flag"}, nil
	}
}

// Parse reads a size as GOMEMLIMIT writes it: a non-negative integer of
// bytes with an optional unit B, KiB, MiB, GiB or TiB.
func Parse(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 1GiB, 268435456)", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q overflows", s)
	}
	return n << shift, nil
}

// Detect reads the host's cgroup memory limit and physical memory (Linux;
// zeros elsewhere or when unlimited) and GOMAXPROCS.
func Detect() Host {
	h := Host{CPUs: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		h.CgroupLimit = cgroupValue(string(b))
	} else if b, err := os.ReadFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		h.CgroupLimit = cgroupValue(string(b))
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		h.Physical, _ = memTotal(f)
		_ = f.Close()
	}
	return h
}

// cgroupValue parses a cgroup limit; "max" and the v1 "unlimited" values
// (near MaxInt64) are 0.
func cgroupValue(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}

// memTotal reads MemTotal (kB) from /proc/meminfo.
func memTotal(f *os.File) (int64, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}
