package filestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
)

// GenOptions configure Generate.
type GenOptions struct {
	// Signer signs a checkpoint every CheckpointEvery entries and one
	// covering every entry at the end. Required.
	Signer ledger.CheckpointSigner
	// CheckpointEvery is the spacing of checkpoint entries (default 10,000,
	// the gateway's --checkpoint-entries default).
	CheckpointEvery uint64
	// Start is the first entry's timestamp; entries are 1 ms apart (a
	// gateway deciding 1,000 actions/s). Default 2026-01-01T00:00:00Z.
	Start time.Time
	// Small writes a minimal payload ({"i":n}) instead of an allow
	// decision's, for ledgers that must fit a small disk.
	Small bool
	// Seed makes event ids and agents reproducible.
	Seed uint64
	// Progress, if set, is called every 1,048,576 entries.
	Progress func(done uint64)
}

// Generate writes a valid store of n entries (n counts the checkpoint
// entries too) into an empty directory dir, directly: the same frames,
// stored hashes, offsets, event id index and mark that Append would leave,
// without a group commit per entry. Entries are gateway decisions
// ("policy.evaluated" with the allow payload's fields) and a signed
// "ledger.checkpoint" every CheckpointEvery entries; the last entry is a
// checkpoint covering every entry before it.
func Generate(ctx context.Context, dir string, n uint64, o GenOptions) (ledger.Checkpoint, error) {
	if o.Signer == nil {
		return ledger.Checkpoint{}, errors.New("filestore: Generate needs a checkpoint signer")
	}
	if n < 2 {
		return ledger.Checkpoint{}, errors.New("filestore: Generate needs at least 2 entries")
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 10000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ledger.Checkpoint{}, err
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		return ledger.Checkpoint{}, fmt.Errorf("filestore: Generate needs an empty directory (%v)", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var fs [5]*os.File
	for i, name := range []string{logName, hashName, offsName, idsName, markName} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return ledger.Checkpoint{}, err
		}
		files = append(files, f)
		fs[i] = f
	}
	logf, hashf, offf, idf, markf := fs[0], fs[1], fs[2], fs[3], fs[4]
	lw := bufio.NewWriterSize(logf, 4<<20)
	hw := bufio.NewWriterSize(hashf, 1<<20)
	ow := bufio.NewWriterSize(offf, 1<<20)
	ids := &idIndex{f: idf}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))

	var (
		front [64]struct {
			idx int64
			h   tlog.Hash
		} // latest node per level
		tb        ledger.TreeBuilder
		prev      = ledger.ZeroHash
		prevTS    string
		off       int64
		frame     []byte
		last      ledger.Checkpoint
		paramsH   = hex.EncodeToString(make([]byte, 32))
		policyH   = "5f2c8a0e4b1d6f3a9c7e2b8d4a6f1c3e5b7d9a2c4e6f8b1d3a5c7e9b2d4f6a8c"
		buf       []byte
		noConfirm = func(uint64, [16]byte) (bool, error) { return false, nil }
	)
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
	next:
		for i, x := range idx {
			for l := range front {
				if front[l].idx == x {
					out[i] = front[l].h
					continue next
				}
			}
			return nil, fmt.Errorf("filestore: Generate: stored hash %d not on the frontier", x)
		}
		return out, nil
	})
	for seq := uint64(1); seq <= n; seq++ {
		if seq%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return ledger.Checkpoint{}, err
			}
		}
		now := o.Start.Add(time.Duration(seq) * time.Millisecond)
		var p ledger.Prepared
		if seq%o.CheckpointEvery == 0 || seq == n {
			c, err := ledger.SignCheckpoint(o.Signer, seq-1, tb.Root(), now)
			if err != nil {
				return ledger.Checkpoint{}, err
			}
			pl, err := ledger.CanonicalPayload(c)
			if err != nil {
				return ledger.Checkpoint{}, err
			}
			p = ledger.Prepared{Event: ledger.Event{EventType: ledger.EventTypeCheckpoint, AgentID: ledger.AgentSystem}, Payload: pl}
			last = c
		} else {
			agent := "agent-" + strconv.Itoa(int(rng.Uint32()%64))
			if o.Small {
				buf = append(append(append(buf[:0], `{"i":`...), strconv.FormatUint(seq, 10)...), '}')
			} else {
				buf = append(buf[:0], `{"action":"move","agentId":"`...)
				buf = append(buf, agent...)
				buf = append(buf, `","code":null,"decision":"allow","paramsHash":"`...)
				buf = append(buf, paramsH...)
				buf = append(buf, `","policyHash":"`...)
				buf = append(buf, policyH...)
				buf = append(buf, `","requestId":"`...)
				buf = append(buf, genUUID(rng, now)...)
				buf = append(buf, `","resource":"ros2:///cmd_vel","stage":13,"tier":1}`...)
			}
			p = ledger.Prepared{Event: ledger.Event{EventType: "policy.evaluated", AgentID: agent, TokenID: "tok-" + agent}, Payload: append([]byte(nil), buf...)}
		}
		idStr := genUUID(rng, now)
		e, enc := p.Next(seq, idStr, prev, prevTS, now)
		raw, _ := ledger.RawHash(e.Hash)
		var id [16]byte
		if _, err := hex.Decode(id[:], []byte(idStr[0:8]+idStr[9:13]+idStr[14:18]+idStr[19:23]+idStr[24:])); err != nil {
			return ledger.Checkpoint{}, err
		}
		frame = appendFrame(frame[:0], id, raw, enc)
		if _, err := lw.Write(frame); err != nil {
			return ledger.Checkpoint{}, err
		}
		var ob [8]byte
		binary.LittleEndian.PutUint64(ob[:], uint64(off))
		if _, err := ow.Write(ob[:]); err != nil {
			return ledger.Checkpoint{}, err
		}
		off += int64(len(frame))
		hs, err := tlog.StoredHashes(int64(seq-1), raw[:], reader)
		if err != nil {
			return ledger.Checkpoint{}, err
		}
		for l, h := range hs {
			front[l].idx = tlog.StoredHashIndex(l, int64(seq-1)>>l)
			front[l].h = h
			if _, err := hw.Write(h[:]); err != nil {
				return ledger.Checkpoint{}, err
			}
		}
		tb.Append(hs[0])
		if err := ids.insert(id, seq, noConfirm); err != nil {
			return ledger.Checkpoint{}, err
		}
		prev, prevTS = e.Hash, e.Timestamp
		if o.Progress != nil && seq%(1<<20) == 0 {
			o.Progress(seq)
		}
	}
	for _, w := range []*bufio.Writer{lw, hw, ow} {
		if err := w.Flush(); err != nil {
			return ledger.Checkpoint{}, err
		}
	}
	for _, f := range []*os.File{logf, hashf, offf, idf} {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return ledger.Checkpoint{}, err
		}
	}
	var mb [8]byte
	binary.LittleEndian.PutUint64(mb[:], n)
	if _, err := markf.WriteAt(mb[:], 0); err != nil {
		return ledger.Checkpoint{}, err
	}
	if err := syscall.Fdatasync(int(markf.Fd())); err != nil {
		return ledger.Checkpoint{}, err
	}
	return last, syncDir(dir)
}

// genUUID is a UUIDv7 string for time t with random bits from rng.
func genUUID(rng *rand.Rand, t time.Time) string {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|rng.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], rng.Uint64())
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
