package mcpbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// Pin is the pinned definition of one tool: the SHA-256 of its canonical
// definition (Definition) and, when the bridge pinned it itself, the
// definition, so that a later change can be shown as a diff.
type Pin struct {
	SHA256     string          `json:"sha256"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

// PinFile is the on-disk form of the pins: version 1, pins keyed by the
// tool's resource (mcp://<server>/<tool>).
type PinFile struct {
	Version int            `json:"version"`
	Pins    map[string]Pin `json:"pins"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Pins holds the tool pins, optionally backed by a file (written atomically
// on every change, mode 0600). Locked pins are never added to or moved by
// the bridge: a tool whose resource has no pin is not offered, a changed
// one stays refused; the file is only read. Safe for concurrent use.
type Pins struct {
	mu     sync.Mutex
	path   string
	locked bool
	pins   map[string]Pin
}

// LoadPins reads the pins from path ("" = in memory only). A missing file
// is an empty set unless locked (then it is an error: a locked-down bridge
// without its pins offers nothing, and says so at start). A malformed file
// is an error.
func LoadPins(path string, locked bool) (*Pins, error) {
	p := &Pins{path: path, locked: locked, pins: map[string]Pin{}}
	if path == "" {
		if locked {
			return nil, errors.New("mcpbridge: locked pins need a pin file")
		}
		return p, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !locked {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	var f PinFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("mcpbridge: pin file %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("mcpbridge: pin file %s: version %d, want 1", path, f.Version)
	}
	for k, v := range f.Pins {
		if !sha256Hex.MatchString(v.SHA256) {
			return nil, fmt.Errorf("mcpbridge: pin file %s: %s: sha256 is not 64 lowercase hex digits", path, k)
		}
		p.pins[k] = v
	}
	return p, nil
}

// Locked reports whether the pins are locked.
func (p *Pins) Locked() bool { return p.locked }

// Get returns the pin of resource.
func (p *Pins) Get(resource string) (Pin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.pins[resource]
	return v, ok
}

// Set pins resource and writes the file. It fails for locked pins and
// when the file cannot be written (the pin is then not changed).
func (p *Pins) Set(resource string, v Pin) error {
	if p.locked {
		return errors.New("mcpbridge: pins are locked")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old, had := p.pins[resource]
	p.pins[resource] = v
	if err := p.save(); err != nil {
		if had {
			p.pins[resource] = old
		} else {
			delete(p.pins, resource)
		}
		return err
	}
	return nil
}

// save writes the file atomically (temp file, fsync, rename). Caller holds mu.
func (p *Pins) save() error {
	if p.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(PinFile{Version: 1, Pins: p.pins}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), ".pins-*")
	if err != nil {
		return fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("mcpbridge: pin file: %w", err)
	}
	return nil
}
