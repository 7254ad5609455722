//go:build !cgo

package dds

import (
	"context"
	"time"
)

// Participant is a DDS domain participant (unavailable without cgo).
type Participant struct{}

// NewParticipant returns ErrNoCgo in a build without cgo.
func NewParticipant(Config) (*Participant, error) { return nil, ErrNoCgo }

// Close does nothing.
func (p *Participant) Close() error { return nil }

// Domain returns 0.
func (p *Participant) Domain() int { return 0 }

// Writer returns ErrNoCgo.
func (p *Participant) Writer(string, string, QoS) (*Writer, error) { return nil, ErrNoCgo }

// Reader returns ErrNoCgo.
func (p *Participant) Reader(string, string, QoS) (*Reader, error) { return nil, ErrNoCgo }

// Writer writes serialized samples (unavailable without cgo).
type Writer struct{ Topic string }

// Write returns ErrNoCgo.
func (w *Writer) Write([]byte) error { return ErrNoCgo }

// Matched returns ErrNoCgo.
func (w *Writer) Matched() (int, error) { return 0, ErrNoCgo }

// WaitMatched returns ErrNoCgo.
func (w *Writer) WaitMatched(context.Context, int) error { return ErrNoCgo }

// Close does nothing.
func (w *Writer) Close() error { return nil }

// Reader takes serialized samples (unavailable without cgo).
type Reader struct{ Topic string }

// Take returns ErrNoCgo.
func (r *Reader) Take(context.Context) (Sample, error) { return Sample{At: time.Time{}}, ErrNoCgo }

// Matched returns ErrNoCgo.
func (r *Reader) Matched() (int, error) { return 0, ErrNoCgo }

// WaitMatched returns ErrNoCgo.
func (r *Reader) WaitMatched(context.Context, int) error { return ErrNoCgo }

// Close does nothing.
func (r *Reader) Close() error { return nil }

// CheckPeers returns ErrNoCgo.
func (w *Writer) CheckPeers() (PeerCheck, error) { return PeerCheck{}, ErrNoCgo }

// CheckPeers returns ErrNoCgo.
func (r *Reader) CheckPeers() (PeerCheck, error) { return PeerCheck{}, ErrNoCgo }
