package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"intakebot/bot"
)

// OutcomeDeleted is the outcome of a handoff closed because the
// participant deleted their data.
const OutcomeDeleted = "deleted by participant"

// ErrTransition reports a handoff status change that is not allowed: a
// status can only move forward, new → claimed → contacted → closed (steps
// may be skipped), and a closed handoff stays closed until ReopenHandoff
// (store/staff.go) reopens it.
var ErrTransition = errors.New("handoff status cannot move back")

// HandoffRecord is a handoff with what staff did with it.
type HandoffRecord struct {
	bot.Handoff
	// Assignee is the staff member who has the case (a Slack user id).
	Assignee string `json:"assignee,omitempty"`
	// Outcome is how the case was closed.
	Outcome string `json:"outcome,omitempty"`
	// SlackChannel and SlackTS locate the staff message for the handoff.
	SlackChannel string    `json:"slack_channel,omitempty"`
	SlackTS      string    `json:"slack_ts,omitempty"`
	Updated      time.Time `json:"updated"`
	// Closed is when the case was closed, or zero.
	Closed time.Time `json:"closed,omitzero"`
}

// HandoffUpdate is a staff action on a handoff.
type HandoffUpdate struct {
	// Actor is who acts (a Slack user id, or an operator's name); required.
	Actor string
	// Status is the new status, or "" to keep it.
	Status string
	// Assignee is the new assignee, or "" to keep it.
	Assignee string
	// Outcome is recorded when the status becomes closed.
	Outcome string
}

var statusRank = map[string]int{bot.IntakeNew: 0, bot.IntakeClaimed: 1, bot.IntakeContacted: 2, bot.IntakeClosed: 3}

type handoffRow struct {
	ID             string         `db:"id"`
	ConversationID string         `db:"conversation_id"`
	IntakeID       sql.NullString `db:"intake_id"`
	Reason         string         `db:"reason"`
	Urgency        string         `db:"urgency"`
	Status         string         `db:"status"`
	Assignee       sql.NullString `db:"assignee"`
	Outcome        []byte         `db:"outcome_enc"`
	SlackChannel   sql.NullString `db:"slack_channel"`
	SlackTS        sql.NullString `db:"slack_ts"`
	Created        int64          `db:"created_at"`
	Updated        int64          `db:"updated_at"`
	Closed         sql.NullInt64  `db:"closed_at"`
}

const handoffColumns = `id, conversation_id, intake_id, reason, urgency, status, assignee, outcome_enc, slack_channel, slack_ts, created_at, updated_at, closed_at`

func (s *Store) handoffRecord(r handoffRow) (*HandoffRecord, error) {
	h := &HandoffRecord{
		Handoff: bot.Handoff{ID: r.ID, ConversationID: r.ConversationID, IntakeID: r.IntakeID.String, Reason: r.Reason,
			Urgency: r.Urgency, Status: r.Status, Created: fromMicros(r.Created)},
		Assignee: r.Assignee.String, SlackChannel: r.SlackChannel.String, SlackTS: r.SlackTS.String,
		Updated: fromMicros(r.Updated),
	}
	if r.Closed.Valid {
		h.Closed = fromMicros(r.Closed.Int64)
	}
	if r.Outcome != nil {
		if err := s.needKeys(); err != nil {
			return nil, err
		}
		pt, err := s.open(r.Outcome, outcomeAAD(r.ID))
		if err != nil {
			return h, err
		}
		h.Outcome = string(pt)
	}
	return h, nil
}

