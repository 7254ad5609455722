package mqttbridge

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
