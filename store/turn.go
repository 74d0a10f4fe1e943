package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"intakebot/bot"
)

// convRow is a conversations row.
type convRow struct {
	ID      string `db:"id"`
	Lookup  string `db:"lookup"`
	Channel string `db:"channel"`
	Chat    []byte `db:"chat_enc"`
	State   []byte `db:"state_enc"`
	Version int64  `db:"version"`
	Created int64  `db:"created_at"`
	Updated int64  `db:"updated_at"`
}

const convColumns = `id, lookup, channel, chat_enc, state_enc, version, created_at, updated_at`

func chatAAD(id string) string       { return "conversations.chat/" + id }
func stateAAD(id string) string      { return "conversations.state/" + id }
func transcriptAAD(id string) string { return "transcript.body/" + id }
func intakeAAD(id string) string     { return "intakes.body/" + id }
func outcomeAAD(id string) string    { return "handoffs.outcome/" + id }
func payloadAAD(id string) string    { return "outbox.payload/" + id }

// Turn implements bot.Store. In one transaction it records updateID (a
// repeat returns bot.ErrDuplicate before fn runs), finds or creates the
// conversation for key and locks it (a row lock on PostgreSQL, the write
// lock on SQLite), runs fn, and writes everything the returned Changes
// hold: state, transcript, consent, intake, handoffs, outbox events. A
// conflict with another writer reruns the whole transaction, fn included.
// Without keys it returns ErrNoKey; a conversation sealed under a key that
// is not configured gives ErrUnknownKey; a corrupt conversation state is
// logged and replaced by a fresh state, so the participant is not locked
// out.
func (s *Store) Turn(ctx context.Context, key bot.Key, updateID string, fn bot.TurnFunc) error {
	if err := s.needKeys(); err != nil {
		return fmt.Errorf("store: turn: %w", err)
	}
	lookups := s.keys.lookups(key.Channel, key.ChatID)
	defer s.locks.Lock(lookups[0])()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := s.now()
		if updateID != "" {
			res, err := s.exec(ctx, tx, `INSERT INTO processed (update_key, at) VALUES (?, ?) ON CONFLICT (update_key) DO NOTHING`,
				key.Channel+"/"+updateID, micros(now))
			if err != nil {
				return fmt.Errorf("store: turn: record update: %w", err)
			}
			if n, err := res.RowsAffected(); err == nil && n == 0 {
				return bot.ErrDuplicate
			}
		}
		row, err := s.lockByLookup(ctx, tx, key, lookups, now)
		if err != nil {
			return err
		}
		return s.runTurn(ctx, tx, row, key, now, fn)
	})
}