// Handoff returns the handoff with id, or bot.ErrNotFound.
func (s *Store) Handoff(ctx context.Context, id string) (*HandoffRecord, error) {
	var r handoffRow
	err := s.db.GetContext(ctx, &r, s.q(`SELECT `+handoffColumns+` FROM handoffs WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: handoff %s: %w", id, bot.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: handoff %s: %w", id, err)
	}
	return s.handoffRecord(r)
}

// Handoffs returns the handoffs of a conversation, newest first (none for
// an unknown conversation). The Slack side uses it to find the thread a
// participant's relayed message belongs to.
func (s *Store) Handoffs(ctx context.Context, conversationID string) ([]HandoffRecord, error) {
	var rows []handoffRow
	if err := s.db.SelectContext(ctx, &rows, s.q(`SELECT `+handoffColumns+` FROM handoffs WHERE conversation_id = ? ORDER BY created_at DESC, id DESC`), conversationID); err != nil {
		return nil, fmt.Errorf("store: handoffs of %s: %w", conversationID, err)
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

// FindHandoffByMessage returns the handoff whose staff message is ts in
// Slack channel, or bot.ErrNotFound.
func (s *Store) FindHandoffByMessage(ctx context.Context, channel, ts string) (*HandoffRecord, error) {
	var r handoffRow
	err := s.db.GetContext(ctx, &r, s.q(`SELECT `+handoffColumns+` FROM handoffs WHERE slack_channel = ? AND slack_ts = ?`), channel, ts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: handoff for message %s/%s: %w", channel, ts, bot.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: handoff for message %s/%s: %w", channel, ts, err)
	}
	return s.handoffRecord(r)
}

// SetHandoffMessage records where the staff message of handoff id lives
// (Slack channel id and message ts), replacing any earlier reference. It
// returns bot.ErrNotFound for an unknown handoff.
func (s *Store) SetHandoffMessage(ctx context.Context, id, channel, ts string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET slack_channel = ?, slack_ts = ? WHERE id = ?`), channel, ts, id)
		if err != nil {
			return fmt.Errorf("store: set message of handoff %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: set message of handoff %s: %w", id, bot.ErrNotFound)
		}
		return nil
	})
}

// UpdateHandoff applies a staff action to handoff id and writes it to the
// audit log, in one transaction; the intake of an intake handoff takes the
// same status (a later request for a person or a crisis alert about the
// same participant does not close their intake).
// Repeating the current status (a double click) changes nothing and is
// not an error. It returns the updated handoff, or bot.ErrNotFound,
// ErrTransition for a move backwards, or an error for an unknown status
// or a missing actor.
func (s *Store) UpdateHandoff(ctx context.Context, id string, u HandoffUpdate) (*HandoffRecord, error) {
	if u.Actor == "" {
		return nil, fmt.Errorf("store: update handoff %s: no actor", id)
	}
	if _, ok := statusRank[u.Status]; u.Status != "" && !ok {
		return nil, fmt.Errorf("store: update handoff %s: unknown status %q", id, u.Status)
	}
	if u.Outcome != "" {
		if err := s.needKeys(); err != nil {
			return nil, fmt.Errorf("store: update handoff %s: %w", id, err)
		}
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.now()
		var r handoffRow
		err := tx.GetContext(ctx, &r, s.q(`SELECT `+handoffColumns+` FROM handoffs WHERE id = ?`+s.forUpdate()), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: update handoff %s: %w", id, bot.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: update handoff %s: %w", id, err)
		}
		status, assignee := r.Status, r.Assignee.String
		var actions []string
		if u.Status != "" && u.Status != r.Status {
			if statusRank[u.Status] < statusRank[r.Status] {
				return fmt.Errorf("store: update handoff %s from %s to %s: %w", id, r.Status, u.Status, ErrTransition)
			}
			status = u.Status
			actions = append(actions, "handoff."+status)
		}
		if u.Assignee != "" && u.Assignee != assignee {
			assignee = u.Assignee
			actions = append(actions, "handoff.assign")
		}
		if len(actions) == 0 {
			return nil
		}
		closed := r.Closed
		outcome := r.Outcome
		if status == bot.IntakeClosed && !closed.Valid {
			closed = sql.NullInt64{Int64: micros(now), Valid: true}
			if u.Outcome != "" {
				outcome = s.seal([]byte(u.Outcome), outcomeAAD(id))
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET status = ?, assignee = ?, outcome_enc = ?, closed_at = ?, updated_at = ? WHERE id = ?`),
			status, nullString(assignee), outcome, closed, micros(now), id); err != nil {
			return fmt.Errorf("store: update handoff %s: %w", id, err)
		}
		if r.IntakeID.Valid && r.Reason == bot.ReasonIntake && status != r.Status {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE intakes SET status = ?, closed_at = ?, updated_at = ? WHERE id = ?`),
				status, closed, micros(now), r.IntakeID.String); err != nil {
				return fmt.Errorf("store: update intake of handoff %s: %w", id, err)
			}
		}
		for _, a := range actions {
			if err := s.audit(ctx, tx, now, u.Actor, a, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Handoff(ctx, id)
}
