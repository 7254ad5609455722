// Package pgledger is the PostgreSQL ledger store (pgx/v5) for replicated
// gateways: several processes append to one gap-free chain.
//
// Each entry is one row of sint_ledger_entries holding the exact canonical
// JSON bytes (bytea) with the sequence number as primary key; the RFC 6962
// stored hashes live in sint_ledger_tree. Triggers refuse UPDATE, DELETE and
// TRUNCATE on both. Appends go through one appender goroutine per Store that
// commits everything queued while the previous transaction ran in one
// transaction, serialised across processes by a transaction-scoped advisory
// lock taken before reading the head. The schema is an embedded migration
// applied by Open.
//
// All methods are safe for concurrent use.
package pgledger

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (arbitrary constants, "sintledg" / "sintmigr").
const (
	appendLockKey    int64 = 0x73696e746c656467
	migrationLockKey int64 = 0x73696e746d696772
)

// Options configure a Store. The zero value is usable.
type Options struct {
	Clock      func() time.Time       // default time.Now
	NewEventID func() (string, error) // default UUIDv7
	MaxGroup   int                    // entries per transaction, default 1024
	// Linger bounds how long the appender waits, before a transaction, for
	// appenders already inside Append (as in filestore). Default 200 µs;
	// negative disables.
	Linger    time.Duration
	HashCache int // stored hashes cached in memory, default 1<<20
}

// Store is the PostgreSQL ledger store.
type Store struct {
	pool *pgxpool.Pool
	own  bool
	opts Options

	reqs    chan *request
	sendMu  sync.RWMutex
	closing chan struct{}
	done    chan struct{}

	mu     sync.RWMutex
	closed bool

	inflight atomic.Int64 // appenders inside AppendBatch
	wake     chan struct{}

	// beforeCommit, if set (tests), runs just before COMMIT; an error rolls
	// the group back.
	beforeCommit func() error

	cacheMu sync.Mutex
	cache   map[int64]tlog.Hash // stored hashes are immutable: always valid
}

type request struct {
	ctx     context.Context
	preps   []ledger.Prepared
	ids     []string
	entries []ledger.Entry
	errs    []error
	err     error
	done    chan struct{}
}

// Open connects to url, applies the migrations and starts the appender.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, codes.Wrap(codes.LedgerUnavailable, "ledger: connect", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New uses an existing pool (not closed by Close).
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.NewEventID == nil {
		opts.NewEventID = func() (string, error) {
			u, err := uuid.NewV7()
			return u.String(), err
		}
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 1024
	}
	if opts.HashCache <= 0 {
		opts.HashCache = 1 << 20
	}
	if opts.Linger == 0 {
		opts.Linger = 200 * time.Microsecond
	}
	if err := Migrate(ctx, pool); err != nil {
		return nil, err
	}
	s := &Store{pool: pool, opts: opts, reqs: make(chan *request, 4096), closing: make(chan struct{}),
		done: make(chan struct{}), wake: make(chan struct{}, 1), cache: map[int64]tlog.Hash{}}
	go s.appender()
	return s, nil
}