// TurnByID implements bot.StaffStore: it runs fn on the conversation with
// id, as Turn does for a chat, under the same lock and in one transaction
// with everything the Changes hold. Staff-side actions use it (a staff
// message, human mode). It returns an error wrapping bot.ErrNotFound,
// without calling fn, when no such conversation exists (never created, or
// deleted at the participant's request).
func (s *Store) TurnByID(ctx context.Context, id string, fn bot.TurnFunc) error {
	if err := s.needKeys(); err != nil {
		return fmt.Errorf("store: conversation turn: %w", err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row convRow
		err := tx.GetContext(ctx, &row, s.q(`SELECT `+convColumns+` FROM conversations WHERE id = ?`+s.forUpdate()), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: conversation %s: %w", id, bot.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: conversation %s: %w", id, err)
		}
		chat, err := s.open(row.Chat, chatAAD(row.ID))
		if err != nil {
			return err
		}
		key := bot.Key{Channel: row.Channel, ChatID: string(chat)}
		if primary := s.keys.lookups(key.Channel, key.ChatID)[0]; row.Lookup != primary {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE conversations SET lookup = ? WHERE id = ?`), primary, row.ID); err != nil {
				return fmt.Errorf("store: conversation %s: re-key lookup: %w", id, err)
			}
			row.Lookup = primary
		}
		return s.runTurn(ctx, tx, &row, key, s.now(), fn)
	})
}

// Conversation returns the conversation of key as it was last committed,
// without locking or creating anything, or an error wrapping
// bot.ErrNotFound when there is none. Tests and tools use it; turns go
// through Turn.
func (s *Store) Conversation(ctx context.Context, key bot.Key) (*bot.Conversation, error) {
	if err := s.needKeys(); err != nil {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	q, args, err := sqlx.In(`SELECT `+convColumns+` FROM conversations WHERE lookup IN (?)`, s.keys.lookups(key.Channel, key.ChatID))
	if err != nil {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	var rows []convRow
	if err := s.db.SelectContext(ctx, &rows, s.q(q), args...); err != nil {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	if len(rows) == 0 || rows[0].State == nil {
		return nil, fmt.Errorf("store: conversation: %w", bot.ErrNotFound)
	}
	r := rows[0]
	c := &bot.Conversation{ID: r.ID, Key: key, Version: r.Version, Created: fromMicros(r.Created), Updated: fromMicros(r.Updated)}
	pt, err := s.open(r.State, stateAAD(r.ID))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(pt, &c.State); err != nil {
		return nil, fmt.Errorf("store: conversation %s: %w: %v", r.ID, ErrCorrupt, err)
	}
	return c, nil
}

// lockByLookup returns the locked conversation row for key, inserting an
// empty one first when none exists (so there is a row to lock, and two
// processes creating the same conversation meet on its unique lookup).
func (s *Store) lockByLookup(ctx context.Context, tx *sqlx.Tx, key bot.Key, lookups []string, now time.Time) (*convRow, error) {
	sel, args, err := sqlx.In(`SELECT `+convColumns+` FROM conversations WHERE lookup IN (?)`+s.forUpdate(), lookups)
	if err != nil {
		return nil, fmt.Errorf("store: turn: %w", err)
	}
	var rows []convRow
	if err := s.sel(ctx, tx, &rows, sel, args...); err != nil {
		return nil, fmt.Errorf("store: turn: load conversation: %w", err)
	}
	if len(rows) == 0 {
		id := s.newID()
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO conversations (id, lookup, channel, chat_enc, state_enc, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, NULL, 0, ?, ?) ON CONFLICT (lookup) DO NOTHING`),
			id, lookups[0], key.Channel, s.seal([]byte(key.ChatID), chatAAD(id)), micros(now), micros(now))
		if err != nil {
			return nil, fmt.Errorf("store: turn: create conversation: %w", err)
		}
		if err := s.sel(ctx, tx, &rows, sel, args...); err != nil {
			return nil, fmt.Errorf("store: turn: load conversation: %w", err)
		}
		if len(rows) == 0 {
			return nil, fmt.Errorf("store: turn: conversation vanished: %w", errConflict)
		}
	}
	row := &rows[0]
	for i := range rows {
		if rows[i].Lookup == lookups[0] {
			row = &rows[i]
		}
	}
	if row.Lookup != lookups[0] {
		// Found under an old key: move it to the current key's lookup.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE conversations SET lookup = ? WHERE id = ?`), lookups[0], row.ID); err != nil {
			return nil, fmt.Errorf("store: turn: re-key lookup: %w", err)
		}
		row.Lookup = lookups[0]
	}
	return row, nil
}

// runTurn decodes the locked conversation, runs fn and applies its changes.
func (s *Store) runTurn(ctx context.Context, tx *sqlx.Tx, row *convRow, key bot.Key, now time.Time, fn bot.TurnFunc) error {
	conv := &bot.Conversation{ID: row.ID, Key: key, Version: row.Version}
	if row.State != nil {
		conv.Created, conv.Updated = fromMicros(row.Created), fromMicros(row.Updated)
		pt, err := s.open(row.State, stateAAD(row.ID))
		if err == nil {
			err = json.Unmarshal(pt, &conv.State)
		}
		switch {
		case errors.Is(err, ErrUnknownKey):
			return err
		case err != nil:
			// A damaged state must not lock the person out: start afresh,
			// and leave a trace for the admin.
			s.log.LogAttrs(ctx, slog.LevelError, "store: conversation state unreadable; starting afresh",
				slog.String("conversation", row.ID), slog.String("error", err.Error()))
			conv.State = bot.State{}
			if err := s.audit(ctx, tx, now, "system", "conversation.state_unreadable", row.ID); err != nil {
				return err
			}
		}
	}
	ch, err := fn(conv)
	if err != nil {
		return err
	}
	if ch == nil {
		return nil
	}
	return s.apply(ctx, tx, row, key, now, ch)
}

