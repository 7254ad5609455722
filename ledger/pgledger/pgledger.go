// Package pgledger is the PostgreSQL ledger store (pgx/v5) for replicated
// gateways: several processes append to one gap-free chain.
//
// Each entry is one row of sint_ledger_entries holding the exact canonical
// JSON bytes (bytea) with the sequence number as primary key; the RFC 6962
// stored hashes live in sint_ledger_tree. Triggers refuse UPDATE, DELETE and
// TRUNCATE on both. Appends go through one appender goroutine per Store that
// commits everything queued while the previous transaction ran in one
// transaction. Everything that must be serialised across processes runs in
// one server-side call, sint_ledger_append (migration 002): it takes a
// transaction-scoped advisory lock, reads the head, assigns sequences and
// timestamps, hashes the entries from client-built byte pieces and computes
// the stored tree hashes, and inserts both. BEGIN, the call and COMMIT go to
// the server in one pipelined round trip, so the lock is never held while
// the server waits for the client. The schema is embedded migrations applied
// by Open.
//
// All methods are safe for concurrent use.
package pgledger

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"encoding/json"
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
	"github.com/jackc/pgx/v5/pgtype"
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
	// Tripped is the error of a guarded event (ledger.Event.Guard set)
	// refused because the fleet's e-stop is tripped in the chain (a trip
	// entry's tripId not yet acknowledged by a reset entry, see migration
	// 003). active lists the active trip ids. Default: an ESTOP_ENGAGED
	// *codes.Error.
	Tripped func(active []string) error
	// ArchiveDir is where this process reads archived entries (Archive);
	// default: the location recorded by the archiver.
	ArchiveDir string
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

	// Test hooks. beforeCommit may queue statements between the append
	// call and COMMIT (a failing one rolls the group back); afterCommit's
	// error replaces a successful answer (a lost COMMIT reply).
	beforeCommit func(*pgx.Batch)
	afterCommit  func() error
	rescued      atomic.Int64 // groups answered by committedAnyway (tests)
	// archiveHook is called after each step of Archive; an error stops it
	// there (an interrupted run, tests).
	archiveHook func(step string) error

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
	if opts.Tripped == nil {
		opts.Tripped = func(active []string) error {
			return codes.New(codes.EstopEngaged, "fleet e-stop engaged (trips "+strings.Join(active, ", ")+" not reset)")
		}
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

// sent is one event of a group sent to sint_ledger_append.
type sent struct {
	r  *request
	i  int
	id uuid.UUID
}

// group holds the argument arrays of one sint_ledger_append call.
type group struct {
	sent                    []sent
	ids, check              []pgtype.UUID // binary-encoded as is (uuid.UUID goes through driver.Valuer and text)
	types, agents, now      []string
	prefix, payload, suffix [][]byte
	guarded                 []bool // the event had a Guard: refused while the fleet is tripped
}

// appendSQL is the one statement that runs under the advisory lock.
const appendSQL = `SELECT o_ord, o_dup, o_seq, o_ts, o_prev, o_hash, o_tree_idx, o_tree, o_refused, o_active
	FROM sint_ledger_append($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bytea[], $7::text[], $8::uuid[], $9::boolean[])`

// commit runs one group and answers it: the guards and the clock run here,
// on the appender goroutine, right before the group is sent; everything
// under the cross-process lock happens in one server-side call
// (sint_ledger_append) pipelined with BEGIN and COMMIT in one round trip.
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
	g := s.stage(batch)
	if len(g.sent) == 0 {
		return
	}
	hs, err := s.send(ctx, g)
	if err != nil {
		// COMMIT may have reached the server with only its answer lost.
		if s.committedAnyway(g) {
			return
		}
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
	s.cacheStored(hs)
}

// stage checks ctx, drops repeated event ids, runs the guards and reads the
// clock for each event of the group, in order, and builds the argument
// arrays.
func (s *Store) stage(batch []*request) *group {
	g := &group{}
	inGroup := map[uuid.UUID]bool{}
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = codes.Wrap(codes.LedgerUnavailable, "ledger: append cancelled", context.Cause(r.ctx))
			continue
		}
		for i := range r.preps {
			if r.errs[i] != nil {
				continue
			}
			p := &r.preps[i]
			u, err := uuid.Parse(r.ids[i])
			if err != nil {
				r.errs[i] = codes.Wrap(codes.MalformedRequest, "ledger: bad eventId", err)
				continue
			}
			if inGroup[u] { // an earlier event of this group is recorded under it
				r.errs[i] = ledger.ErrDuplicateEvent
				continue
			}
			if err := ledger.RunGuard(p.Event.Guard); err != nil {
				r.errs[i] = err
				continue
			}
			inGroup[u] = true
			prefix, suffix := pieces(r.ids[i], p)
			g.sent = append(g.sent, sent{r: r, i: i, id: u})
			g.ids = append(g.ids, pgtype.UUID{Bytes: u, Valid: true})
			if p.Event.EventID != "" {
				// Chosen by the caller, so possibly recorded already; ids
				// the store made are fresh.
				g.check = append(g.check, pgtype.UUID{Bytes: u, Valid: true})
			}
			g.types = append(g.types, p.Event.EventType)
			g.agents = append(g.agents, p.Event.AgentID)
			g.prefix = append(g.prefix, prefix)
			g.payload = append(g.payload, p.Payload)
			g.suffix = append(g.suffix, suffix)
			g.now = append(g.now, ledger.FormatTimestamp(s.opts.Clock()))
			g.guarded = append(g.guarded, p.Event.Guard != nil)
		}
	}
	return g
}

