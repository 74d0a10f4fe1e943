package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// keyCheckText is sealed under each data key the database has used, so a
// wrong key is caught at Open instead of at the first read.
const keyCheckText = "intakebot data key check"

func keyCheckAAD(id string) string { return "data_keys.check/" + id }

// checkKeys verifies the configured keys against the database: at least
// one of them must be a key the database's values were sealed with. On
// success it records the current key, so the next Open with another key
// is refused.
func (s *Store) checkKeys(ctx context.Context) error {
	var rows []struct {
		ID    string `db:"key_id"`
		Check []byte `db:"check_enc"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT key_id, check_enc FROM data_keys`); err != nil {
		return fmt.Errorf("store: read key checks: %w", err)
	}
	var stored []string
	known, hasPrimary := false, false
	for _, r := range rows {
		stored = append(stored, r.ID)
		if !slices.Contains(s.keys.IDs(), r.ID) {
			continue
		}
		pt, err := s.keys.open(r.Check, keyCheckAAD(r.ID))
		if err != nil || string(pt) != keyCheckText {
			return fmt.Errorf("store: %w: the check value of key %s does not open", ErrWrongKey, r.ID)
		}
		known = true
		if r.ID == s.keys.PrimaryID() {
			hasPrimary = true
		}
	}
	if len(rows) > 0 && !known {
		return fmt.Errorf("store: %w: this database was encrypted with key %s, but %s has key %s (set it to the key this database was created with, or add that key to %s)",
			ErrWrongKey, strings.Join(stored, ", "), EnvDataKey, s.keys.PrimaryID(), EnvOldDataKeys)
	}
	if !hasPrimary {
		id := s.keys.PrimaryID()
		_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO data_keys (key_id, check_enc, created_at) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING`),
			id, s.keys.seal([]byte(keyCheckText), keyCheckAAD(id)), micros(s.now()))
		if err != nil {
			return fmt.Errorf("store: record key check: %w", err)
		}
	}
	return nil
}

// seal seals plaintext under the current key; the store must have keys.
func (s *Store) seal(plaintext []byte, aad string) []byte { return s.keys.seal(plaintext, aad) }

// open opens a sealed value, naming where it came from in the error.
func (s *Store) open(sealed []byte, aad string) ([]byte, error) {
	pt, err := s.keys.open(sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", aad, err)
	}
	return pt, nil
}

// isUnreadable reports an error from opening a sealed value.
func isUnreadable(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnknownKey)
}