// intakeBody is the sealed part of an intake.
type intakeBody struct {
	Answers    map[string]bot.Answer `json:"answers"`
	Summary    []bot.SummaryLine     `json:"summary,omitempty"`
	Scores     map[string]bot.Score  `json:"scores,omitempty"`
	Suggestion *bot.Suggestion       `json:"suggestion,omitempty"`
	Source     string                `json:"source,omitempty"`
}

// apply writes a turn's changes to the locked conversation row.
func (s *Store) apply(ctx context.Context, tx *sqlx.Tx, row *convRow, key bot.Key, now time.Time, ch *bot.Changes) error {
	var deleted map[string]any
	if ch.Delete {
		var err error
		if deleted, err = s.erase(ctx, tx, row, now); err != nil {
			return err
		}
	}
	convID := row.ID
	transcript := ch.Transcript
	if len(transcript) > 0 && (ch.Conversation == nil || !consented(ch.Conversation.State)) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "store: transcript without consent not saved", slog.String("conversation", convID))
		transcript = nil
	}
	if c := ch.Conversation; c != nil {
		state, err := json.Marshal(c.State)
		if err != nil {
			return fmt.Errorf("store: turn: encode state: %w", err)
		}
		created, updated := orNow(c.Created, now), orNow(c.Updated, now)
		switch {
		case ch.Delete:
			// The old row is gone; what remains is the fresh conversation.
			if c.ID == "" {
				c.ID = s.newID()
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO conversations (id, lookup, channel, chat_enc, state_enc, version, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, 1, ?, ?)`),
				c.ID, row.Lookup, key.Channel, s.seal([]byte(key.ChatID), chatAAD(c.ID)), s.seal(state, stateAAD(c.ID)), micros(created), micros(updated))
			if err != nil {
				return fmt.Errorf("store: turn: create conversation after delete: %w", err)
			}
			convID = c.ID
		case c.ID != "" && c.ID != row.ID:
			return fmt.Errorf("store: turn: the conversation id changed without a delete")
		default:
			q := `UPDATE conversations SET state_enc = ?, version = version + 1, created_at = ?, updated_at = ? WHERE id = ? AND version = ?`
			args := []any{s.seal(state, stateAAD(row.ID)), micros(created), micros(updated), row.ID, row.Version}
			if s.dialect == dialectPostgres && len(transcript) > 0 {
				// One round trip instead of two: the transcript rides
				// along in a data-modifying WITH.
				tq, targs := s.transcriptInsert(row.ID, transcript)
				q, args = `WITH t AS (`+tq+`) `+q, append(targs, args...)
				transcript = nil
			}
			res, err := s.exec(ctx, tx, q, args...)
			if err != nil {
				return fmt.Errorf("store: turn: save state: %w", err)
			}
			if n, err := res.RowsAffected(); err == nil && n == 0 {
				return errConflict
			}
		}
	}
	if len(transcript) > 0 {
		q, args := s.transcriptInsert(convID, transcript)
		if _, err := s.exec(ctx, tx, q, args...); err != nil {
			return fmt.Errorf("store: turn: save transcript: %w", err)
		}
	}
	if c := ch.Consent; c != nil {
		if err := s.insertConsent(ctx, tx, convID, c, now); err != nil {
			return err
		}
	}
	if in := ch.Intake; in != nil {
		if err := s.insertIntake(ctx, tx, convID, key, in, now); err != nil {
			return err
		}
	}
	for _, h := range ch.Handoffs {
		if h.ConversationID == "" {
			h.ConversationID = convID
		}
		if h.Status == "" {
			h.Status = bot.IntakeNew
		}
		at := orNow(h.Created, now)
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO handoffs (id, conversation_id, intake_id, reason, urgency, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			h.ID, h.ConversationID, nullString(h.IntakeID), h.Reason, h.Urgency, h.Status, micros(at), micros(at))
		if err != nil {
			return fmt.Errorf("store: turn: save handoff %s: %w", h.ID, err)
		}
	}
	for _, ev := range ch.Events {
		if !ev.Deliver {
			continue
		}
		switch ev.Type {
		case bot.EventDeleted:
			ev.Data = withData(ev.Data, deleted)
		case bot.EventStaffMessage:
			ev.Data = withData(ev.Data, map[string]any{"channel": key.Channel, "chat_id": key.ChatID})
			// Every staff action is audited, in the same transaction.
			if staff, _ := ev.Data["staff"].(string); staff != "" {
				if err := s.audit(ctx, tx, now, staff, "conversation.staff_message", convID); err != nil {
					return err
				}
			}
		}
		if ev.ConversationID == "" {
			ev.ConversationID = convID
		}
		if err := s.insertEvent(ctx, tx, ev, now); err != nil {
			return err
		}
	}
	return nil
}

func withData(data, extra map[string]any) map[string]any {
	out := make(map[string]any, len(data)+len(extra))
	maps.Copy(out, data)
	maps.Copy(out, extra)
	return out
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// consented reports whether the state holds a granted consent: the only
// case in which a transcript is kept.
func consented(st bot.State) bool { return st.Consent != nil && st.Consent.Granted }

// transcriptInsert returns one INSERT of every entry, sealed.
func (s *Store) transcriptInsert(convID string, entries []bot.TranscriptEntry) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO transcript (conversation_id, direction, body_enc, at) VALUES `)
	args := make([]any, 0, 4*len(entries))
	for i, e := range entries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
		args = append(args, convID, e.Direction, s.seal([]byte(e.Text), transcriptAAD(convID)), micros(e.At))
	}
	return b.String(), args
}

