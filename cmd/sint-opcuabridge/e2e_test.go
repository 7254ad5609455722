package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// startPLC starts bridges/opcuabridge's node-opcua test PLC on a free port
// and returns its endpoint and the JSON lines it prints (every write).
func startPLC(t *testing.T) (string, <-chan map[string]any) {
	t.Helper()
	if testenv.Program(t, "node", "apt-get install nodejs npm") == "" {
		return "", nil
	}
	dir, _ := filepath.Abs("../../bridges/opcuabridge/testdata/plc")
	if !testenv.File(t, filepath.Join(dir, "node_modules", "node-opcua"), "scripts/services.sh up opcua") {
		return "", nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("node", "plc.js", fmt.Sprint(port), t.TempDir())
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	events, ready := make(chan map[string]any, 256), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]any
			if !strings.HasPrefix(sc.Text(), "{") || json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if ev["ready"] == true {
				close(ready)
				continue
			}
			events <- ev
		}
	}()
	select {
	case <-ready:
	case <-time.After(120 * time.Second):
		t.Fatal("test PLC not ready")
	}
	return fmt.Sprintf("opc.tcp://127.0.0.1:%d", port), events
}

// TestCommandEndToEnd runs the command's run() against the test PLC and an
// in-process gateway: a write on the front reaches the PLC, one over the
// limit does not, and SIGINT (ctx cancel) leaves the PLC in its safe state.
func TestCommandEndToEnd(t *testing.T) {
	endpoint, events := startPLC(t)
	if events == nil {
		return
	}
	stderr = io.Discard
	g := apptest.Start(t, "../../bridges/opcuabridge/testdata/policy.yaml")
	g.Admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil)
	c := tokentest.Root("root", "cmdagent", 779, time.Now().UnixMilli())
	one := 1.0
	c.Resource, c.Actions, c.Constraints.MaxVelocityMps = "opcua://cell1/**", []string{"write"}, &one
	if st := g.Admin("POST", "/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	var key struct{ Key string }
	g.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "bridge", "scopes": []string{"read"}}, &key)
	dir := t.TempDir()
	priv := tokentest.Key("cmdagent")
	files := map[string]string{
		"read.key":  key.Key,
		"front.key": "front-secret-0123456789",
		"nodes.json": `{"nodes":[{"path":"Cell/Speed","nodeId":"ns=1;s=Speed","kind":"variable","type":"Double",
			"map":{"path":"/value","quantity":"linearVelocity","unit":"m/s"},
			"safeStop":[{"nodeId":"ns=1;s=Speed","type":"Double","value":0},{"nodeId":"ns=1;s=Mode","type":"String","value":"stopped"}]}]}`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := keyfile.Save(filepath.Join(dir, "agent.key"), &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan int, 1)
	go func() {
		code, err := run(ctx, []string{"--url", g.URL, "--agent-key", filepath.Join(dir, "agent.key"), "--token-id", c.TokenID,
			"--endpoint", endpoint, "--endpoint-name", "cell1", "--nodes", filepath.Join(dir, "nodes.json"), "--security-mode", "None",
			"--front-key-file", filepath.Join(dir, "front.key"), "--api-key-file", filepath.Join(dir, "read.key"),
			"--listen", "127.0.0.1:0", "--poll-interval", "100ms", "--health-interval", "100ms"}, func(a string) { addrc <- a })
		if err != nil {
			t.Log(err)
		}
		done <- code
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("run exited %d", code)
	}
	post := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/opcua", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer front-secret-0123456789")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var o map[string]any
		_ = json.NewDecoder(res.Body).Decode(&o)
		return res.StatusCode, o
	}
	expect := func(name string, value any) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev["write"] == name && fmt.Sprint(ev["value"]) == fmt.Sprint(value) {
					return
				}
				if fmt.Sprint(ev["value"]) == "1.5" {
					t.Fatalf("PLC got the denied value: %v", ev)
				}
			case <-deadline:
				t.Fatalf("PLC never saw %s = %v", name, value)
			}
		}
	}
	// The bridge answers 409 until it is connected and the e-stop armed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, o := post(`{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":0.45}`)
		if st == 200 {
			break
		}
		if st != 409 || time.Now().After(deadline) {
			t.Fatalf("write: %d %v", st, o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expect("Speed", 0.45)
	if st, o := post(`{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":1.5}`); st != 403 || o["code"] != "PHYSICS_CONSTRAINT" {
		t.Fatalf("over the limit: %d %v", st, o)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	expect("Speed", 0)
	expect("Mode", "stopped")
}
