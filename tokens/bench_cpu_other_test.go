//go:build !linux

package tokens

import "testing"

type cpuMeter struct{}

func startCPU(b *testing.B) *cpuMeter { return &cpuMeter{} }
func (m *cpuMeter) stop(b *testing.B) {}
