//go:build linux

package tokens

import (
	"runtime"
	"syscall"
	"testing"
)

// cpuMeter reports CPU time of the benchmarking thread per op ("cpu-ns/op"),
// which, unlike ns/op, is not inflated when other processes compete for the
// cores (the development machine is shared). GC work on other threads is not
// counted.
type cpuMeter struct{ start int64 }

func startCPU(b *testing.B) *cpuMeter {
	runtime.LockOSThread()
	return &cpuMeter{threadCPU()}
}

func (m *cpuMeter) stop(b *testing.B) {
	d := threadCPU() - m.start
	runtime.UnlockOSThread()
	b.ReportMetric(float64(d)/float64(b.N), "cpu-ns/op")
}

func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
