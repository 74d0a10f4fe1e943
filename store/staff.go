package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"intakebot/bot"
)

// This file holds what the staff side (the Slack adapter) needs beyond the
// handoff basics in handoffs.go: reopening a closed case, crisis alerts
// that re-alert until someone acknowledges them, the conversation's mode
// for the case message, and remembering which Slack events were handled.

// ErrDeletedCase reports a staff action on the case of a participant who
// deleted their data: it cannot be reopened.
var ErrDeletedCase = errors.New("the participant deleted their data")

// Alert is the crisis-alert state of a handoff.
type Alert struct {
	// Due is when the next re-alert is due, or zero when none is armed.
	Due time.Time
	// Acked is when someone acknowledged the alert, or zero; AckedBy who.
	Acked   time.Time
	AckedBy string
	// Realerts counts the re-alerts sent.
	Realerts int
	// Repeats counts the crisis messages this alert stands for (1 for the
	// first; repeats within the engine's alert window update the alert).
	Repeats int
	// Category is the crisis category id of the latest crisis message, if
	// any.
	Category string
}

// HandoffAlert returns the alert state of handoff id, or bot.ErrNotFound.
func (s *Store) HandoffAlert(ctx context.Context, id string) (Alert, error) {
	var r struct {
		Due      sql.NullInt64  `db:"alert_due_at"`
		Acked    sql.NullInt64  `db:"acked_at"`
		AckedBy  sql.NullString `db:"acked_by"`
		Realerts int            `db:"realerts"`
		Repeats  int            `db:"repeats"`
		Category []byte         `db:"category_enc"`
	}
	err := s.db.GetContext(ctx, &r, s.q(`SELECT alert_due_at, acked_at, acked_by, realerts, repeats, category_enc FROM handoffs WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, fmt.Errorf("store: alert of handoff %s: %w", id, bot.ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("store: alert of handoff %s: %w", id, err)
	}
	a := Alert{AckedBy: r.AckedBy.String, Realerts: r.Realerts, Repeats: r.Repeats}
	if r.Due.Valid {
		a.Due = fromMicros(r.Due.Int64)
	}
	if r.Acked.Valid {
		a.Acked = fromMicros(r.Acked.Int64)
	}
	if r.Category != nil {
		if err := s.needKeys(); err != nil {
			return a, fmt.Errorf("store: alert of handoff %s: %w", id, err)
		}
		pt, err := s.open(r.Category, categoryAAD(id))
		if err != nil {
			return a, err
		}
		a.Category = string(pt)
	}
	return a, nil
}

// ArmAlert makes a re-alert of handoff id due at due, unless the alert was
// already acknowledged (then it is a no-op). It returns bot.ErrNotFound for
// an unknown handoff.
func (s *Store) ArmAlert(ctx context.Context, id string, due time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET alert_due_at = CASE WHEN acked_at IS NULL THEN CAST(? AS BIGINT) ELSE NULL END WHERE id = ?`), micros(due), id)
		if err != nil {
			return fmt.Errorf("store: arm alert of handoff %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: arm alert of handoff %s: %w", id, bot.ErrNotFound)
		}
		return nil
	})
}

func categoryAAD(id string) string { return "handoffs.category/" + id }

// NoteCrisis records what the alert of handoff id stands for: count crisis
// messages (never lowering it: deliveries can arrive out of order) and the
// crisis category, sealed (it is health information; a deletion clears
// it), when one is given. It returns bot.ErrNotFound for an unknown
// handoff.
func (s *Store) NoteCrisis(ctx context.Context, id string, count int, category string) error {
	if err := s.needKeys(); err != nil {
		return fmt.Errorf("store: note crisis of handoff %s: %w", id, err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET repeats = CASE WHEN repeats < ? THEN ? ELSE repeats END WHERE id = ?`), count, count, id)
		if err != nil {
			return fmt.Errorf("store: note crisis of handoff %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: note crisis of handoff %s: %w", id, bot.ErrNotFound)
		}
		if category == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET category_enc = ? WHERE id = ?`), s.seal([]byte(category), categoryAAD(id)), id); err != nil {
			return fmt.Errorf("store: note crisis of handoff %s: %w", id, err)
		}
		return nil
	})
}

