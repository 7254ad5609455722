//go:build cgo

package dds

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The peer process of TestTypeHashOnTheWire: it runs only when the parent
// test starts the test binary with SINT_DDS_PEER set. It joins the domain,
// creates a reader of the topic with the type hash it is given (none when
// empty), waits for the parent's writer, prints the USER_DATA discovery
// brought it from that writer, and stays until its stdin closes.
func TestTypeHashPeerProcess(t *testing.T) {
	spec := os.Getenv("SINT_DDS_PEER")
	if spec == "" {
		return // not the peer process
	}
	f := strings.Split(spec, "|") // domain|topic|type|hash
	dom, _ := strconv.Atoi(f[0])
	p, err := NewParticipant(Config{Domain: dom, LoopbackOnly: true})
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	defer p.Close()
	r, err := p.Reader(f[1], f[2], QoS{TypeHash: f[3]})
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitMatched(ctx, 1); err != nil {
		fmt.Println("ERR", err)
		return
	}
	peers, err := matchedPeers(r.ent, false, r.Topic)
	if err != nil || len(peers) != 1 {
		fmt.Println("ERR", len(peers), err)
		return
	}
	fmt.Printf("USERDATA %q\n", peers[0].UserData)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
}

// TestTypeHashOnTheWire: the writer's USER_DATA reaches another process
// through discovery (SEDP) as "typehash=…;", and the writer sorts the
// readers of that process by the hash they announce: the same hash or none
// (Humble) is accepted, another one is a mismatch.
func TestTypeHashOnTheWire(t *testing.T) {
	dom := testDomain(t)
	p, err := NewParticipant(Config{Domain: dom, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	typ, _ := ROSType("geometry_msgs/msg/Twist")
	for name, tc := range map[string]struct {
		peerHash string
		accepted int
		theirs   string
	}{
		"same hash":        {peerHash: hashA, accepted: 1},
		"no hash (Humble)": {peerHash: "", accepted: 1},
		"another hash":     {peerHash: hashB, theirs: hashB},
	} {
		t.Run(name, func(t *testing.T) {
			topic := fmt.Sprintf("rt/typehash_%d", time.Now().UnixNano())
			w, err := p.Writer(topic, typ, QoS{TypeHash: hashA})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestTypeHashPeerProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SINT_DDS_PEER="+strings.Join([]string{strconv.Itoa(dom), topic, typ, tc.peerHash}, "|"))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("peer: %v", err)
			}
			if want := fmt.Sprintf("USERDATA %q\n", "typehash="+hashA+";"); line != want {
				t.Fatalf("the peer process saw %q, want %q", line, want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := w.WaitMatched(ctx, 1); err != nil {
				t.Fatal(err)
			}
			c, err := w.CheckPeers()
			if err != nil {
				t.Fatal(err)
			}
			if c.Matched != 1 || c.Accepted != tc.accepted {
				t.Fatalf("%+v", c)
			}
			if tc.theirs != "" && (len(c.Mismatched) != 1 || c.Mismatched[0].Theirs != tc.theirs) {
				t.Fatalf("mismatch not seen: %+v", c)
			}
			if tc.theirs == "" && len(c.Mismatched) != 0 {
				t.Fatalf("%+v", c)
			}
		})
	}
}