// hashMiddle is what ledger.HashInput writes between the eventType value and
// the tokenId member for the template entry of pieces.
const hashMiddle = `,"payload":{},"previousHash":"","sequenceNumber":"0","timestamp":""`

// pieces returns the exact JCS bytes that sint_ledger_append puts before the
// payload member ({"agentId":…,"eventId":…,"eventType":…) and after the
// timestamp member (,"tokenId":…} or }), cut from ledger.HashInput of a
// template entry so the string escaping is the ledger's own. A JCS string
// holds '"' only as \", so the first `,"payload":` is the member's.
func pieces(id string, p *ledger.Prepared) (prefix, suffix []byte) {
	b := ledger.HashInput(&ledger.Entry{EventID: id, EventType: p.Event.EventType, AgentID: p.Event.AgentID,
		TokenID: p.Event.TokenID, Payload: json.RawMessage("{}")})
	k := bytes.Index(b, []byte(hashMiddle))
	return b[:k:k], b[k+len(hashMiddle):]
}

// storedRun is the stored hashes one group added, from index idx.
type storedRun struct {
	idx int64
	hs  [][]byte
}

// send runs the group in one transaction, pipelined in one round trip, and
// fills the entries and errors of the group's events from the answer. It
// returns the stored hashes the group added.
func (s *Store) send(ctx context.Context, g *group) (storedRun, error) {
	for _, x := range g.sent {
		x.r.entries[x.i] = ledger.Entry{}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return storedRun{}, err
	}
	// A connection left inside a transaction by an error is destroyed by
	// the pool on Release (it checks the transaction status).
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	// Durable on COMMIT whatever the server or role default says.
	b.Queue(`SET LOCAL synchronous_commit TO on`)
	b.Queue(appendSQL, g.ids, g.types, g.agents, g.prefix, g.payload, g.suffix, g.now, g.check, g.guarded)
	if s.beforeCommit != nil {
		s.beforeCommit(b)
	}
	b.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return storedRun{}, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return storedRun{}, err
	}
	var run storedRun
	var answered int
	for rows.Next() {
		var (
			ord          int32
			dup          bool
			seq, treeIdx *int64
			ts           *string
			prev, hash   []byte
			tree         [][]byte
			refused      bool
			active       []string
		)
		if err := rows.Scan(&ord, &dup, &seq, &ts, &prev, &hash, &treeIdx, &tree, &refused, &active); err != nil {
			rows.Close()
			return storedRun{}, err
		}
		if ord < 1 || int(ord) > len(g.sent) {
			rows.Close()
			return storedRun{}, fmt.Errorf("pgledger: answer for event %d of %d", ord, len(g.sent))
		}
		answered++
		if treeIdx != nil { // the first row: the stored hashes the call added
			run = storedRun{idx: *treeIdx, hs: tree}
		}
		x := g.sent[ord-1]
		if refused {
			x.r.errs[x.i] = s.opts.Tripped(active)
			continue
		}
		if dup {
			x.r.errs[x.i] = ledger.ErrDuplicateEvent
			continue
		}
		if seq == nil || ts == nil || len(prev) != 32 || len(hash) != 32 {
			rows.Close()
			return storedRun{}, fmt.Errorf("pgledger: incomplete answer for event %d", ord)
		}
		p := &x.r.preps[x.i]
		x.r.entries[x.i] = ledger.Entry{
			EventID:        x.r.ids[x.i],
			SequenceNumber: uint64(*seq),
			Timestamp:      *ts,
			EventType:      p.Event.EventType,
			AgentID:        p.Event.AgentID,
			TokenID:        p.Event.TokenID,
			Payload:        p.Payload,
			PreviousHash:   hex.EncodeToString(prev),
			Hash:           hex.EncodeToString(hash),
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return storedRun{}, err
	}
	if answered != len(g.sent) {
		return storedRun{}, fmt.Errorf("pgledger: %d answers for %d events", answered, len(g.sent))
	}
	for i := 0; i < b.Len()-3; i++ { // what beforeCommit queued, then COMMIT
		if _, err := br.Exec(); err != nil {
			return storedRun{}, err
		}
	}
	if err := br.Close(); err != nil {
		return storedRun{}, err
	}
	if s.afterCommit != nil {
		return run, s.afterCommit()
	}
	return run, nil
}

