// Package tlogarchive reads and writes ledger archive directories laid out
// like C2SP tlog-tiles: immutable files that can be served statically. Both
// ledger stores archive their sealed entries in this layout (filestore,
// pgledger), so one reader serves either:
//
//	checkpoint                the latest signed checkpoint note
//	tile/8/<L>/<N>[.p/<W>]    hash tiles of the archived tree (tlog.ReadTileData; H = 8)
//	tile/entries/<N>          entry bundle N: entries 256·N+1 … 256·N+256,
//	                          one canonical entry JSON per line (the NDJSON
//	                          export form; entries may exceed the 64 KiB of
//	                          a C2SP uint16-prefixed bundle)
//
// Files are written to a temporary name, synced, renamed and the directory
// synced; an existing immutable file must already hold the same bytes.
package tlogarchive

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
)

const (
	// BundleSize is the number of entries per entry bundle.
	BundleSize = 256
	// TileHeight is the height of the hash tiles.
	TileHeight = 8
)

// BundlePath is the path of entry bundle n in dir.
func BundlePath(dir string, n uint64) string {
	p := tlog.Tile{H: TileHeight, L: 0, N: int64(n), W: 1 << TileHeight}.Path()
	return filepath.Join(dir, "tile", "entries", strings.TrimPrefix(p, "tile/8/0/"))
}

// ReadBundle reads the canonical lines of entry bundle n. A missing,
// unreadable or short bundle is a LEDGER_UNAVAILABLE error.
func ReadBundle(dir string, n uint64) ([][]byte, error) {
	b, err := os.ReadFile(BundlePath(dir, n))
	if err != nil {
		return nil, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: archived bundle %d", n), err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) != BundleSize {
		return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: archived bundle %d has %d entries", n, len(lines)))
	}
	return lines, nil
}

// WriteBundle writes entry bundle n (BundleSize lines, each without its
// newline).
func WriteBundle(dir string, n uint64, lines [][]byte) error {
	if len(lines) != BundleSize {
		return fmt.Errorf("tlogarchive: bundle %d has %d entries", n, len(lines))
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return WriteImmutable(BundlePath(dir, n), b.Bytes())
}

// WriteTiles writes the hash tiles of a tree of size entries that are not
// in dir yet, reading stored hashes from hr, and returns how many it wrote.
// Partial tiles have their width in their path, so they are immutable too.
func WriteTiles(dir string, size int64, hr tlog.HashReader) (int, error) {
	written := 0
	for _, t := range tlog.NewTiles(TileHeight, 0, size) {
		p := filepath.Join(dir, filepath.FromSlash(t.Path()))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		data, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return written, err
		}
		if err := WriteImmutable(p, data); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

// WriteCheckpoint replaces the archive's checkpoint note.
func WriteCheckpoint(dir, note string) error {
	return WriteFileSync(filepath.Join(dir, "checkpoint"), []byte(note))
}

// WriteImmutable writes an archive file that never changes: an existing
// one must have the same bytes.
func WriteImmutable(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil {
		if !bytes.Equal(old, data) {
			return fmt.Errorf("tlogarchive: archive file %s exists with other content", path)
		}
		return nil
	}
	return WriteFileSync(path, data)
}

// WriteFileSync writes path atomically (temporary file, fsync, rename,
// directory fsync), creating its directory.
func WriteFileSync(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if _, err := w.Write(data); err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
