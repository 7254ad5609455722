// Command sint-bench is the gateway's load generator. `sint-bench run`
// registers a trusted root, a delegation chain of the chosen depth and agent
// tokens through the operator API, then drives /v1/intercept from N
// concurrent clients for a duration and prints throughput and latency
// percentiles. `sint-bench floor` serves the floor handler of DESIGN.md (JSON
// parse, one Ed25519 verify, one sign) so both can be measured side by side
// with the same load generator. `sint-bench spike` opens a connection spike
// (scripts/rss-spike.sh measures the gateway's memory around it).
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/valyala/fasthttp"

	"github.com/sintgate/sintgate/tokens"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "floor":
		err = floorCmd(os.Args[2:])
	case "spike":
		err = spikeCmd(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sint-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  sint-bench run   --url URL --api-key KEY [--clients 16] [--duration 10s] [--depth 3] [--deny 0] [--agents 16] [--floor]
  sint-bench floor --listen 127.0.0.1:8089
  sint-bench spike --url URL --api-key KEY [--conns 5000] [--dial 256] [--hold 1s] [--timeout 60s]
`)
	os.Exit(2)
}

type agent struct {
	priv    ed25519.PrivateKey
	id      string
	tokenID string
}

func newKey() (ed25519.PrivateKey, string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return priv, hex.EncodeToString(pub)
}

type bench struct {
	url, apiKey string
	http        *http.Client
}

func (b *bench) admin(ctx context.Context, method, path string, in any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, rb)
	}
	return nil
}

// setup registers a root and, per agent, a chain of the given depth whose
// leaf is the agent's token.
func (b *bench) setup(ctx context.Context, nAgents, depth int) ([]agent, error) {
	rootPriv, rootPub := newKey()
	if err := b.admin(ctx, "POST", "/v1/roots", map[string]string{"publicKey": rootPub, "name": "sint-bench"}); err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	vel := 1.0
	agents := make([]agent, nAgents)
	for i := range agents {
		issuerPriv, issuerPub := rootPriv, rootPub
		chain := []string{rootPub}
		var parent *tokens.Token
		var leafPriv ed25519.PrivateKey
		var leafPub string
		for d := 0; d <= depth; d++ {
			subPriv, subPub := newKey()
			c := tokens.Claims{
				TokenID: uuid.Must(uuid.NewV7()).String(), Issuer: issuerPub, Subject: subPub,
				Resource: "ros:///**", Actions: []string{"publish", "subscribe"},
				Constraints: tokens.Constraints{MaxVelocityMps: &vel}, Tier: 3,
				IssuedAt: now, ExpiresAt: now + 24*3600*1000, DelegationChain: append([]string(nil), chain...),
				Nonce: uuid.Must(uuid.NewRandom()).String(), Revocable: true,
			}
			if parent != nil {
				pid := parent.Claims.TokenID
				c.ParentTokenID = &pid
			}
			t, err := tokens.Sign(issuerPriv, c)
			if err != nil {
				return nil, err
			}
			if err := b.admin(ctx, "POST", "/v1/tokens", map[string]string{"token": t.Raw}); err != nil {
				return nil, err
			}
			parent = t
			chain = append(chain, subPub)
			issuerPriv, issuerPub = subPriv, subPub
			leafPriv, leafPub = subPriv, subPub
		}
		agents[i] = agent{priv: leafPriv, id: leafPub, tokenID: parent.Claims.TokenID}
	}
	return agents, nil
}

// request builds one signed intercept into a fasthttp request: the body is
// appended by hand and signed with the same Ed25519 code the gateway
// verifies with, so the generator spends little of the machine's CPU.
// deny makes it exceed the velocity limit.
func request(req *fasthttp.Request, a agent, deny bool) {
	x := "0.4"
	if deny {
		x = "1.5"
	}
	ts := time.Now().UnixMilli()
	var body []byte
	body = append(body, `{"requestId":"`...)
	body = append(body, uuid.Must(uuid.NewV7()).String()...)
	body = append(body, `","agentId":"`...)
	body = append(body, a.id...)
	body = append(body, `","timestamp":`...)
	body = strconv.AppendInt(body, ts, 10)
	body = append(body, `,"tokenId":"`...)
	body = append(body, a.tokenID...)
	body = append(body, `","resource":"ros:///cmd_vel","action":"publish","params":{"linear":{"x":`...)
	body = append(body, x...)
	body = append(body, `,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}}`...)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.Header.Set("X-Agent-Id", a.id)
	req.Header.Set("X-Agent-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Agent-Sig", base64.RawURLEncoding.EncodeToString(voi.Sign(voi.PrivateKey(a.priv), body)))
	req.SetBodyRaw(body)
}

type result struct {
	lat    []time.Duration
	counts map[string]int
	errs   int
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", envOr("SINT_URL", "http://127.0.0.1:8080"), "gateway URL")
	apiKey := fs.String("api-key", os.Getenv("SINT_API_KEY"), "admin API key (registers the root and tokens)")
	clients := fs.Int("clients", 16, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "run time")
	depth := fs.Int("depth", 3, "token chain depth 0..3")
	deny := fs.Float64("deny", 0, "fraction of requests that exceed the velocity limit (denied)")
	nAgents := fs.Int("agents", 16, "distinct agents")
	floor := fs.Bool("floor", false, "the target is `sint-bench floor` (no setup)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	_ = fs.Parse(args)
	if *depth < 0 || *depth > 3 {
		return errors.New("--depth must be 0..3")
	}
	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2, IdleConnTimeout: time.Minute}
	b := &bench{url: *url, apiKey: *apiKey, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var agents []agent
	if *floor {
		for range *nAgents {
			priv, pub := newKey()
			agents = append(agents, agent{priv: priv, id: pub, tokenID: uuid.Must(uuid.NewV7()).String()})
		}
	} else {
		var err error
		fmt.Fprintf(os.Stderr, "setting up %d agents with depth-%d chains…\n", *nAgents, *depth)
		if agents, err = b.setup(ctx, *nAgents, *depth); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	target := strings.TrimSuffix(*url, "/") + "/v1/intercept"
	hc := &fasthttp.Client{MaxConnsPerHost: *clients, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	fmt.Fprintf(os.Stderr, "running %d clients for %s against %s\n", *clients, *duration, *url)
	deadline := time.Now().Add(*duration)
	results := make([]result, *clients)
	var done atomic.Int64
	var wg sync.WaitGroup
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	go func() {
		last := int64(0)
		for range progress.C {
			n := done.Load()
			fmt.Fprintf(os.Stderr, "\r%8d requests, %7d/s", n, n-last)
			last = n
		}
	}()
	start := time.Now()
	for c := range *clients {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := result{counts: map[string]int{}}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			i := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				a := agents[(c+i*(*clients))%len(agents)]
				i++
				isDeny := *deny > 0 && float64(i%1000)/1000 < *deny
				req.Reset()
				req.SetRequestURI(target)
				request(req, a, isDeny)
				t0 := time.Now()
				if err := hc.Do(req, resp); err != nil {
					r.errs++
					continue
				}
				var d struct {
					Decision string  `json:"decision"`
					Code     *string `json:"code"`
				}
				_ = json.Unmarshal(resp.Body(), &d)
				r.lat = append(r.lat, time.Since(t0))
				k := d.Decision
				if d.Code != nil {
					k += ":" + *d.Code
				}
				r.counts[k]++
				done.Add(1)
			}
			results[c] = r
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintln(os.Stderr)
	var all []time.Duration
	counts := map[string]int{}
	errs := 0
	for _, r := range results {
		all = append(all, r.lat...)
		for k, v := range r.counts {
			counts[k] += v
		}
		errs += r.errs
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	sum := map[string]any{
		"requests": len(all), "errors": errs, "seconds": elapsed.Seconds(),
		"throughput": float64(len(all)) / elapsed.Seconds(), "clients": *clients, "depth": *depth,
		"p50_ms": ms(pct(0.50)), "p90_ms": ms(pct(0.90)), "p99_ms": ms(pct(0.99)), "max_ms": ms(pct(1)),
		"decisions": counts,
	}
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(sum)
	}
	fmt.Printf("requests %d in %.1fs: %.0f decisions/s (errors %d)\n", len(all), elapsed.Seconds(), sum["throughput"], errs)
	fmt.Printf("latency p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", sum["p50_ms"], sum["p90_ms"], sum["p99_ms"], sum["max_ms"])
	fmt.Printf("decisions %v\n", counts)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// floorCmd serves the floor: the unavoidable work of any gateway (parse the
// JSON body, verify the agent's signature, sign an answer).
func floorCmd(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8089", "listen address")
	_ = fs.Parse(args)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/v1/intercept", func(c *fiber.Ctx) error {
		var req struct {
			RequestID string          `json:"requestId"`
			AgentID   string          `json:"agentId"`
			Timestamp int64           `json:"timestamp"`
			TokenID   string          `json:"tokenId"`
			Resource  string          `json:"resource"`
			Action    string          `json:"action"`
			Params    json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(c.Body(), &req); err != nil {
			return c.Status(400).JSON(fiber.Map{"decision": "deny"})
		}
		pub, err := hex.DecodeString(c.Get("X-Agent-Id"))
		sig, err2 := base64.RawURLEncoding.DecodeString(c.Get("X-Agent-Sig"))
		if err != nil || err2 != nil || len(pub) != 32 || !tokens.VerifySig(pub, c.Body(), sig) {
			return c.Status(401).JSON(fiber.Map{"decision": "deny"})
		}
		att := base64.RawURLEncoding.EncodeToString(voi.Sign(voi.PrivateKey(priv), []byte(req.RequestID+req.Resource)))
		return c.JSON(fiber.Map{"requestId": req.RequestID, "decision": "allow", "attestation": att})
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "floor listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = app.Shutdown() }()
	return app.Listener(ln)
}
