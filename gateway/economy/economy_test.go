package economy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
)

var prices = store.Prices{
	Tiers: map[string]int64{"2": 1, "3": 5},
	Resources: []store.ResourcePrice{
		{Pattern: "ros:///arm/*", Action: "call", Price: 20},
		{Pattern: "ros:///arm/*", Price: 10},
		{Pattern: "ros:///free", Price: 0},
	},
}

func TestPrice(t *testing.T) {
	cases := []struct {
		name             string
		resource, action string
		tier             int
		want             int64
	}{
		{"resource/action-specific", "ros:///arm/joint1", "call", 3, 20},
		{"resource/any-action", "ros:///arm/joint1", "publish", 3, 10},
		{"resource/free-beats-tier", "ros:///free", "publish", 3, 0},
		{"tier/3", "ros:///cmd_vel", "publish", 3, 5},
		{"tier/unpriced", "ros:///cmd_vel", "publish", 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Price(&prices, c.resource, c.action, c.tier); got != c.want {
				t.Fatalf("Price = %d, want %d", got, c.want)
			}
		})
	}
	if Price(nil, "x", "y", 3) != 0 {
		t.Fatal("nil price list charges")
	}
}

var validateCases = []struct {
	name string
	p    store.Prices
	ok   bool
}{
	{"ok/example", prices, true},
	{"ok/empty", store.Prices{}, true},
	{"bad/tier-0", store.Prices{Tiers: map[string]int64{"0": 1}}, false},
	{"bad/tier-leading-zero", store.Prices{Tiers: map[string]int64{"03": 1}}, false},
	{"bad/negative", store.Prices{Tiers: map[string]int64{"1": -1}}, false},
	{"bad/pattern", store.Prices{Resources: []store.ResourcePrice{{Pattern: "not a pattern", Price: 1}}}, false},
}

func TestValidate(t *testing.T) {
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			if err := Validate(&c.p); (err == nil) != c.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, c := range validateCases {
		b, _ := json.Marshal(c.p)
		f.Add(b, "ros:///arm/x", "call", 3)
	}
	f.Fuzz(func(t *testing.T, raw []byte, resource, action string, tier int) {
		var p store.Prices
		if json.Unmarshal(raw, &p) != nil || Validate(&p) != nil {
			return
		}
		if got := Price(&p, resource, action, tier); got < 0 || got > MaxPrice {
			t.Fatalf("validated list priced %d", got)
		}
	})
}

func TestServiceCharge(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	s := &Service{Store: st}
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPrices(ctx, prices, now); err != nil {
		t.Fatal(err)
	}
	req := func(id string) *gateway.Request {
		return &gateway.Request{InterceptRequest: api.InterceptRequest{RequestID: id, AgentID: "agent", Resource: "ros:///cmd_vel", Action: "publish"}}
	}
	t.Run("deny/no-budget", func(t *testing.T) {
		_, err := s.Charge(ctx, req("r0"), 3, now)
		if codes.Of(err) != codes.InsufficientBalance {
			t.Fatalf("err = %v", err)
		}
	})
	if _, _, err := st.SetBalance(ctx, "agent", 7, "b", "", now); err != nil {
		t.Fatal(err)
	}
	t.Run("allow/charged", func(t *testing.T) {
		c, err := s.Charge(ctx, req("r1"), 3, now)
		if err != nil || c.Amount != 5 || c.Balance != 2 {
			t.Fatalf("%+v %v", c, err)
		}
		again, err := s.Charge(ctx, req("r1"), 3, now)
		if err != nil || again.TxID != c.TxID || again.Balance != 2 {
			t.Fatalf("retry charged again: %+v %v", again, err)
		}
		if err := s.Refund(ctx, c, now); err != nil {
			t.Fatal(err)
		}
		acc, _ := st.GetAccount(ctx, "agent")
		if acc.Balance != 7 {
			t.Fatalf("balance after refund %d", acc.Balance)
		}
	})
	t.Run("retry/after-refund-charged-anew", func(t *testing.T) {
		// r1 was charged and refunded above: an attempt that is delivered
		// this time pays, under the next key, and its retries replay it.
		c, err := s.Charge(ctx, req("r1"), 3, now)
		if err != nil || c.Key != InterceptKey("r1")+"#2" || c.Balance != 2 {
			t.Fatalf("%+v %v", c, err)
		}
		again, err := s.Charge(ctx, req("r1"), 3, now)
		if err != nil || again.TxID != c.TxID {
			t.Fatalf("retry: %+v %v", again, err)
		}
		if err := s.Refund(ctx, c, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("free/no-store-write", func(t *testing.T) {
		c, err := s.Charge(ctx, req("r2"), 1, now)
		if err != nil || c.Amount != 0 {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("prices/stale-version-conflict", func(t *testing.T) {
		if _, err := s.SetPrices(ctx, prices, now); err == nil {
			t.Fatal("stale version accepted")
		}
	})
}

// BenchmarkChargeEmbedded is one priced intercept's charge on the durable
// embedded store (one bbolt commit with fsync per charge when alone).
func BenchmarkChargeEmbedded(b *testing.B) { benchCharge(b, false) }

// BenchmarkChargeSettleEmbedded adds the settle that follows a delivered
// allow (a second, group-committed store write).
func BenchmarkChargeSettleEmbedded(b *testing.B) { benchCharge(b, true) }

func benchCharge(b *testing.B, settle bool) {
	st, err := embedded.Open(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := b.Context()
	now := time.Unix(1_700_000_000, 0)
	s := &Service{Store: st}
	if _, err := s.SetPrices(ctx, prices, now); err != nil {
		b.Fatal(err)
	}
	if _, _, err := st.SetBalance(ctx, "agent", 1<<40, "b", "", now); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(time.Now().UnixNano(), rand.Int64())
			r := &gateway.Request{InterceptRequest: api.InterceptRequest{RequestID: id, AgentID: "agent", Resource: "ros:///cmd_vel", Action: "publish"}}
			c, err := s.Charge(ctx, r, 3, now)
			if err != nil {
				b.Error(err)
				return
			}
			if settle {
				if err := s.Settle(ctx, c); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}

func BenchmarkPrice(b *testing.B) {
	for b.Loop() {
		_ = Price(&prices, "ros:///cmd_vel", "publish", 3)
	}
}

func TestServiceRefreshesOtherReplicasPrices(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	a, b := &Service{Store: st}, &Service{Store: st}
	if err := b.LoadAt(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetPrices(ctx, prices, now); err != nil {
		t.Fatal(err)
	}
	r := &gateway.Request{InterceptRequest: api.InterceptRequest{RequestID: "r", AgentID: "x", Resource: "ros:///cmd_vel", Action: "publish"}}
	if c, err := b.Charge(ctx, r, 3, now.Add(time.Second)); err != nil || c.Amount != 0 {
		t.Fatalf("fresh cache refreshed early: %+v %v", c, err)
	}
	_, _ = b.Charge(ctx, r, 3, now.Add(DefaultRefresh+time.Second)) // starts the reload
	deadline := time.Now().Add(10 * time.Second)
	for b.Prices().Version != 1 {
		if time.Now().After(deadline) {
			t.Fatal("replica b never picked up the new price list")
		}
		time.Sleep(time.Millisecond)
	}
}
