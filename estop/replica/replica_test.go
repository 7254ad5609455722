package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/internal/testenv"
)

// memBus is an in-memory broadcast bus; Gap injects a subscription break.
type memBus struct {
	mu   sync.Mutex
	subs []chan Delivery
}

func (m *memBus) Publish(_ context.Context, msg []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s <- Delivery{Msg: append([]byte(nil), msg...)}
	}
	return nil
}

func (m *memBus) Subscribe(ctx context.Context) (<-chan Delivery, error) {
	ch := make(chan Delivery, 256)
	m.mu.Lock()
	m.subs = append(m.subs, ch)
	m.mu.Unlock()
	return ch, nil
}

func (m *memBus) Gap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s <- Delivery{Gap: true}
	}
}

// Resume tells every subscriber the subscription is back.
func (m *memBus) Resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s <- Delivery{Resumed: true}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type node struct {
	b *estop.Breaker
	f *Fanout
}

func cluster(t *testing.T, bus Bus, ids ...string) []node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var out []node
	for _, id := range ids {
		f := New(bus, id, Config{}, nil)
		b := estop.NewBreaker(estop.WithRecorder(f.Recorder(nil)))
		f.Attach(b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Run(ctx)
		}()
		select {
		case <-f.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("fan-out never subscribed")
		}
		out = append(out, node{b: b, f: f})
	}
	return out
}

var api = estop.Source{ID: "operator:alice", Kind: estop.KindAPI}

func testFanout(t *testing.T, newBus func(t *testing.T) Bus) {
	t.Run("trip/propagates", func(t *testing.T) {
		n := cluster(t, newBus(t), "a", "b", "c")
		n[0].b.Trip(context.Background(), api, "smoke")
		for i := 1; i < 3; i++ {
			waitFor(t, "replica trip", func() bool { return n[i].b.Tripped() })
			s := n[i].b.Snapshot()
			if len(s.Sources) != 1 || s.Sources[0].Kind != estop.KindReplica || s.Sources[0].ID != "a/1" {
				t.Fatalf("replica %d sources %+v", i, s.Sources)
			}
		}
		time.Sleep(30 * time.Millisecond)
		if s := n[0].b.Snapshot(); len(s.Sources) != 1 {
			t.Fatalf("the origin got its own trip back: %+v", s.Sources)
		}
	})
	t.Run("reset/propagates-when-acknowledged", func(t *testing.T) {
		n := cluster(t, newBus(t), "a", "b")
		n[0].b.Trip(context.Background(), api, "smoke")
		waitFor(t, "b trips", func() bool { return n[1].b.Tripped() })
		if _, err := n[1].b.Reset(context.Background(), "operator:bob", "clear"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a re-arms", func() bool { return !n[0].b.Tripped() })
	})
	t.Run("deny/reset-does-not-clear-unseen-trip", func(t *testing.T) {
		n := cluster(t, newBus(t), "a", "b")
		n[0].b.Trip(context.Background(), api, "first")
		waitFor(t, "b trips", func() bool { return n[1].b.Tripped() })
		// b resets knowing only a/1; meanwhile a has a second, local latched trip
		n[0].b.Trip(context.Background(), estop.Source{ID: "GPIO17", Kind: estop.KindGPIO}, "button")
		n[1].b.Reset(context.Background(), "operator:bob", "clear")
		time.Sleep(50 * time.Millisecond)
		if !n[0].b.Tripped() {
			t.Fatal("a remote reset cleared a held button")
		}
	})
	t.Run("trip/gap-trips", func(t *testing.T) {
		bus, ok := newBus(t).(*memBus)
		if !ok {
			t.Skip("gap injection needs the in-memory bus")
		}
		n := cluster(t, bus, "a")
		bus.Gap()
		waitFor(t, "trip on gap", func() bool { return n[0].b.Tripped() })
		if src := n[0].b.Snapshot().Sources[0]; src.ID != "bus" || src.Kind != estop.KindReplica {
			t.Fatalf("source %+v", src)
		}
	})
	t.Run("gap/latches-until-resumed-and-cleared", func(t *testing.T) {
		bus, ok := newBus(t).(*memBus)
		if !ok {
			t.Skip("gap injection needs the in-memory bus")
		}
		n := cluster(t, bus, "a", "b")
		bus.Gap()
		waitFor(t, "both trip on the gap", func() bool { return n[0].b.Tripped() && n[1].b.Tripped() })
		_, gen := n[0].f.BusState()
		if _, err := n[0].b.Reset(context.Background(), "operator:alice", "too early"); err == nil {
			t.Fatal("a reset re-armed a replica whose bus is down")
		}
		if n[0].f.ClearGap(gen) {
			t.Fatal("ClearGap cleared the gap while the bus is down")
		}
		bus.Resume()
		waitFor(t, "bus up", func() bool { up, _ := n[0].f.BusState(); return up })
		bus.Gap() // a newer gap: the catch-up that began before it proves nothing
		waitFor(t, "second gap seen", func() bool { _, g := n[0].f.BusState(); return g > gen })
		bus.Resume()
		waitFor(t, "bus up again", func() bool { up, _ := n[0].f.BusState(); return up })
		if n[0].f.ClearGap(gen) {
			t.Fatal("ClearGap with the generation of an older gap cleared a newer one")
		}
		_, gen = n[0].f.BusState()
		if !n[0].f.ClearGap(gen) {
			t.Fatal("ClearGap refused with the bus up and no newer gap")
		}
		if l := n[0].b.Snapshot().Latched(); len(l) != 0 {
			t.Fatalf("still latched after ClearGap: %+v", l)
		}
		if _, err := n[0].b.Reset(context.Background(), "operator:alice", "bus back"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if !n[1].b.Tripped() {
			t.Fatal("a's reset re-armed b over the bus although b's own gap is still latched")
		}
		if ids := n[1].f.TripIDs(n[1].b.Snapshot()); len(ids) != 1 || ids[0] != "b/bus/1" || !n[1].f.IsGapID(ids[0]) || n[0].f.IsGapID(ids[0]) {
			t.Fatalf("b's trip ids %v, want its own gap id b/bus/1", ids)
		}
	})
}

func TestFanoutMemory(t *testing.T) {
	testFanout(t, func(t *testing.T) Bus { return &memBus{} })
}

func TestFanoutRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	testFanout(t, func(t *testing.T) Bus {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		var rnd [6]byte
		rand.Read(rnd[:])
		return RedisBus{Client: c, Channel: "sintgate:estop:test:" + hex.EncodeToString(rnd[:])}
	})
}

// TestRedisGapTrips kills this test's own pub/sub connection on the Redis
// server: the replica must trip (trips may have been missed meanwhile).
func TestRedisGapTrips(t *testing.T) {
	addr := testenv.RedisAddr(t)
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "sint-estop-gap-" + hex.EncodeToString(rnd[:])
	c := redis.NewClient(&redis.Options{Addr: addr, ClientName: name})
	defer c.Close()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	n := cluster(t, RedisBus{Client: c, Channel: "sintgate:estop:test:" + name}, "a")
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+name+" ") && strings.Contains(line, "sub=1") {
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok {
					if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
			}
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d pub/sub connections named %s, want 1:\n%s", killed, name, list)
	}
	waitFor(t, "trip on a broken subscription", func() bool { return n[0].b.Tripped() })
	if src := n[0].b.Snapshot().Sources[0]; src.ID != "bus" || src.State != estop.SourceTripped {
		t.Fatalf("source %+v, want bus latched", src)
	}
	// go-redis resubscribes on the next receive: the fan-out learns the
	// subscription is back (Resumed), and only then can the gap clear.
	waitFor(t, "the subscription to be back", func() bool { up, _ := n[0].f.BusState(); return up })
	_, gen := n[0].f.BusState()
	if !n[0].f.ClearGap(gen) {
		t.Fatal("ClearGap refused with the subscription back")
	}
	if _, err := n[0].b.Reset(context.Background(), "operator:alice", "bus back"); err != nil {
		t.Fatal(err)
	}
}

