package tlogarchive

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
)

func lines(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"i":%d}`, i)
	}
	return out
}

// TestBundles: the C2SP path of a bundle, a round trip, immutability, and
// the errors of a missing or short bundle.
func TestBundles(t *testing.T) {
	dir := t.TempDir()
	if got, want := BundlePath(dir, 1234067), filepath.Join(dir, "tile/entries/x001/x234/067"); got != want {
		t.Fatalf("path %s, want %s", got, want)
	}
	if err := WriteBundle(dir, 3, lines(BundleSize)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBundle(dir, 3)
	if err != nil || len(got) != BundleSize || string(got[255]) != `{"i":255}` {
		t.Fatalf("read back %d %v", len(got), err)
	}
	if err := WriteBundle(dir, 3, lines(BundleSize)); err != nil {
		t.Fatalf("identical rewrite: %v", err)
	}
	other := lines(BundleSize)
	other[7] = []byte(`{"i":-7}`)
	if err := WriteBundle(dir, 3, other); err == nil {
		t.Fatal("an archive file was overwritten with other content")
	}
	if err := WriteBundle(dir, 4, lines(10)); err == nil {
		t.Fatal("a short bundle was written")
	}
	for name, n := range map[string]uint64{"missing": 9, "short": 5} {
		if name == "short" {
			os.WriteFile(BundlePath(dir, 5), []byte("{}\n{}\n"), 0o600)
		}
		if _, err := ReadBundle(dir, n); codes.Of(err) != codes.LedgerUnavailable {
			t.Errorf("%s bundle: %v", name, err)
		}
	}
}

// TestWriteTiles writes the tiles of a tree and checks them with
// tlog.TileHashReader against the tree hash; a second call writes none.
func TestWriteTiles(t *testing.T) {
	dir := t.TempDir()
	const n = 1000
	var stored []tlog.Hash
	for i := range int64(n) {
		hs, err := tlog.StoredHashes(i, fmt.Appendf(nil, "%d", i), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for k, x := range idx {
				out[k] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for k, x := range idx {
			out[k] = stored[x]
		}
		return out, nil
	})
	w, err := WriteTiles(dir, n, hr)
	if err != nil || w == 0 {
		t.Fatalf("wrote %d: %v", w, err)
	}
	th, _ := tlog.TreeHash(n, hr)
	thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: th}, dirTiles(dir))
	if _, err := tlog.ProveRecord(n, 517, thr); err != nil {
		t.Fatalf("proof from the tiles: %v", err)
	}
	if w, err := WriteTiles(dir, n, hr); err != nil || w != 0 {
		t.Fatalf("second call wrote %d: %v", w, err)
	}
}

type dirTiles string

func (d dirTiles) Height() int { return TileHeight }
func (d dirTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(t.Path())))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// FuzzReadBundle: any bundle file is either 256 lines or LEDGER_UNAVAILABLE.
func FuzzReadBundle(f *testing.F) {
	var b bytes.Buffer
	for _, l := range lines(BundleSize) {
		b.Write(l)
		b.WriteByte('\n')
	}
	f.Add(b.Bytes())
	f.Add([]byte("\n\n"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.MkdirAll(filepath.Dir(BundlePath(dir, 0)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(BundlePath(dir, 0), data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadBundle(dir, 0)
		if err != nil {
			if codes.Of(err) != codes.LedgerUnavailable {
				t.Fatalf("error code %v", err)
			}
			return
		}
		if len(got) != BundleSize {
			t.Fatalf("%d lines", len(got))
		}
	})
}
