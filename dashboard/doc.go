// Package dashboard is the operator web UI, embedded into the gateway binary and
// served at /dashboard/.
package dashboard
