package stopsem

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// The bridge-local reset input is a Unix socket (mode 0600: only the
// bridge's own user, or root, can connect). A client writes one line,
// "reset" optionally followed by a space and a reason, and reads one line
// back: "ok reset" (a fault latch was cleared), "ok not latched" (nothing
// to clear) or "error …". `sintctl bridge-reset --socket PATH` is such a
// client (SendReset).
const (
	MaxResetLine = 512
	resetTimeout = 5 * time.Second
)

// ServeReset listens on the Unix socket path (an existing socket file is
// replaced) and calls reset with the reason of every well-formed request
// until ctx ends; reset reports whether a fault latch was cleared. It
// returns once the socket is listening; the socket is removed when ctx
// ends.
func ServeReset(ctx context.Context, path string, reset func(reason string) bool) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("reset socket %s exists and is not a socket", path)
		}
		_ = os.Remove(path)
	}
	// Connecting needs write permission on the socket file: under the
	// usual umask (022) nobody else has it even before the chmod.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("reset socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("reset socket: %w", err)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveResetConn(c, reset)
		}
	}()
	return nil
}

func serveResetConn(c net.Conn, reset func(string) bool) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(resetTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, MaxResetLine), MaxResetLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	line = strings.TrimRight(line, "\r\n")
	cmd, reason, _ := strings.Cut(line, " ")
	if cmd != "reset" {
		_, _ = io.WriteString(c, "error want: reset [REASON]\n")
		return
	}
	if reason == "" {
		reason = "bridge-local reset"
	}
	if reset(reason) {
		_, _ = io.WriteString(c, "ok reset\n")
	} else {
		_, _ = io.WriteString(c, "ok not latched\n")
	}
}

// SendReset asks the bridge listening on the Unix socket path to reset
// (ServeReset) and returns its answer ("ok reset", "ok not latched").
func SendReset(ctx context.Context, path, reason string) (string, error) {
	if strings.ContainsAny(reason, "\r\n") {
		return "", errors.New("reset reason must be one line")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.Now().Add(resetTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	msg := "reset"
	if reason != "" {
		msg += " " + reason
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	ans, err := bufio.NewReader(io.LimitReader(c, MaxResetLine)).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reset: no answer: %w", err)
	}
	ans = strings.TrimRight(ans, "\n")
	if !strings.HasPrefix(ans, "ok") {
		return ans, errors.New("reset refused: " + ans)
	}
	return ans, nil
}