// Migrate applies the embedded migrations that are not yet applied, under an
// advisory lock so concurrent processes apply each once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS sint_ledger_migrations (
			version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		for _, name := range names {
			base := strings.TrimPrefix(name, "migrations/")
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("pgledger: migration %s: bad version", base)
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sint_ledger_migrations WHERE version = $1)`, v).Scan(&done); err != nil {
				return err
			}
			if done {
				continue
			}
			sql, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("pgledger: migration %s: %w", base, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sint_ledger_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func unavailable(msg string, err error) error {
	if err == nil {
		return nil
	}
	var ce *codes.Error
	if errors.As(err, &ce) {
		return err
	}
	return codes.Wrap(codes.LedgerUnavailable, "ledger: "+msg, err)
}

// Append implements ledger.Store.
func (s *Store) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	return ledger.AppendOne(ctx, s, ev)
}

// AppendBatch implements ledger.Store.
func (s *Store) AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error) {
	s.inflight.Add(1)
	defer func() {
		s.inflight.Add(-1)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}()
	preps, ids, errs, err := ledger.PrepareBatch(evs, s.opts.NewEventID)
	if err != nil {
		return nil, nil, err
	}
	r := &request{ctx: ctx, preps: preps, ids: ids, entries: make([]ledger.Entry, len(evs)), errs: errs, done: make(chan struct{})}
	s.sendMu.RLock()
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		s.sendMu.RUnlock()
		return nil, nil, ledger.ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.sendMu.RUnlock()
		return nil, nil, codes.Wrap(codes.LedgerUnavailable, "ledger: append cancelled", context.Cause(ctx))
	}
	s.sendMu.RUnlock()
	<-r.done // queued requests are skipped (ctx checked under the lock) or committed
	return r.entries, r.errs, r.err
}

func (s *Store) appender() {
	defer close(s.done)
	for {
		var batch []*request
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.closing:
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*request{r})
					continue
				default:
				}
				return
			}
		}
		n := len(batch[0].preps)
	drain:
		for n < s.opts.MaxGroup {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.preps)
			default:
				break drain
			}
		}
		if s.opts.Linger > 0 && n < s.opts.MaxGroup && s.inflight.Load() > int64(len(batch)) {
			t := time.NewTimer(s.opts.Linger)
		wait:
			for n < s.opts.MaxGroup && s.inflight.Load() > int64(len(batch)) {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
					n += len(r.preps)
				case <-s.wake:
				case <-t.C:
					break wait
				}
			}
			t.Stop()
		}
		s.commit(batch)
	}
}

type staged struct {
	r     *request
	i     int
	id    uuid.UUID
	raw   [32]byte
	entry []byte
}

// commit runs one group in one transaction and answers it.
func (s *Store) commit(batch []*request) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	// The group's own context: the store's writes are not cancelled by one
	// appender; a bound keeps a dead server from hanging appenders forever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st []staged
	var pend *pendingReader // the group's stored hashes, cached only once committed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st = st[:0]
		for _, r := range batch {
			for i := range r.entries {
				r.entries[i] = ledger.Entry{}
			}
		}
		// Duplicate event ids among the group (already recorded).
		var all []uuid.UUID
		for _, r := range batch {
			for i := range r.preps {
				if r.errs[i] == nil {
					if u, err := uuid.Parse(r.ids[i]); err == nil {
						all = append(all, u)
					}
				}
			}
		}
		// One round trip: the cross-process lock, then the head and the
		// duplicates as seen under it.
		pre := &pgx.Batch{}
		// Durable on COMMIT whatever the server or role default says.
		pre.Queue(`SET LOCAL synchronous_commit TO on`)
		pre.Queue(`SELECT pg_advisory_xact_lock($1)`, appendLockKey)
		pre.Queue(`SELECT seq, hash, ts FROM sint_ledger_entries ORDER BY seq DESC LIMIT 1`)
		pre.Queue(`SELECT event_id FROM sint_ledger_entries WHERE event_id = ANY($1)`, all)
		br := tx.SendBatch(ctx, pre)
		for range 2 { // SET LOCAL, advisory lock
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		var seq uint64
		var prev, ts string
		var headHash []byte
		err := br.QueryRow().Scan(&seq, &headHash, &ts)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			br.Close()
			return err
		}
		if err == nil {
			prev = hex.EncodeToString(headHash)
		}
		existing := map[uuid.UUID]bool{}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		for rows.Next() {
			var u uuid.UUID
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				br.Close()
				return err
			}
			existing[u] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = codes.Wrap(codes.LedgerUnavailable, "ledger: append cancelled", context.Cause(r.ctx))
				continue
			}
			for i := range r.preps {
				if r.errs[i] != nil && !isGroupErr(r.errs[i]) {
					continue
				}
				r.errs[i] = nil
				u, err := uuid.Parse(r.ids[i])
				if err != nil {
					r.errs[i] = codes.Wrap(codes.MalformedRequest, "ledger: bad eventId", err)
					continue
				}
				if existing[u] {
					r.errs[i] = ledger.ErrDuplicateEvent
					continue
				}
				if err := ledger.RunGuard(r.preps[i].Event.Guard); err != nil {
					r.errs[i] = guardErr{err}
					continue
				}
				seq++
				e, enc := r.preps[i].Next(seq, r.ids[i], prev, ts, s.opts.Clock())
				raw, _ := ledger.RawHash(e.Hash)
				r.entries[i] = e
				existing[u] = true
				st = append(st, staged{r: r, i: i, id: u, raw: raw, entry: enc})
				prev, ts = e.Hash, e.Timestamp
			}
		}
		if len(st) == 0 {
			return nil
		}
		first := int64(seq) - int64(len(st))
		pend = &pendingReader{s: s, ctx: ctx, q: tx, base: tlog.StoredHashCount(first)}
		for k, x := range st {
			hs, err := tlog.StoredHashes(first+int64(k), x.raw[:], pend)
			if err != nil {
				return err
			}
			pend.hs = append(pend.hs, hs...)
		}
		n := len(st)
		seqs, ids := make([]int64, n), make([]uuid.UUID, n)
		types, agents, tss := make([]string, n), make([]string, n), make([]string, n)
		hashes, entries := make([][]byte, n), make([][]byte, n)
		for k, x := range st {
			e := &x.r.entries[x.i]
			seqs[k], ids[k], types[k], agents[k], tss[k] = int64(e.SequenceNumber), x.id, e.EventType, e.AgentID, e.Timestamp
			hashes[k], entries[k] = x.raw[:], x.entry
		}
		idxs := make([]int64, len(pend.hs))
		ths := make([][]byte, len(pend.hs))
		for k := range pend.hs {
			idxs[k] = pend.base + int64(k)
			ths[k] = pend.hs[k][:]
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO sint_ledger_entries (seq, event_id, event_type, agent_id, ts, hash, entry)
			SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])`,
			seqs, ids, types, agents, tss, hashes, entries)
		b.Queue(`INSERT INTO sint_ledger_tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idxs, ths)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if s.beforeCommit != nil {
			return s.beforeCommit()
		}
		return nil
	})
	if err != nil && len(st) > 0 && s.committedAnyway(st[0]) {
		err = nil // COMMIT reached the server; only its answer was lost
	}
	if err == nil && len(st) > 0 {
		pend.commitToCache()
	}
	if err != nil {
		ferr := unavailable("append", err)
		for _, r := range batch {
			if r.err == nil {
				r.err = ferr
			}
			for i := range r.entries {
				r.entries[i] = ledger.Entry{}
			}
		}
		return
	}
	for _, r := range batch {
		for i, e := range r.errs {
			if g, ok := e.(guardErr); ok {
				r.errs[i] = g.err
			}
		}
	}
}

// guardErr marks a guard refusal inside a transaction that may be retried.
type guardErr struct{ err error }

func (g guardErr) Error() string { return g.err.Error() }
func (g guardErr) Unwrap() error { return g.err }

func isGroupErr(err error) bool {
	var g guardErr
	return errors.As(err, &g) || errors.Is(err, ledger.ErrDuplicateEvent)
}

// committedAnyway reports whether the first staged entry is in the table
// (a COMMIT whose reply was lost).
func (s *Store) committedAnyway(x staged) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var h []byte
	err := s.pool.QueryRow(ctx, `SELECT hash FROM sint_ledger_entries WHERE event_id = $1`, x.id).Scan(&h)
	return err == nil && string(h) == string(x.raw[:])
}

// querier is the part of pgx.Tx / pgxpool.Pool the readers use.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pendingReader reads stored hashes: new ones from hs (index ≥ base), older
// ones from the cache or the table.
type pendingReader struct {
	s    *Store
	ctx  context.Context
	q    querier
	base int64
	hs   []tlog.Hash
}

func (p *pendingReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	var old []int64
	var where []int
	for i, x := range idx {
		if x >= p.base {
			if x-p.base >= int64(len(p.hs)) {
				return nil, fmt.Errorf("pgledger: stored hash %d not yet computed", x)
			}
			out[i] = p.hs[x-p.base]
			continue
		}
		old = append(old, x)
		where = append(where, i)
	}
	if len(old) > 0 {
		hs, err := p.s.readStored(p.ctx, p.q, old)
		if err != nil {
			return nil, err
		}
		for k, i := range where {
			out[i] = hs[k]
		}
	}
	return out, nil
}

func (p *pendingReader) commitToCache() {
	p.s.cacheMu.Lock()
	defer p.s.cacheMu.Unlock()
	if len(p.s.cache) > p.s.opts.HashCache {
		clear(p.s.cache)
	}
	for k, h := range p.hs {
		p.s.cache[p.base+int64(k)] = h
	}
}

// readStored reads stored hashes by index, from the cache or in one query.
func (s *Store) readStored(ctx context.Context, q querier, idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	var miss []int64
	s.cacheMu.Lock()
	for i, x := range idx {
		if h, ok := s.cache[x]; ok {
			out[i] = h
		} else {
			miss = append(miss, x)
		}
	}
	s.cacheMu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT idx, hash FROM sint_ledger_tree WHERE idx = ANY($1)`, miss)
	if err != nil {
		return nil, unavailable("read stored hashes", err)
	}
	got := map[int64]tlog.Hash{}
	for rows.Next() {
		var i int64
		var b []byte
		if err := rows.Scan(&i, &b); err != nil {
			rows.Close()
			return nil, unavailable("read stored hashes", err)
		}
		if len(b) != 32 {
			rows.Close()
			return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: stored hash %d has %d bytes", i, len(b)))
		}
		got[i] = tlog.Hash(b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable("read stored hashes", err)
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.cache) > s.opts.HashCache {
		clear(s.cache)
	}
	for i, x := range idx {
		if h, ok := got[x]; ok {
			out[i] = h
			s.cache[x] = h
		}
	}
	for _, x := range miss {
		if _, ok := got[x]; !ok {
			return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: stored hash %d missing", x))
		}
	}
	return out, nil
}

// Close stops the appender after queued appends and closes the pool if Open
// created it.
func (s *Store) Close() error {
	s.sendMu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.sendMu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.sendMu.Unlock()
	close(s.closing)
	<-s.done
	if s.own {
		s.pool.Close()
	}
	return nil
}
