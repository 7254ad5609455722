package testenv_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/sintgate/sintgate/internal/testenv"
)

// mqttClient connects an MQTT v5 client to the test broker; received
// messages are sent on the returned channel.
func mqttClient(ctx context.Context, t *testing.T, addr, id string) (*paho.Client, <-chan *paho.Publish) {
	t.Helper()
	conn, err := (&net.Dialer{Timeout: testenv.DialTimeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial broker %s: %v", addr, err)
	}
	got := make(chan *paho.Publish, 8)
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				got <- pr.Packet
				return true, nil
			},
		},
	})
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("connect %s: reason code %d", id, ack.ReasonCode)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	return c, got
}

// TestMQTTHarness proves the Mosquitto service: one client subscribes, a
// second publishes, the first receives the message through the broker.
func TestMQTTHarness(t *testing.T) {
	addr := testenv.MQTTAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	topic := "sint/testenv/harness/" + suffix

	for _, qos := range []byte{0, 1} {
		t.Run(fmt.Sprintf("pubsub/qos%d", qos), func(t *testing.T) {
			sub, got := mqttClient(ctx, t, addr, fmt.Sprintf("sub-%d-%s", qos, suffix))
			pub, _ := mqttClient(ctx, t, addr, fmt.Sprintf("pub-%d-%s", qos, suffix))
			tp := fmt.Sprintf("%s/%d", topic, qos)
			sa, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: tp, QoS: qos}}})
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
				t.Fatalf("suback reasons %v, want granted QoS %d", sa.Reasons, qos)
			}
			payload := []byte("estop:" + tp)
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: tp, QoS: qos, Payload: payload}); err != nil {
				t.Fatalf("publish: %v", err)
			}
			select {
			case m := <-got:
				if m.Topic != tp || string(m.Payload) != string(payload) {
					t.Fatalf("received %q on %q, want %q on %q", m.Payload, m.Topic, payload, tp)
				}
			case <-ctx.Done():
				t.Fatal("no message received from the broker")
			}
		})
	}
}
