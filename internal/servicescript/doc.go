// Package servicescript tests scripts/services.sh, the script that installs
// and runs the services make test needs, where its behaviour is a contract:
// a port another process holds (a second clone's services, say) makes it
// take the next free port, record it and say which, instead of stopping.
package servicescript
