package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Cache is a small key/value table for the LLM rephraser: a key (a hash of
// the scripted text and model) to the accepted rephrasing. Values are kept
// in clear: the rephraser only ever sees text flows.yaml marks
// rephrasable, never what a participant wrote. Entries older than 30 days
// are purged.
type Cache struct{ s *Store }

// Cache returns the rephraser's cache.
func (s *Store) Cache() Cache { return Cache{s} }

// Get returns the value for key and whether there is one.
func (c Cache) Get(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := c.s.db.GetContext(ctx, &v, c.s.q(`SELECT value FROM cache WHERE cache_key = ?`), key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: cache get: %w", err)
	}
	return v, true, nil
}

// Put sets the value for key, replacing any earlier one.
func (c Cache) Put(ctx context.Context, key, value string) error {
	s := c.s
	if s.dialect == dialectSQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cache (cache_key, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`),
		key, value, micros(s.now()))
	if err != nil {
		return fmt.Errorf("store: cache put: %w", err)
	}
	return nil
}