func (s *Store) insertConsent(ctx context.Context, tx *sqlx.Tx, convID string, c *bot.Consent, now time.Time) error {
	at := orNow(c.At, now)
	scope := c.Scope
	if !c.Granted {
		// A refusal withdraws any earlier grant of the same scope.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE consents SET revoked_at = ? WHERE conversation_id = ? AND scope = ? AND granted = ? AND revoked_at IS NULL`),
			micros(at), convID, scope, true); err != nil {
			return fmt.Errorf("store: turn: revoke consent: %w", err)
		}
	}
	var granted sql.NullInt64
	if c.Granted {
		granted = sql.NullInt64{Int64: micros(at), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consents (conversation_id, version, scope, granted, granted_at, at) VALUES (?, ?, ?, ?, ?, ?)`),
		convID, c.Version, scope, c.Granted, granted, micros(at)); err != nil {
		return fmt.Errorf("store: turn: save consent: %w", err)
	}
	return nil
}

func (s *Store) insertIntake(ctx context.Context, tx *sqlx.Tx, convID string, key bot.Key, in *bot.Intake, now time.Time) error {
	body, err := json.Marshal(intakeBody{Answers: in.Answers, Summary: in.Summary, Scores: in.Scores, Suggestion: in.Suggestion, Source: in.Source})
	if err != nil {
		return fmt.Errorf("store: turn: encode intake: %w", err)
	}
	status := in.Status
	if status == "" {
		status = bot.IntakeNew
	}
	channel := in.Channel
	if channel == "" {
		channel = key.Channel
	}
	cid := in.ConversationID
	if cid == "" {
		cid = convID
	}
	at := orNow(in.Created, now)
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO intakes (id, conversation_id, channel, status, urgency, consent_version, body_enc, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		in.ID, cid, channel, status, in.Urgency, in.ConsentVersion, s.seal(body, intakeAAD(in.ID)), micros(at), micros(at))
	if err != nil {
		return fmt.Errorf("store: turn: save intake %s: %w", in.ID, err)
	}
	return nil
}

func (s *Store) insertEvent(ctx context.Context, tx *sqlx.Tx, ev bot.Event, now time.Time) error {
	if ev.ID == "" {
		ev.ID = s.newID()
	}
	if ev.At.IsZero() {
		ev.At = now
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("store: turn: encode event %s: %w", ev.ID, err)
	}
	_, err = s.exec(ctx, tx, `INSERT INTO outbox (id, type, conversation_id, payload_enc, status, attempts, next_at, created_at)
		VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
		ev.ID, ev.Type, ev.ConversationID, s.seal(payload, payloadAAD(ev.ID)), micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("store: turn: queue event %s: %w", ev.ID, err)
	}
	return nil
}

