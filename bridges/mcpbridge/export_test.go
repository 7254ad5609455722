package mcpbridge

// Test hooks.

// SetBeforeForward runs f in forward after the latch check and before the
// downstream call: the window in which a latch must still stop the call.
func SetBeforeForward(b *Bridge, f func()) { b.beforeForward = f }

// Latch latches b as the e-stop poll would.
func Latch(b *Bridge, reason string) { b.latch(reason) }

var ScanBlob = scanBlob
