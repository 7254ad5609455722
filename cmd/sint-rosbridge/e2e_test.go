package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestCommandEndToEnd runs the command's run() against the real master and
// an in-process gateway: an allowed Twist is forwarded, a too-fast one is
// not (its deny publishes the zero Twist), and SIGINT (ctx cancel) leaves a zero Twist on the actuator topic.
func TestCommandEndToEnd(t *testing.T) {
	master := testenv.ROSMaster(t)
	if master == "" {
		return
	}
	stderr = io.Discard
	ctx := context.Background()
	dir := t.TempDir()
	res, _, err := app.InitDataDir(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(ctx, app.Options{DataDir: dir, PolicyPath: "../../bridges/rosbridge/testdata/policy.yaml"})
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
	c := tokentest.Root("root", "cmdagent", 777, time.Now().UnixMilli())
	v := 1.0
	c.Constraints = tokens.Constraints{MaxVelocityMps: &v}
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

	p := fmt.Sprintf("/cmd%d", time.Now().UnixNano()%1e9)
	node, err := ros.NewNode(ctx, ros.NodeConfig{Name: p + "/test", MasterURI: master, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(ctx)
	out := make(chan *msgs.Twist, 16)
	sub, err := node.Subscribe(ctx, p+"/cmd_vel", msgs.TwistType, func(m msgs.Message) { out <- m.(*msgs.Twist) })
	if err != nil {
		t.Fatal(err)
	}
	pub, err := node.Publisher(ctx, p+"/agent/cmd_vel", msgs.TwistType, false)
	if err != nil {
		t.Fatal(err)
	}
	readKeyPath := filepath.Join(t.TempDir(), "read.key")
	if err := os.WriteFile(readKeyPath, []byte(key.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		code, err := run(rctx, []string{"--url", url, "--api-key-file", readKeyPath, "--agent-key", keyPath, "--token-id", c.TokenID,
			"--master", master, "--name", p + "/sint_rosbridge", "--route", p + "/agent/cmd_vel=" + p + "/cmd_vel",
			"--decisions-topic", p + "/sint/decisions"})
		if err != nil {
			t.Log(err)
		}
		done <- code
	}()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := pub.WaitForSubscribers(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for sub.NumPublishers() < 1 && wctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	next := func(d time.Duration) *msgs.Twist {
		select {
		case m := <-out:
			return m
		case <-time.After(d):
			return nil
		}
	}
	_ = pub.Publish(ctx, &msgs.Twist{Linear: msgs.Vector3{X: 1.5}}) // too fast: denied (≥ 2× would open the circuit)
	ok := &msgs.Twist{Linear: msgs.Vector3{X: 0.5}}
	time.Sleep(200 * time.Millisecond) // let the deny be decided first (coalescing keeps only the newest)
	// The deny stops the motion route (default policy safe-stop): the
	// zero Twist, never the too-fast one.
	if got := next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
		t.Fatalf("got %+v after the deny, want the zero Twist", got)
	}
	_ = pub.Publish(ctx, ok)
	if got := next(5 * time.Second); got == nil || *got != *ok {
		t.Fatalf("got %+v, want %+v first", got, ok)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
		t.Fatalf("after stop got %+v, want the zero Twist", got)
	}
}