// erase deletes a participant's data for the locked conversation row:
// transcript, consents, intakes and the conversation itself; cancels
// undelivered messages to or from them and drops delivered payloads;
// closes their open handoffs (kept, with no identifying data, so staff can
// see the case ended) and leaves a tombstone. It returns what the Slack
// side needs to redact its copy: the handoff ids with their message
// references, and the intake ids.
func (s *Store) erase(ctx context.Context, tx *sqlx.Tx, row *convRow, now time.Time) (map[string]any, error) {
	id := row.ID
	var hs []struct {
		ID       string         `db:"id"`
		IntakeID sql.NullString `db:"intake_id"`
		Status   string         `db:"status"`
		Channel  sql.NullString `db:"slack_channel"`
		TS       sql.NullString `db:"slack_ts"`
	}
	if err := tx.SelectContext(ctx, &hs, s.q(`SELECT id, intake_id, status, slack_channel, slack_ts FROM handoffs WHERE conversation_id = ? ORDER BY created_at`), id); err != nil {
		return nil, fmt.Errorf("store: delete %s: handoffs: %w", id, err)
	}
	var intakeIDs []string
	if err := tx.SelectContext(ctx, &intakeIDs, s.q(`SELECT id FROM intakes WHERE conversation_id = ? ORDER BY created_at`), id); err != nil {
		return nil, fmt.Errorf("store: delete %s: intakes: %w", id, err)
	}
	refs := make([]map[string]any, 0, len(hs))
	for _, h := range hs {
		ref := map[string]any{"id": h.ID}
		if h.Channel.Valid && h.TS.Valid {
			ref["slack_channel"], ref["slack_ts"] = h.Channel.String, h.TS.String
		}
		refs = append(refs, ref)
		if h.Status == bot.IntakeClosed {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE handoffs SET status = ?, outcome_enc = ?, closed_at = ?, updated_at = ? WHERE id = ?`),
			bot.IntakeClosed, s.seal([]byte(OutcomeDeleted), outcomeAAD(h.ID)), micros(now), micros(now), h.ID); err != nil {
			return nil, fmt.Errorf("store: delete %s: close handoff: %w", id, err)
		}
	}
	for _, q := range []string{
		`UPDATE handoffs SET category_enc = NULL WHERE conversation_id = ?`,
		`DELETE FROM transcript WHERE conversation_id = ?`,
		`DELETE FROM consents WHERE conversation_id = ?`,
		`DELETE FROM intakes WHERE conversation_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, s.q(q), id); err != nil {
			return nil, fmt.Errorf("store: delete %s: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET status = 'cancelled', payload_enc = NULL, done_at = ?
		WHERE conversation_id = ? AND status = 'pending' AND type IN (?, ?)`),
		micros(now), id, bot.EventRelay, bot.EventStaffMessage); err != nil {
		return nil, fmt.Errorf("store: delete %s: cancel messages: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET payload_enc = NULL WHERE conversation_id = ? AND status <> 'pending'`), id); err != nil {
		return nil, fmt.Errorf("store: delete %s: drop payloads: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM conversations WHERE id = ?`), id); err != nil {
		return nil, fmt.Errorf("store: delete %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tombstones (conversation_id, channel, deleted_at) VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING`),
		id, row.Channel, micros(now)); err != nil {
		return nil, fmt.Errorf("store: delete %s: tombstone: %w", id, err)
	}
	if err := s.audit(ctx, tx, now, "participant", "conversation.delete", id); err != nil {
		return nil, err
	}
	if intakeIDs == nil {
		intakeIDs = []string{}
	}
	return map[string]any{"handoffs": refs, "intake_ids": intakeIDs}, nil
}

// audit appends an entry to the audit log within tx.
func (s *Store) audit(ctx context.Context, tx sqlx.ExecerContext, now time.Time, actor, action, subject string) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit (at, actor, action, subject) VALUES (?, ?, ?, ?)`),
		micros(now), actor, action, subject); err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}