// AckHandoff records that actor acknowledged the alert of handoff id, and
// disarms its re-alerts, with an audit entry, in one transaction. A second
// acknowledgement changes nothing and is not an error: acknowledged reports
// whether this call was the one that acknowledged. It returns
// bot.ErrNotFound for an unknown handoff.
func (s *Store) AckHandoff(ctx context.Context, id, actor string) (acknowledged bool, err error) {
	if actor == "" {
		return false, fmt.Errorf("store: acknowledge handoff %s: no actor", id)
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		acknowledged = false
		now := s.now()
		res, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET acked_at = ?, acked_by = ?, alert_due_at = NULL, updated_at = ? WHERE id = ? AND acked_at IS NULL`),
			micros(now), actor, micros(now), id)
		if err != nil {
			return fmt.Errorf("store: acknowledge handoff %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			err := tx.GetContext(ctx, &one, s.q(`SELECT 1 FROM handoffs WHERE id = ?`), id)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: acknowledge handoff %s: %w", id, bot.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("store: acknowledge handoff %s: %w", id, err)
			}
			return nil
		}
		acknowledged = true
		return s.audit(ctx, tx, now, actor, "handoff.acknowledge", id)
	})
	return acknowledged, err
}

// DueAlerts returns up to limit urgent handoffs whose re-alert is due at
// now: armed, not acknowledged, not closed, with a staff message. Oldest
// due first.
func (s *Store) DueAlerts(ctx context.Context, now time.Time, limit int) ([]HandoffRecord, error) {
	if limit <= 0 {
		limit = 20
	}
	var rows []handoffRow
	err := s.db.SelectContext(ctx, &rows, s.q(`SELECT `+handoffColumns+` FROM handoffs
		WHERE alert_due_at IS NOT NULL AND alert_due_at <= ? AND acked_at IS NULL AND status <> ? AND slack_ts IS NOT NULL
		ORDER BY alert_due_at, id LIMIT ?`), micros(now), bot.IntakeClosed, limit)
	if err != nil {
		return nil, fmt.Errorf("store: due alerts: %w", err)
	}
	out := make([]HandoffRecord, 0, len(rows))
	for _, r := range rows {
		h, err := s.handoffRecord(r)
		if err != nil {
			return nil, err
		}
		out = append(out, *h)
	}
	return out, nil
}

// TakeRealert claims the re-alert of handoff id that was due at due: it
// moves the due time to next and counts one re-alert, and reports true,
// only if the alert is still armed for due and not acknowledged. Of
// several processes that found the same due alert, exactly one gets true.
func (s *Store) TakeRealert(ctx context.Context, id string, due, next time.Time) (bool, error) {
	var took bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET alert_due_at = ?, realerts = realerts + 1
			WHERE id = ? AND alert_due_at = ? AND acked_at IS NULL`), micros(next), id, micros(due))
		if err != nil {
			return fmt.Errorf("store: take re-alert of handoff %s: %w", id, err)
		}
		n, _ := res.RowsAffected()
		took = n == 1
		return nil
	})
	return took, err
}

// ReopenHandoff reopens closed handoff id for actor: its status goes back
// to claimed when someone has it, otherwise to new; the closing time and
// outcome are cleared; the intake of an intake handoff follows; and the
// audit log records it, in one transaction. Reopening a case that is not
// closed changes nothing and is not an error. It returns bot.ErrNotFound,
// or ErrDeletedCase when the participant deleted their data.
func (s *Store) ReopenHandoff(ctx context.Context, id, actor string) (*HandoffRecord, error) {
	if actor == "" {
		return nil, fmt.Errorf("store: reopen handoff %s: no actor", id)
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.now()
		var r handoffRow
		err := tx.GetContext(ctx, &r, s.q(`SELECT `+handoffColumns+` FROM handoffs WHERE id = ?`+s.forUpdate()), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: reopen handoff %s: %w", id, bot.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: reopen handoff %s: %w", id, err)
		}
		if r.Status != bot.IntakeClosed {
			return nil
		}
		var deleted int
		if err := tx.GetContext(ctx, &deleted, s.q(`SELECT COUNT(*) FROM tombstones WHERE conversation_id = ?`), r.ConversationID); err != nil {
			return fmt.Errorf("store: reopen handoff %s: %w", id, err)
		}
		if deleted > 0 {
			return fmt.Errorf("store: reopen handoff %s: %w", id, ErrDeletedCase)
		}
		status := bot.IntakeNew
		if r.Assignee.Valid && r.Assignee.String != "" {
			status = bot.IntakeClaimed
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET status = ?, outcome_enc = NULL, closed_at = NULL, updated_at = ? WHERE id = ?`),
			status, micros(now), id); err != nil {
			return fmt.Errorf("store: reopen handoff %s: %w", id, err)
		}
		if r.IntakeID.Valid && r.Reason == bot.ReasonIntake {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE intakes SET status = ?, closed_at = NULL, updated_at = ? WHERE id = ?`),
				status, micros(now), r.IntakeID.String); err != nil {
				return fmt.Errorf("store: reopen intake of handoff %s: %w", id, err)
			}
		}
		return s.audit(ctx, tx, now, actor, "handoff.reopen", id)
	})
	if err != nil {
		return nil, err
	}
	return s.Handoff(ctx, id)
}

