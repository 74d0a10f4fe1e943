package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// RotateResult reports a key rotation.
type RotateResult struct {
	// Key is the id of the current key, which now seals every readable value.
	Key string `json:"key"`
	// Resealed counts values re-encrypted; Lookups counts conversation
	// lookups recomputed.
	Resealed int `json:"resealed"`
	Lookups  int `json:"lookups"`
	// Unreadable names values that no configured key opens (damaged, or
	// under a key not given): they are left as they are.
	Unreadable []string `json:"unreadable,omitempty"`
	// Retired are ids of keys no value uses any more: they can be dropped
	// from INTAKEBOT_OLD_DATA_KEYS.
	Retired []string `json:"retired,omitempty"`
}

// sealedColumn is one column of sealed values and how its values are bound.
type sealedColumn struct {
	table, id, col string
	// aadFrom is the column the associated data is made from, and aad
	// makes it.
	aadFrom string
	aad     func(string) string
}

var sealedColumns = []sealedColumn{
	{"conversations", "id", "chat_enc", "id", chatAAD},
	{"conversations", "id", "state_enc", "id", stateAAD},
	{"transcript", "id", "body_enc", "conversation_id", transcriptAAD},
	{"intakes", "id", "body_enc", "id", intakeAAD},
	{"handoffs", "id", "outcome_enc", "id", outcomeAAD},
	{"handoffs", "id", "category_enc", "id", categoryAAD},
	{"outbox", "id", "payload_enc", "id", payloadAAD},
}

// RotateKey re-encrypts, in one transaction, every sealed value that is
// not under the current key (INTAKEBOT_DATA_KEY) with it, opening each with
// whichever configured key sealed it (INTAKEBOT_OLD_DATA_KEYS), and moves
// every conversation's lookup to the current key. Values no key opens are
// reported in the result and left alone; when there are none, the old keys
// are retired and the database no longer accepts them at Open. It writes
// an audit entry under actor.
func (s *Store) RotateKey(ctx context.Context, actor string) (RotateResult, error) {
	if err := s.needKeys(); err != nil {
		return RotateResult{}, fmt.Errorf("store: rotate key: %w", err)
	}
	var res RotateResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = RotateResult{Key: s.keys.PrimaryID()}
		for _, c := range sealedColumns {
			if err := s.rotateColumn(ctx, tx, c, &res); err != nil {
				return err
			}
		}
		if err := s.rotateLookups(ctx, tx, &res); err != nil {
			return err
		}
		if len(res.Unreadable) == 0 {
			var old []string
			if err := tx.SelectContext(ctx, &old, s.q(`SELECT key_id FROM data_keys WHERE key_id <> ? ORDER BY key_id`), res.Key); err != nil {
				return fmt.Errorf("store: rotate key: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM data_keys WHERE key_id <> ?`), res.Key); err != nil {
				return fmt.Errorf("store: rotate key: %w", err)
			}
			res.Retired = old
		}
		return s.audit(ctx, tx, s.now(), actor, "data_key.rotate", res.Key)
	})
	return res, err
}

func (s *Store) rotateColumn(ctx context.Context, tx *sqlx.Tx, c sealedColumn, res *RotateResult) error {
	rows, err := tx.QueryxContext(ctx, fmt.Sprintf(`SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL`, c.id, c.aadFrom, c.col, c.table, c.col))
	if err != nil {
		return fmt.Errorf("store: rotate %s.%s: %w", c.table, c.col, err)
	}
	type reseal struct {
		id  any
		val []byte
	}
	var todo []reseal
	for rows.Next() {
		var id any
		var aadFrom string
		var val []byte
		if err := rows.Scan(&id, &aadFrom, &val); err != nil {
			rows.Close()
			return fmt.Errorf("store: rotate %s.%s: %w", c.table, c.col, err)
		}
		if sealedKeyID(val) == res.Key {
			continue
		}
		aad := c.aad(aadFrom)
		pt, err := s.keys.open(val, aad)
		if err != nil {
			res.Unreadable = append(res.Unreadable, fmt.Sprintf("%s.%s %v: %v", c.table, c.col, id, err))
			continue
		}
		todo = append(todo, reseal{id, s.keys.seal(pt, aad)})
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: rotate %s.%s: %w", c.table, c.col, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: rotate %s.%s: %w", c.table, c.col, err)
	}
	upd := s.q(fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ?`, c.table, c.col, c.id))
	for _, r := range todo {
		if _, err := tx.ExecContext(ctx, upd, r.val, r.id); err != nil {
			return fmt.Errorf("store: rotate %s.%s: %w", c.table, c.col, err)
		}
		res.Resealed++
	}
	return nil
}

// rotateLookups recomputes each conversation's lookup under the current key.
func (s *Store) rotateLookups(ctx context.Context, tx *sqlx.Tx, res *RotateResult) error {
	var rows []struct {
		ID      string `db:"id"`
		Lookup  string `db:"lookup"`
		Channel string `db:"channel"`
		Chat    []byte `db:"chat_enc"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, lookup, channel, chat_enc FROM conversations`); err != nil {
		return fmt.Errorf("store: rotate lookups: %w", err)
	}
	upd := s.q(`UPDATE conversations SET lookup = ? WHERE id = ?`)
	for _, r := range rows {
		chat, err := s.keys.open(r.Chat, chatAAD(r.ID))
		if err != nil {
			// Already reported by rotateColumn when it was not under the
			// current key; report it here otherwise.
			if sealedKeyID(r.Chat) == res.Key {
				res.Unreadable = append(res.Unreadable, fmt.Sprintf("conversations.chat_enc %s: %v", r.ID, err))
			}
			continue
		}
		l := lookupHash(s.keys.primary, r.Channel, string(chat))
		if l == r.Lookup {
			continue
		}
		if _, err := tx.ExecContext(ctx, upd, l, r.ID); err != nil {
			return fmt.Errorf("store: rotate lookups: %w", err)
		}
		res.Lookups++
	}
	return nil
}

// String summarizes the result in one line.
func (r RotateResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "re-encrypted %d values and %d lookups with key %s", r.Resealed, r.Lookups, r.Key)
	if len(r.Retired) > 0 {
		fmt.Fprintf(&b, "; retired keys %s", strings.Join(r.Retired, ", "))
	}
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(&b, "; %d values unreadable, old keys kept", len(r.Unreadable))
	}
	return b.String()
}