func TestRedisSubscribeFails(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (RedisBus{Client: c}).Subscribe(ctx); err == nil {
		t.Fatal("subscribe to a dead Redis succeeded")
	}
}

// TestResetNeedsEveryTripAcknowledged applies reset messages directly.
func TestResetNeedsEveryTripAcknowledged(t *testing.T) {
	f := New(&memBus{}, "a", Config{}, nil)
	b := estop.NewBreaker(estop.WithRecorder(f.Recorder(nil)))
	f.Attach(b)
	ctx := context.Background()
	b.Trip(ctx, api, "a trips")                                                   // a/1
	b.Trip(ctx, estop.Source{ID: "c/4", Kind: estop.KindReplica}, "replica c: x") // c's trip
	msg := func(acks ...string) Delivery {
		return Delivery{Msg: []byte(`{"type":"reset","origin":"b","reason":"clear","acks":` + jsonList(acks) + `}`)}
	}
	tests := []struct {
		name    string
		d       Delivery
		tripped bool
	}{
		{"deny/missing-c", msg("a/1"), true},
		{"deny/missing-own", msg("c/4"), true},
		{"deny/own-reset-echo", Delivery{Msg: []byte(`{"type":"reset","origin":"a","acks":["a/1","c/4"]}`)}, true},
		{"deny/garbage", Delivery{Msg: []byte(`{"type":`)}, true},
		{"allow/all-acknowledged", msg("a/1", "c/4", "z/9"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.apply(ctx, b, tc.d)
			if b.Tripped() != tc.tripped {
				t.Fatalf("tripped %v, want %v", b.Tripped(), tc.tripped)
			}
		})
	}
}

func jsonList(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += `"` + v + `"`
	}
	return out + "]"
}

// FuzzApply feeds arbitrary bus messages to a replica whose button is held:
// nothing may panic, and no message can re-arm it.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"type":"reset","origin":"b","reason":"clear","acks":["a/1"]}`))
	f.Add([]byte(`{"type":"trip","origin":"b","tripId":"b/3","reason":"x"}`))
	f.Add([]byte(`{"type":"reset","origin":"b","acks":["a/1","b/3"]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fo := New(&memBus{}, "a", Config{}, nil)
		b := estop.NewBreaker(estop.WithRecorder(fo.Recorder(nil)))
		fo.Attach(b)
		b.Trip(context.Background(), estop.Source{ID: "GPIO17", Kind: estop.KindGPIO}, "held")
		fo.apply(context.Background(), b, Delivery{Msg: msg})
		if !b.Tripped() {
			t.Fatalf("message %q re-armed a breaker with a held button", msg)
		}
	})
}
