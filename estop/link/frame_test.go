package link

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	tNow    = time.UnixMilli(1763928000000)
)

func codecs(t testing.TB) (gw, ctl *Codec) {
	t.Helper()
	gw, err := NewCodec(testKey, RoleGateway, 100, DefaultMaxSkew)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err = NewCodec(testKey, RoleController, 500, DefaultMaxSkew)
	if err != nil {
		t.Fatal(err)
	}
	return gw, ctl
}

// TestGolden pins the byte layout: every field's position is checked.
func TestGolden(t *testing.T) {
	gw, _ := codecs(t)
	b, err := gw.Seal(Heartbeat, tNow, []byte(`{"state":"armed"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"00000045" + // length of the rest: 20 header + 17 payload + 32 tag = 69
		"01" + // ver
		"01" + // type heartbeat
		"0000000000000065" + // seq 101 (seqStart 100 + 1)
		"0000019ab24d4600" + // unixMs 1763928000000
		"0011" + // payload length 17
		hex.EncodeToString([]byte(`{"state":"armed"}`)) +
		// HMAC-SHA256(HMAC-SHA256(testKey, "sintgate-estop/v1 gateway"), ver..payload)
		"b73553c4fcf731b4cddfe6b338869306486ea768cc6a338d51f437b2c17215a1"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	if len(b) != 4+69 {
		t.Fatalf("frame length %d", len(b))
	}
}

func TestOpen(t *testing.T) {
	seal := func(c *Codec, typ Type, at time.Time) []byte {
		b, err := c.Seal(typ, at, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return b[4:]
	}
	tests := []struct {
		name    string
		frames  func(gw, ctl *Codec) [][]byte // sent by the controller, opened by the gateway
		wantErr error                         // for the last frame
		counter func(s *Stats) uint64
	}{
		{name: "allow/valid", frames: func(gw, ctl *Codec) [][]byte { return [][]byte{seal(ctl, Heartbeat, tNow)} }},
		{name: "deny/replayed", wantErr: ErrReplayed, counter: func(s *Stats) uint64 { return s.Replayed.Load() },
			frames: func(gw, ctl *Codec) [][]byte { f := seal(ctl, Heartbeat, tNow); return [][]byte{f, f} }},
		{name: "deny/out-of-order", wantErr: ErrReplayed, counter: func(s *Stats) uint64 { return s.Replayed.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				a, b := seal(ctl, Heartbeat, tNow), seal(ctl, Heartbeat, tNow)
				return [][]byte{b, a}
			}},
		{name: "deny/bad-mac", wantErr: ErrBadMAC, counter: func(s *Stats) uint64 { return s.BadMAC.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				f := seal(ctl, Trip, tNow)
				f[len(f)-1] ^= 1
				return [][]byte{f}
			}},
		{name: "deny/forged-payload", wantErr: ErrBadMAC, counter: func(s *Stats) uint64 { return s.BadMAC.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				f := seal(ctl, Heartbeat, tNow)
				f[1] = byte(Trip) // flip the type, keep the tag
				return [][]byte{f}
			}},
		{name: "deny/wrong-key", wantErr: ErrBadMAC, counter: func(s *Stats) uint64 { return s.BadMAC.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				other, _ := NewCodec([]byte("another key of sixteen+ bytes"), RoleController, 1, 0)
				return [][]byte{seal(other, Trip, tNow)}
			}},
		{name: "deny/reflected-own-frame", wantErr: ErrBadMAC, counter: func(s *Stats) uint64 { return s.BadMAC.Load() },
			frames: func(gw, ctl *Codec) [][]byte { return [][]byte{seal(gw, StateFrame, tNow)} }},
		{name: "deny/stale", wantErr: ErrStale, counter: func(s *Stats) uint64 { return s.Stale.Load() },
			frames: func(gw, ctl *Codec) [][]byte { return [][]byte{seal(ctl, Heartbeat, tNow.Add(-time.Minute))} }},
		{name: "deny/truncated", wantErr: ErrMalformed, counter: func(s *Stats) uint64 { return s.Malformed.Load() },
			frames: func(gw, ctl *Codec) [][]byte { return [][]byte{seal(ctl, Heartbeat, tNow)[:30]} }},
		{name: "deny/unknown-type", wantErr: ErrMalformed, counter: func(s *Stats) uint64 { return s.Malformed.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				return [][]byte{sealWith(directionKey(testKey, RoleController), Frame{Ver: 1, Type: 9, Seq: 9999, UnixMs: tNow.UnixMilli()})[4:]}
			}},
		{name: "deny/unknown-version", wantErr: ErrMalformed, counter: func(s *Stats) uint64 { return s.Malformed.Load() },
			frames: func(gw, ctl *Codec) [][]byte {
				return [][]byte{sealWith(directionKey(testKey, RoleController), Frame{Ver: 2, Type: Heartbeat, Seq: 9999, UnixMs: tNow.UnixMilli()})[4:]}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw, ctl := codecs(t)
			fs := tc.frames(gw, ctl)
			var err error
			var f Frame
			for _, b := range fs {
				f, err = gw.Open(b, tNow)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if f.Type != Heartbeat || f.Seq != 501 || !bytes.Equal(f.Payload, []byte(`{}`)) {
					t.Fatalf("frame %+v", f)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open: %v, want %v", err, tc.wantErr)
			}
			if tc.counter(&gw.Stats) != 1 || gw.Stats.Dropped() != 1 {
				t.Fatalf("counters: this %d, dropped %d; want 1, 1", tc.counter(&gw.Stats), gw.Stats.Dropped())
			}
		})
	}
}

func TestReplayAfterRejectedFrameKeepsSequence(t *testing.T) {
	gw, ctl := codecs(t)
	good, _ := ctl.Seal(Heartbeat, tNow, nil)
	bad := append([]byte(nil), good...)
	// a forged frame with a huge sequence number must not advance the state
	bad[4+2] = 0xff
	if _, err := gw.Open(bad[4:], tNow); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := gw.Open(good[4:], tNow); err != nil {
		t.Fatalf("a forged high sequence number blocked the genuine frame: %v", err)
	}
}

func TestNewCodecShortKey(t *testing.T) {
	if _, err := NewCodec([]byte("short"), RoleGateway, 0, 0); err == nil {
		t.Fatal("short key accepted")
	}
}

// FuzzDecode feeds arbitrary bodies to the decoder and to Open: neither may
// panic, and Open must never accept a frame it did not get a valid tag for.
func FuzzDecode(f *testing.F) {
	_, ctl := codecs(f)
	for _, typ := range []Type{Heartbeat, Trip, StateFrame, ResetRequest} {
		b, _ := ctl.Seal(typ, tNow, []byte(`{"button":"pressed","reason":"x"}`))
		f.Add(b[4:])
	}
	f.Add([]byte{})
	f.Add(make([]byte, MinFrame))
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, tag, err := Decode(body)
		if err == nil {
			if len(tag) != macLen || headerLen+len(fr.Payload)+macLen != len(body) {
				t.Fatalf("inconsistent decode: %d payload, %d tag, %d body", len(fr.Payload), len(tag), len(body))
			}
		}
		gw, _ := codecs(t)
		if fr, err := gw.Open(body, tNow); err == nil {
			// only genuine frames (the seeds) may open
			re := sealWith(directionKey(testKey, RoleController), fr)
			if !bytes.Equal(re[4:], body) {
				t.Fatalf("Open accepted a frame that does not re-seal to itself")
			}
		}
	})
}
