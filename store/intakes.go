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

// IntakeInfo is what a list of intakes shows: nothing identifying and no
// health information, so listing needs no key.
type IntakeInfo struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Channel        string    `json:"channel"`
	Status         string    `json:"status"`
	Urgency        string    `json:"urgency"`
	ConsentVersion string    `json:"consent_version"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	Closed         time.Time `json:"closed,omitzero"`
}

type intakeRow struct {
	ID             string        `db:"id"`
	ConversationID string        `db:"conversation_id"`
	Channel        string        `db:"channel"`
	Status         string        `db:"status"`
	Urgency        string        `db:"urgency"`
	ConsentVersion string        `db:"consent_version"`
	Body           []byte        `db:"body_enc"`
	Created        int64         `db:"created_at"`
	Updated        int64         `db:"updated_at"`
	Closed         sql.NullInt64 `db:"closed_at"`
}

func (r intakeRow) info() IntakeInfo {
	in := IntakeInfo{ID: r.ID, ConversationID: r.ConversationID, Channel: r.Channel, Status: r.Status, Urgency: r.Urgency,
		ConsentVersion: r.ConsentVersion, Created: fromMicros(r.Created), Updated: fromMicros(r.Updated)}
	if r.Closed.Valid {
		in.Closed = fromMicros(r.Closed.Int64)
	}
	return in
}

// ListIntakes returns intakes, newest first, of one status ("" for all),
// at most limit (0: all), and records the listing in the audit log under
// actor.
func (s *Store) ListIntakes(ctx context.Context, status string, limit int, actor string) ([]IntakeInfo, error) {
	if actor == "" {
		return nil, errors.New("store: list intakes: no actor")
	}
	if _, ok := statusRank[status]; status != "" && !ok {
		return nil, fmt.Errorf("store: list intakes: unknown status %q (want new, claimed, contacted or closed)", status)
	}
	q := `SELECT id, conversation_id, channel, status, urgency, consent_version, created_at, updated_at, closed_at FROM intakes
		WHERE (? = '' OR status = ?) ORDER BY created_at DESC, id DESC`
	args := []any{status, status}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var rows []intakeRow
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		rows = rows[:0]
		if err := tx.SelectContext(ctx, &rows, s.q(q), args...); err != nil {
			return fmt.Errorf("store: list intakes: %w", err)
		}
		subject := "intakes"
		if status != "" {
			subject += "?status=" + status
		}
		return s.audit(ctx, tx, s.now(), actor, "intakes.list", subject)
	})
	if err != nil {
		return nil, err
	}
	out := make([]IntakeInfo, len(rows))
	for i, r := range rows {
		out[i] = r.info()
	}
	return out, nil
}

// Intake returns intake id decrypted, and records the read in the audit
// log under actor (an operator, or "system:slack" when the Slack side
// builds its message) before anything is returned. It returns
// bot.ErrNotFound for an unknown (or deleted, or purged) intake, and an
// error wrapping ErrCorrupt or ErrUnknownKey when its sealed part cannot be
// opened; the returned error then names the intake, and other intakes stay
// readable.
func (s *Store) Intake(ctx context.Context, id, actor string) (*bot.Intake, error) {
	if actor == "" {
		return nil, fmt.Errorf("store: intake %s: no actor", id)
	}
	if err := s.needKeys(); err != nil {
		return nil, fmt.Errorf("store: intake %s: %w", id, err)
	}
	var r intakeRow
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &r, s.q(`SELECT id, conversation_id, channel, status, urgency, consent_version, body_enc, created_at, updated_at, closed_at
			FROM intakes WHERE id = ?`), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: intake %s: %w", id, bot.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: intake %s: %w", id, err)
		}
		return s.audit(ctx, tx, s.now(), actor, "intake.read", id)
	})
	if err != nil {
		return nil, err
	}
	pt, err := s.open(r.Body, intakeAAD(r.ID))
	if err != nil {
		return nil, err
	}
	var body intakeBody
	if err := json.Unmarshal(pt, &body); err != nil {
		return nil, fmt.Errorf("store: intake %s: %w: %v", id, ErrCorrupt, err)
	}
	return &bot.Intake{
		ID: r.ID, ConversationID: r.ConversationID, Channel: r.Channel, Status: r.Status, Urgency: r.Urgency,
		ConsentVersion: r.ConsentVersion, Answers: body.Answers, Summary: body.Summary, Scores: body.Scores,
		Suggestion: body.Suggestion, Source: body.Source, Created: fromMicros(r.Created),
	}, nil
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
}

// AuditLog returns the audit entries about subject ("" for all), oldest
// first, at most limit (0: all).
func (s *Store) AuditLog(ctx context.Context, subject string, limit int) ([]AuditEntry, error) {
	q := `SELECT at, actor, action, subject FROM audit WHERE (? = '' OR subject = ?) ORDER BY id`
	args := []any{subject, subject}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var rows []struct {
		At      int64  `db:"at"`
		Actor   string `db:"actor"`
		Action  string `db:"action"`
		Subject string `db:"subject"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.q(q), args...); err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{At: fromMicros(r.At), Actor: r.Actor, Action: r.Action, Subject: r.Subject}
	}
	return out, nil
}

// Audit appends an entry to the audit log: actor did action to subject (an
// id, never a name or message text).
func (s *Store) Audit(ctx context.Context, actor, action, subject string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return s.audit(ctx, tx, s.now(), actor, action, subject) })
}

// Tombstone reports when conversation id was deleted at its participant's
// request, and whether it was.
func (s *Store) Tombstone(ctx context.Context, conversationID string) (time.Time, bool, error) {
	var at int64
	err := s.db.GetContext(ctx, &at, s.q(`SELECT deleted_at FROM tombstones WHERE conversation_id = ?`), conversationID)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: tombstone %s: %w", conversationID, err)
	}
	return fromMicros(at), true, nil
}