// cacheStored adds committed stored hashes to the cache.
func (s *Store) cacheStored(r storedRun) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.cache) > s.opts.HashCache {
		clear(s.cache)
	}
	for k, h := range r.hs {
		if len(h) == tlog.HashSize {
			s.cache[r.idx+int64(k)] = tlog.Hash(h)
		}
	}
}

// committedAnyway handles an error after the group was sent: if every event
// sent is recorded, COMMIT reached the server and only its answer was lost
// (or the events were recorded before). It then answers each event from the
// stored entry: its own entry when the stored one records the same event,
// else ErrDuplicateEvent. It reports whether it answered the group.
func (s *Store) committedAnyway(g *group) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT seq, event_id, entry FROM sint_ledger_entries WHERE event_id = ANY($1)`, g.ids)
	if err != nil {
		return false
	}
	stored := map[uuid.UUID]ledger.Entry{}
	for rows.Next() {
		var seq int64
		var u uuid.UUID
		var b []byte
		if err := rows.Scan(&seq, &u, &b); err != nil {
			rows.Close()
			return false
		}
		e, err := decodeRow(seq, b)
		if err != nil {
			rows.Close()
			return false
		}
		stored[u] = e
	}
	rows.Close()
	if rows.Err() != nil || len(stored) != len(g.sent) {
		return false
	}
	s.rescued.Add(1)
	for _, x := range g.sent {
		e, p := stored[x.id], &x.r.preps[x.i]
		if e.EventType == p.Event.EventType && e.AgentID == p.Event.AgentID && e.TokenID == p.Event.TokenID &&
			bytes.Equal(e.Payload, p.Payload) {
			x.r.entries[x.i], x.r.errs[x.i] = e, nil
		} else {
			x.r.entries[x.i], x.r.errs[x.i] = ledger.Entry{}, ledger.ErrDuplicateEvent
		}
	}
	return true
}

// querier is the part of pgx.Tx / pgxpool.Pool the readers use.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
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
