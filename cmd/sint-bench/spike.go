package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// spikeCmd is `sint-bench spike`: a connection spike. It opens --conns
// connections (at most --dial of them being set up at once), sends one
// signed allow-path intercept on each and reads its decision, holds every
// connection open until all have answered plus --hold, then closes them
// all at once and exits. It is bounded by --timeout and stops by itself;
// scripts/rss-spike.sh measures the gateway's RSS around it.
func spikeCmd(args []string) error {
	fs := flag.NewFlagSet("spike", flag.ExitOnError)
	url := fs.String("url", envOr("SINT_URL", "http://127.0.0.1:8080"), "gateway URL")
	apiKey := fs.String("api-key", os.Getenv("SINT_API_KEY"), "admin API key (registers the root and tokens)")
	conns := fs.Int("conns", 5000, "connections to open")
	dial := fs.Int("dial", 256, "connections being set up at once")
	hold := fs.Duration("hold", time.Second, "how long every connection stays open after the last answer")
	timeout := fs.Duration("timeout", 60*time.Second, "bound on the whole spike")
	nAgents := fs.Int("agents", 16, "distinct agents")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	b := &bench{url: *url, apiKey: *apiKey, http: &http.Client{Timeout: 30 * time.Second}}
	agents, err := b.setup(ctx, *nAgents, 3)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	host := strings.TrimPrefix(strings.TrimPrefix(*url, "http://"), "https://")
	host = strings.TrimSuffix(host, "/")
	var (
		mu       sync.Mutex
		open     []net.Conn
		counts   = map[string]int{}
		errs     atomic.Int64
		answered sync.WaitGroup
		slots    = make(chan struct{}, *dial)
	)
	start := time.Now()
	for i := range *conns {
		answered.Add(1)
		slots <- struct{}{}
		go func(i int) {
			defer answered.Done()
			defer func() { <-slots }()
			c, k, err := spikeOne(ctx, host, agents[i%len(agents)])
			if err != nil {
				errs.Add(1)
				return
			}
			mu.Lock()
			open = append(open, c)
			counts[k]++
			mu.Unlock()
		}(i)
	}
	answered.Wait()
	allOpen := time.Since(start)
	select {
	case <-time.After(*hold):
	case <-ctx.Done():
	}
	for _, c := range open {
		_ = c.Close()
	}
	out, _ := json.Marshal(map[string]any{
		"conns": *conns, "open": len(open), "errors": errs.Load(), "decisions": counts,
		"allAnsweredMs": allOpen.Milliseconds(), "heldMs": hold.Milliseconds(),
	})
	fmt.Println(string(out))
	if ctx.Err() != nil {
		return fmt.Errorf("spike: %w", ctx.Err())
	}
	if len(open) != *conns {
		return errors.New("not every connection got its decision")
	}
	return nil
}

// spikeOne opens a connection, sends one signed intercept on it and reads
// the decision; the connection stays open (keep-alive) for the caller.
func spikeOne(ctx context.Context, host string, a agent) (net.Conn, string, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, "", err
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + host + "/v1/intercept")
	request(req, a, false)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	if err := req.Write(w); err != nil {
		c.Close()
		return nil, "", err
	}
	if err := w.Flush(); err != nil {
		c.Close()
		return nil, "", err
	}
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		c.Close()
		return nil, "", err
	}
	_ = c.SetDeadline(time.Time{})
	var dec struct {
		Decision string  `json:"decision"`
		Code     *string `json:"code"`
	}
	_ = json.Unmarshal(resp.Body(), &dec)
	k := dec.Decision
	if dec.Code != nil {
		k += ":" + *dec.Code
	}
	return c, k, nil
}
