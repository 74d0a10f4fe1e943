// Package store keeps intakebot's data in SQLite (the default, one local
// file) or PostgreSQL (any number of replicas sharing one database), through
// sqlx with one set of queries for both.
//
// It implements bot.Store (one transaction per turn, turns of a
// conversation serialized in this process and across processes) and
// bot.Outbox (events claimed with FOR UPDATE SKIP LOCKED on PostgreSQL).
// Every identifying or health field is sealed with AES-256-GCM under a data
// key whose short id is stored in each value, so keys can be rotated;
// conversations are found by an HMAC of their chat, never by the chat id in
// clear. Deletion leaves a tombstone; retention purges old transcripts and
// closed intakes; staff actions and reads of intakes go to an audit log.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"intakebot/bot"
	"intakebot/internal/keylock"
)

// EnvDB names the database: a SQLite path, "sqlite:PATH", or a
// "postgres://" / "postgresql://" URL.
const EnvDB = "INTAKEBOT_DB"

// DefaultDB is the database used when none is named: a SQLite file in the
// working directory.
const DefaultDB = "intakebot.db"

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

//go:embed migrations
var migrations embed.FS

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string
	keys    *Keyring
	now     func() time.Time
	newID   func() string
	log     *slog.Logger

	// locks serializes the turns of one conversation in this process:
	// they wait here rather than on the database.
	locks keylock.Locks
	// writeMu makes this process's SQLite writers take turns in Go rather
	// than in SQLite's busy loop; other processes still wait on the
	// database lock (busy_timeout).
	writeMu sync.Mutex

	queries sync.Map // query with ? -> rebound query
	stmts   sync.Map // SQLite: rebound query -> *sqlx.Stmt prepared on the pool
}

var (
	_ bot.Store      = (*Store)(nil)
	_ bot.StaffStore = (*Store)(nil)
	_ bot.Outbox     = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithKeys sets the data keys. Without them the store opens (migrate and
// purge work), but anything that reads or writes a sealed value returns
// ErrNoKey.
func WithKeys(kr *Keyring) Option { return func(s *Store) { s.keys = kr } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithIDs sets the id generator for new conversations (tests).
func WithIDs(newID func() string) Option { return func(s *Store) { s.newID = newID } }

// WithLogger sets the logger. Logs carry ids only.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// parseDSN returns the dialect and the driver's data source: "" is the
// default SQLite file; "sqlite:PATH" and a bare path are SQLite;
// postgres:// and postgresql:// URLs are PostgreSQL.
func parseDSN(dsn string) (dialect, source string) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return dialectSQLite, DefaultDB
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return dialectPostgres, dsn
	case strings.HasPrefix(dsn, "sqlite://"):
		return dialectSQLite, strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		return dialectSQLite, strings.TrimPrefix(dsn, "sqlite:")
	}
	return dialectSQLite, dsn
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	d, _ := parseDSN(dsn)
	return d == dialectPostgres
}

// sqliteDSN is the modernc.org/sqlite data source for a file: immediate
// transactions (a read-then-write transaction otherwise fails with
// SQLITE_BUSY under concurrency instead of waiting), WAL, a busy timeout,
// foreign keys, and full sync so a committed turn survives a power cut.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	return "file:" + path + "?" + q.Encode()
}