// OpenHandoff saves a case opened outside a turn (the staff side opens one
// when a participant's relayed message has no case to go to). A handoff
// with the same id already saved is left as it is, so a retry is harmless.
func (s *Store) OpenHandoff(ctx context.Context, h bot.Handoff) error {
	if h.ID == "" || h.ConversationID == "" {
		return errors.New("store: open handoff: no id or conversation")
	}
	if h.Status == "" {
		h.Status = bot.IntakeNew
	}
	at := orNow(h.Created, s.now())
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO handoffs (id, conversation_id, intake_id, reason, urgency, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
			h.ID, h.ConversationID, nullString(h.IntakeID), h.Reason, h.Urgency, h.Status, micros(at), micros(at))
		if err != nil {
			return fmt.Errorf("store: open handoff %s: %w", h.ID, err)
		}
		return nil
	})
}

// ConversationMode returns the mode of conversation id (bot.ModeBot,
// bot.ModeCrisis or bot.ModeHuman), so a case message can offer "Return to
// bot" only while staff have the conversation. It returns bot.ErrNotFound
// for an unknown or deleted conversation. Nothing else of the state leaves
// the store.
func (s *Store) ConversationMode(ctx context.Context, id string) (string, error) {
	if err := s.needKeys(); err != nil {
		return "", fmt.Errorf("store: conversation mode: %w", err)
	}
	var state []byte
	err := s.db.GetContext(ctx, &state, s.q(`SELECT state_enc FROM conversations WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && state == nil) {
		return "", fmt.Errorf("store: conversation %s: %w", id, bot.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: conversation %s: %w", id, err)
	}
	pt, err := s.open(state, stateAAD(id))
	if err != nil {
		return "", err
	}
	var st struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal(pt, &st); err != nil {
		return "", fmt.Errorf("store: conversation %s: %w: %v", id, ErrCorrupt, err)
	}
	return st.Mode, nil
}

// ClaimKey records key (an id from outside: a Slack event id, a delivered
// event) in the table of processed ids and reports whether this call
// recorded it; false means it was already there, so the caller skips the
// work. Keys are kept a day (see Purge). Namespace them ("slack-event/…")
// so they never meet a channel's update ids.
func (s *Store) ClaimKey(ctx context.Context, key string) (bool, error) {
	var first bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO processed (update_key, at) VALUES (?, ?) ON CONFLICT (update_key) DO NOTHING`), key, micros(s.now()))
		if err != nil {
			return fmt.Errorf("store: claim key: %w", err)
		}
		n, _ := res.RowsAffected()
		first = n == 1
		return nil
	})
	return first, err
}

// ReleaseKey forgets key, so work that failed after ClaimKey can be done
// when it comes again.
func (s *Store) ReleaseKey(ctx context.Context, key string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM processed WHERE update_key = ?`), key); err != nil {
			return fmt.Errorf("store: release key: %w", err)
		}
		return nil
	})
}

// HasKey reports whether key was recorded (and not yet purged).
func (s *Store) HasKey(ctx context.Context, key string) (bool, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.q(`SELECT COUNT(*) FROM processed WHERE update_key = ?`), key); err != nil {
		return false, fmt.Errorf("store: has key: %w", err)
	}
	return n > 0, nil
}
