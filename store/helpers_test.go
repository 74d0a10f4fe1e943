package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/flows"
	"intakebot/store"
)

// envTestPostgres names the PostgreSQL database the tests use; each test
// gets a schema of its own in it.
const envTestPostgres = "INTAKEBOT_TEST_POSTGRES"

// backend is a database a test runs on.
type backend struct {
	name string
	dsn  string
}

// backends returns a fresh SQLite file and, when INTAKEBOT_TEST_POSTGRES is
// set, a fresh PostgreSQL schema, each dropped when tb ends.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, backend{"sqlite", sqliteFile(t)})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, backend{"postgres", postgresSchema(t)})
	})
}

func sqliteFile(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "test.db")
}

// postgresSchema creates a schema for tb in the test database and returns a
// DSN whose search_path is that schema. It skips tb, saying so, when no
// PostgreSQL is configured.
func postgresSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(envTestPostgres)
	if base == "" {
		tb.Skip(envTestPostgres + " is not set: PostgreSQL store tests skipped (CI sets it; see README)")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema in %s: %v", base, err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// testKey returns a fresh random data key, base64.
func testKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func mustKeys(tb testing.TB, primary string, old ...string) *store.Keyring {
	tb.Helper()
	kr, err := store.ParseKeys(primary, strings.Join(old, ","))
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

// mustOpen opens dsn with the keyring, closing it when tb ends.
func mustOpen(tb testing.TB, dsn string, opts ...store.Option) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), dsn, opts...)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// count returns the number of rows of table matching where (with args).
func count(tb testing.TB, s *store.Store, table, where string, args ...any) int {
	tb.Helper()
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := s.DB().Get(&n, s.DB().Rebind(q), args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// ctx is the tests' context.
var ctx = context.Background()

// set returns a TurnFunc that applies change to the conversation and
// returns the changes it builds.
func turnWith(build func(c *bot.Conversation) *bot.Changes) bot.TurnFunc {
	return func(c *bot.Conversation) (*bot.Changes, error) { return build(c), nil }
}

// consentGranted is a granted consent.
func consentGranted(at time.Time) *bot.Consent {
	return &bot.Consent{Version: "v1", Granted: true, At: at, Scope: "pre-intake"}
}

// mustSpec loads the shipped flows.yaml (or $INTAKEBOT_FLOWS).
func mustSpec(tb testing.TB) *flows.Spec {
	tb.Helper()
	path := "../flows.yaml"
	if p := os.Getenv("INTAKEBOT_FLOWS"); p != "" {
		path = p
	}
	spec, err := flows.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}
