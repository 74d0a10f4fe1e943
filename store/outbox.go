package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"intakebot/bot"
)

// Outbox statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead"
	// OutboxCancelled is a message to or from a participant who deleted
	// their data before it was delivered.
	OutboxCancelled = "cancelled"
)

// Claim implements bot.Outbox. On PostgreSQL the due rows are locked with
// FOR UPDATE SKIP LOCKED, so concurrent dispatchers take disjoint sets; on
// SQLite the immediate transaction holds the write lock. The claimed rows'
// due time moves to the lease's end in the same transaction.
func (s *Store) Claim(ctx context.Context, req bot.ClaimRequest) ([]bot.Delivery, error) {
	if err := s.needKeys(); err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	if req.Limit <= 0 || len(req.Types) == 0 {
		return nil, nil
	}
	var out []bot.Delivery
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		out = out[:0]
		lock := ""
		if s.dialect == dialectPostgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		q, args, err := sqlx.In(`SELECT id, payload_enc, attempts FROM outbox
			WHERE status = 'pending' AND next_at <= ? AND type IN (?)
			ORDER BY next_at, created_at, id LIMIT ?`+lock, micros(req.Now), req.Types, req.Limit)
		if err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		var rows []struct {
			ID       string `db:"id"`
			Payload  []byte `db:"payload_enc"`
			Attempts int    `db:"attempts"`
		}
		if err := tx.SelectContext(ctx, &rows, s.q(q), args...); err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		leaseEnd := micros(req.Now.Add(req.Lease))
		for _, r := range rows {
			ev, err := s.decodeEvent(r.ID, r.Payload)
			next := leaseEnd
			switch {
			case errors.Is(err, ErrUnknownKey):
				// Readable once the key is configured again: keep it, later.
				s.log.LogAttrs(ctx, slog.LevelError, "store: outbox event under an unknown key", slog.String("event_id", r.ID))
			case err != nil:
				s.log.LogAttrs(ctx, slog.LevelError, "store: outbox event unreadable; dead", slog.String("event_id", r.ID), slog.String("error", err.Error()))
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET status = 'dead', done_at = ? WHERE id = ?`), micros(req.Now), r.ID); err != nil {
					return fmt.Errorf("store: claim: %w", err)
				}
				continue
			default:
				out = append(out, bot.Delivery{Event: ev, Attempts: r.Attempts})
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET next_at = ? WHERE id = ?`), next, r.ID); err != nil {
				return fmt.Errorf("store: claim: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) decodeEvent(id string, payload []byte) (bot.Event, error) {
	var ev bot.Event
	if payload == nil {
		return ev, fmt.Errorf("store: event %s has no payload: %w", id, ErrCorrupt)
	}
	pt, err := s.open(payload, payloadAAD(id))
	if err != nil {
		return ev, err
	}
	if err := json.Unmarshal(pt, &ev); err != nil {
		return ev, fmt.Errorf("store: event %s: %w: %v", id, ErrCorrupt, err)
	}
	ev.Deliver = true
	return ev, nil
}

// MarkDelivered implements bot.Outbox.
func (s *Store) MarkDelivered(ctx context.Context, id string, now time.Time) error {
	return s.mark(ctx, id, `UPDATE outbox SET status = 'delivered', payload_enc = NULL, attempts = attempts + 1, done_at = ? WHERE id = ? AND status = 'pending'`, micros(now), id)
}

// MarkFailed implements bot.Outbox.
func (s *Store) MarkFailed(ctx context.Context, id string, next time.Time) error {
	return s.mark(ctx, id, `UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id = ? AND status = 'pending'`, micros(next), id)
}

// MarkDead implements bot.Outbox.
func (s *Store) MarkDead(ctx context.Context, id string, now time.Time) error {
	return s.mark(ctx, id, `UPDATE outbox SET status = 'dead', attempts = attempts + 1, done_at = ? WHERE id = ? AND status = 'pending'`, micros(now), id)
}

func (s *Store) mark(ctx context.Context, id, query string, args ...any) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(query), args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: mark event %s: %w", id, err)
	}
	return nil
}

// OutboxEntry is an outbox row as an admin sees it: no payload.
type OutboxEntry struct {
	ID             string    `db:"id" json:"id"`
	Type           string    `db:"type" json:"type"`
	ConversationID string    `db:"conversation_id" json:"conversation_id"`
	Status         string    `db:"status" json:"status"`
	Attempts       int       `db:"attempts" json:"attempts"`
	Next           time.Time `db:"-" json:"next"`
	Created        time.Time `db:"-" json:"created"`
}

// OutboxEntries lists outbox rows of a status ("" for all), oldest first,
// at most limit (0: 100).
func (s *Store) OutboxEntries(ctx context.Context, status string, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []struct {
		OutboxEntry
		NextAt    int64 `db:"next_at"`
		CreatedAt int64 `db:"created_at"`
	}
	err := s.db.SelectContext(ctx, &rows, s.q(`SELECT id, type, conversation_id, status, attempts, next_at, created_at FROM outbox
		WHERE (? = '' OR status = ?) ORDER BY created_at, id LIMIT ?`), status, status, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", err)
	}
	out := make([]OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = r.OutboxEntry
		out[i].Next, out[i].Created = fromMicros(r.NextAt), fromMicros(r.CreatedAt)
	}
	return out, nil
}

// Requeue makes a dead event pending and due now, with a fresh count of
// attempts, after an operator fixed its cause. It returns bot.ErrNotFound
// when no dead event has that id.
func (s *Store) Requeue(ctx context.Context, id, actor string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?, done_at = NULL WHERE id = ? AND status = 'dead' AND payload_enc IS NOT NULL`), micros(now), id)
		if err != nil {
			return fmt.Errorf("store: requeue %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: requeue %s: %w", id, bot.ErrNotFound)
		}
		return s.audit(ctx, tx, now, actor, "outbox.requeue", id)
	})
}
