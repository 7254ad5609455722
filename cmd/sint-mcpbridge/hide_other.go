//go:build !linux

package main

// hideProcess does nothing outside Linux.
func hideProcess() {}
