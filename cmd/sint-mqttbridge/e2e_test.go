package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestCommandEndToEnd runs the command's run() against the real broker and
// an in-process gateway: an allowed payload is published unchanged, a
// tier-5 one is not, and SIGINT (ctx cancel) leaves the safe stop on the
// device topic.
func TestCommandEndToEnd(t *testing.T) {
	addr := testenv.MQTTAddr(t)
	stderr = io.Discard
	ctx := context.Background()
	dir := t.TempDir()
	res, _, err := app.InitDataDir(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(ctx, app.Options{DataDir: dir, PolicyPath: "../../bridges/mqttbridge/testdata/policy.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() { _ = g.Server.App.ShutdownWithTimeout(5 * time.Second); _ = g.Close() })
	url := "http://" + ln.Addr().String()
	admin := func(path string, in, out any) int {
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+res.AdminAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(b, out)
		}
		return resp.StatusCode
	}
	admin("/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil)
	c := tokentest.Root("root", "cmdagent", 778, time.Now().UnixMilli())
	c.Resource, c.Actions = "mqtt://factory/**", []string{"publish"}
	if st := admin("/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	var key struct{ Key string }
	admin("/v1/apikeys", map[string]any{"operatorId": "bridge", "scopes": []string{"read"}}, &key)
	priv := tokentest.Key("cmdagent")
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}

	p := fmt.Sprintf("sinttest/cmd%d", time.Now().UnixNano()%1e9)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	out, reports := make(chan *paho.Publish, 16), make(chan string, 64)
	peer := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			if pr.Packet.Topic == p+"/sint/decisions" {
				reports <- string(pr.Packet.Payload)
			} else {
				out <- pr.Packet
			}
			return true, nil
		},
	}})
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	if _, err := peer.Connect(cctx, &paho.Connect{ClientID: "peer-" + p[9:], CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer peer.Disconnect(&paho.Disconnect{})
	if _, err := peer.Subscribe(cctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: p + "/dev/#", QoS: 1}, {Topic: p + "/sint/decisions", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan int, 1)
	ready := make(chan struct{})
	go func() {
		code, err := runReady(rctx, []string{"--url", url, "--api-key", key.Key, "--agent-key", keyPath, "--token-id", c.TokenID,
			"--broker", "mqtt://" + addr, "--broker-name", "factory",
			"--route", p + "/agent/lamp1=" + p + "/dev/lamp1", "--route", p + "/agent/safety/lock=" + p + "/dev/safety/lock",
			"--safe-stop", p + `/dev/lamp1={"state":"off"}`, "--report-topic", p + "/sint/decisions",
			"--non-physical", p + "/dev/lamp1", "--non-physical", p + "/dev/safety/lock"}, func() { close(ready) })
		if err != nil {
			t.Log(err)
		}
		done <- code
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("bridge never connected")
	}
	next := func() *paho.Publish {
		select {
		case m := <-out:
			return m
		case <-time.After(5 * time.Second):
			return nil
		}
	}
	pub := func(topic, payload string) {
		if _, err := peer.Publish(cctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	pub(p+"/agent/safety/lock", `{"locked":false}`) // tier 5 > the token's 3: denied
	select {
	case rep := <-reports:
		if !strings.Contains(rep, `"code":"TIER_EXCEEDED"`) {
			t.Fatalf("report %s, want the TIER_EXCEEDED deny", rep)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no deny report")
	}
	pub(p+"/agent/lamp1", `{"state":"on"}`)
	if m := next(); m == nil || m.Topic != p+"/dev/lamp1" || string(m.Payload) != `{"state":"on"}` {
		t.Fatalf("got %+v, want the lamp command first", m)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if m := next(); m == nil || m.Topic != p+"/dev/lamp1" || string(m.Payload) != `{"state":"off"}` {
		t.Fatalf("after stop got %+v, want the safe stop", m)
	}
}
