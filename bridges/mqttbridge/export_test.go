package mqttbridge

import "context"

// DropBrokerConnection cuts the bridge's current broker connection (as a
// network failure would); autopaho reconnects.
func (b *Bridge) DropBrokerConnection() {
	b.cmu.Lock()
	cm := b.cm
	b.cmu.Unlock()
	if cm != nil {
		cm.TerminateConnectionForTest()
	}
}

// Waiting reports whether a message waits in the mailbox of the route from
// agent topic agent.
func (b *Bridge) Waiting(agent string) bool {
	r := b.byName[agent]
	r.mmu.Lock()
	defer r.mmu.Unlock()
	return r.pending != nil
}

// StopBrokerManager disconnects the bridge's connection manager behind
// Run's back, so that its Done channel closes.
func (b *Bridge) StopBrokerManager(ctx context.Context) {
	b.cmu.Lock()
	cm := b.cm
	b.cmu.Unlock()
	_ = cm.Disconnect(ctx)
}
