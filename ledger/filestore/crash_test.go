package filestore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/ledger"
)

const crashChildEnv = "SINT_FILESTORE_CRASH_CHILD"

// TestMain lets the test binary act as the appender child of
// TestCrashRecovery.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	code := m.Run()
	if big.dir != "" {
		os.RemoveAll(big.dir) // the 1,000,000-entry benchmark store
	}
	os.Exit(code)
}

// crashChild appends from 16 goroutines forever and reports every append
// that returned (so is durable) as "seq hash" lines on stdout.
func crashChild(dir string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				e, err := s.Append(context.Background(), ledger.Event{EventType: "policy.evaluated", AgentID: fmt.Sprintf("agent-%d", g),
					Payload: map[string]any{"i": i, "pad": strings.Repeat("x", i%300)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %s\n", e.SequenceNumber, e.Hash)
				out.Flush() // reported only after Append returned
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
}

// TestCrashRecovery SIGKILLs a real appender process at random moments, then
// reopens the store and checks it: the chain verifies, sequences are gap-free,
// and every append the child reported as durable is present with its hash.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("re-execs the test binary 20 times")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	const rounds = 20
	reported := map[uint64]string{}
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string, 1)
		ready := make(chan struct{})
		go func() {
			var got []string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					close(ready)
					continue
				}
				got = append(got, sc.Text())
			}
			lines <- got
		}()
		// Kill at a random moment after the child has opened the store
		// (recovery itself is covered by TestRecovery).
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: the child did not open the store", round)
		}
		time.Sleep(time.Duration(5+rng.IntN(150)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		got := <-lines
		_ = cmd.Wait()
		for _, l := range got {
			f := strings.Fields(l)
			if len(f) != 2 {
				continue // a line cut by the kill
			}
			seq, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil || len(f[1]) != 64 {
				continue
			}
			if old, ok := reported[seq]; ok && old != f[1] {
				t.Fatalf("round %d: sequence %d reported with two hashes", round, seq)
			}
			reported[seq] = f[1]
		}

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		n, _ := s.Size(context.Background())
		res, err := s.Verify(context.Background(), 0, 0)
		if err != nil || !res.Valid || res.Checked != n {
			t.Fatalf("round %d: Verify %+v %v (%s)", round, res, err, res.Reason)
		}
		for seq, h := range reported {
			e, err := s.Get(context.Background(), seq)
			if err != nil {
				t.Fatalf("round %d: durable sequence %d lost (size %d): %v", round, seq, n, err)
			}
			if e.Hash != h {
				t.Fatalf("round %d: sequence %d hash changed", round, seq)
			}
		}
		t.Logf("round %d: %d entries, %d reported durable, repairs %v", round, n, len(reported), s.Recovered())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(reported) == 0 {
		t.Fatal("the child never reported an append")
	}
}