// Open opens the database named by dsn (see EnvDB; "" is ./intakebot.db),
// applies any migration it lacks, and, when keys are given, checks that
// they open the data already stored. It returns ErrWrongKey (wrapped, with
// the key ids) when the database holds values sealed only under other keys.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	dialect, source := parseDSN(dsn)
	s := &Store{
		dialect: dialect,
		now:     time.Now,
		newID:   func() string { return uuid.Must(uuid.NewV7()).String() },
		log:     slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	var err error
	switch dialect {
	case dialectSQLite:
		if _, statErr := os.Stat(source); errors.Is(statErr, fs.ErrNotExist) {
			// A new database: only its owner may read it (SQLite gives its
			// WAL the same mode).
			if f, err := os.OpenFile(source, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				f.Close()
			}
		}
		s.db, err = sqlx.Open("sqlite", sqliteDSN(source))
		if err == nil {
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(8)
			s.db.SetConnMaxIdleTime(0)
		}
	default:
		s.db, err = sqlx.Open("pgx", source)
		if err == nil {
			s.db.SetMaxOpenConns(20)
			s.db.SetMaxIdleConns(20)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: open %s database: %w", dialect, err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if s.keys != nil {
		if err := s.checkKeys(ctx); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sqlx.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// DB returns the underlying database, for tests and benchmarks.
func (s *Store) DB() *sqlx.DB { return s.db }

// Migrate applies every embedded migration the database lacks and returns
// the schema version. On PostgreSQL an advisory lock keeps replicas that
// start together from migrating twice. Open calls it.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	popts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger())}
	gd := goose.DialectSQLite3
	if s.dialect == dialectPostgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return 0, fmt.Errorf("store: migration lock: %w", err)
		}
		popts = append(popts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.db.DB, sub, popts...)
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	for attempt := 1; ; attempt++ {
		_, err := p.Up(ctx)
		if err == nil {
			break
		}
		// SQLite has no migration lock: when two processes open a new
		// database at once, the slower one fails on a table the faster one
		// just created (each migration commits whole). Looking again finds
		// the migration applied.
		if s.dialect != dialectSQLite || attempt == 5 || ctx.Err() != nil {
			return 0, fmt.Errorf("store: migrate: %w", err)
		}
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migration version: %w", err)
	}
	return v, nil
}

// q returns query rebound for the dialect's placeholders.
func (s *Store) q(query string) string {
	if s.dialect != dialectPostgres {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	r := sqlx.Rebind(sqlx.DOLLAR, query)
	s.queries.Store(query, r)
	return r
}

// prepared returns query's statement for tx. SQLite parses every
// statement it is given, which is a good share of a turn's cost, so its
// statements are prepared once per connection and reused (database/sql
// keeps them per connection); pgx already caches statements by their text.
func (s *Store) prepared(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	var st *sqlx.Stmt
	if v, ok := s.stmts.Load(query); ok {
		st = v.(*sqlx.Stmt)
	} else {
		p, err := s.db.PreparexContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if v, loaded := s.stmts.LoadOrStore(query, p); loaded {
			p.Close()
			st = v.(*sqlx.Stmt)
		} else {
			st = p
		}
	}
	return tx.StmtxContext(ctx, st), nil
}

// exec runs a statement in tx (query written with ?).
func (s *Store) exec(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	query = s.q(query)
	if s.dialect != dialectSQLite {
		return tx.ExecContext(ctx, query, args...)
	}
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// sel runs a query in tx into dest, a slice (query written with ?).
func (s *Store) sel(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	query = s.q(query)
	if s.dialect != dialectSQLite {
		return tx.SelectContext(ctx, dest, query, args...)
	}
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// forUpdate is the row-lock suffix of a read-then-write SELECT: PostgreSQL
// locks the rows; SQLite's immediate transaction already holds the
// database's write lock.
func (s *Store) forUpdate() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a write transaction and commits, retrying the whole
// transaction (fn included) when the database reports a conflict
// (PostgreSQL serialization failure or deadlock, SQLite busy) or when fn
// returns errConflict. Any other error from fn rolls back and is returned
// as is.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s.dialect == dialectSQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	const tries = 8
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || attempt == tries || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// errConflict reports a row that changed under a transaction; the
// transaction is retried.
var errConflict = errors.New("store: concurrent update")

type sqlStater interface{ SQLState() string }
type sqliteCoder interface{ Code() int }

func retryable(err error) bool {
	if errors.Is(err, errConflict) {
		return true
	}
	var ps sqlStater
	if errors.As(err, &ps) {
		switch ps.SQLState() {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	var sc sqliteCoder
	if errors.As(err, &sc) {
		switch sc.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

func (s *Store) needKeys() error {
	if s.keys == nil {
		return ErrNoKey
	}
	return nil
}

// micros converts a time to the stored form: Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored time back.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
