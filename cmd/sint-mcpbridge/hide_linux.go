package main

import "syscall"

// hideProcess makes the process non-dumpable (prctl PR_SET_DUMPABLE 0):
// /proc/<pid>/environ, mem and the like become readable by root only, so
// the downstream server (same user) cannot read the bridge's keys there.
func hideProcess() {
	const prSetDumpable = 4
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
}
