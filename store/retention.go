package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
)

// Environment variables for retention periods, as Go durations ("720h").
const (
	EnvRetentionTranscripts = "INTAKEBOT_RETENTION_TRANSCRIPTS"
	EnvRetentionClosed      = "INTAKEBOT_RETENTION_CLOSED"
)

// Default retention periods.
const (
	DefaultRetentionTranscripts = 30 * 24 * time.Hour
	DefaultRetentionClosed      = 90 * 24 * time.Hour
	// processedRetention is how long update ids are remembered for
	// de-duplication: channels redeliver within minutes, not days.
	processedRetention = 24 * time.Hour
	// outboxRetention is how long delivered and cancelled outbox rows
	// (which no longer hold a payload) are kept for inspection.
	outboxRetention = 7 * 24 * time.Hour
	// cacheRetention is how long a rephrasing stays cached.
	cacheRetention = 30 * 24 * time.Hour
)

// Retention says how long data is kept.
type Retention struct {
	// Transcripts is how long transcript messages are kept.
	Transcripts time.Duration
	// ClosedIntakes is how long an intake is kept after its case closed.
	ClosedIntakes time.Duration
}

// DefaultRetention returns the default periods: transcripts 30 days,
// closed intakes 90 days.
func DefaultRetention() Retention {
	return Retention{Transcripts: DefaultRetentionTranscripts, ClosedIntakes: DefaultRetentionClosed}
}

// RetentionFromEnv reads INTAKEBOT_RETENTION_TRANSCRIPTS and
// INTAKEBOT_RETENTION_CLOSED, each a positive Go duration; unset means the
// default. A malformed or non-positive value is an error naming the
// variable.
func RetentionFromEnv(getenv func(string) string) (Retention, error) {
	r := DefaultRetention()
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{EnvRetentionTranscripts, &r.Transcripts}, {EnvRetentionClosed, &r.ClosedIntakes}} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return r, fmt.Errorf("%s=%q: want a positive duration such as 720h", v.name, s)
		}
		*v.dst = d
	}
	return r, nil
}

// PurgeResult counts what a purge removed.
type PurgeResult struct {
	Transcript int64 `json:"transcript"`
	Intakes    int64 `json:"intakes"`
	Processed  int64 `json:"processed"`
	Outbox     int64 `json:"outbox"`
	Cache      int64 `json:"cache"`
}

// Purge deletes what retention no longer allows, in one transaction:
// transcript messages older than r.Transcripts, intakes closed longer than
// r.ClosedIntakes (their handoffs stay, without outcome), update ids older
// than a day, delivered or cancelled outbox rows older than a week, and
// cached rephrasings older than 30 days. It writes one audit entry with
// the counts.
func (s *Store) Purge(ctx context.Context, r Retention) (PurgeResult, error) {
	if r.Transcripts <= 0 || r.ClosedIntakes <= 0 {
		return PurgeResult{}, fmt.Errorf("store: purge: retention periods must be positive")
	}
	var res PurgeResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = PurgeResult{}
		now := s.now()
		exec := func(n *int64, q string, args ...any) error {
			r, err := tx.ExecContext(ctx, s.q(q), args...)
			if err != nil {
				return fmt.Errorf("store: purge: %w", err)
			}
			if n != nil {
				c, _ := r.RowsAffected()
				*n += c
			}
			return nil
		}
		closedBefore := micros(now.Add(-r.ClosedIntakes))
		steps := []struct {
			n    *int64
			q    string
			args []any
		}{
			{&res.Transcript, `DELETE FROM transcript WHERE at < ?`, []any{micros(now.Add(-r.Transcripts))}},
			{nil, `UPDATE handoffs SET outcome_enc = NULL WHERE closed_at < ? AND intake_id IN (SELECT id FROM intakes WHERE status = 'closed' AND closed_at < ?)`, []any{closedBefore, closedBefore}},
			{&res.Intakes, `DELETE FROM intakes WHERE status = 'closed' AND closed_at < ?`, []any{closedBefore}},
			{&res.Processed, `DELETE FROM processed WHERE at < ?`, []any{micros(now.Add(-processedRetention))}},
			{&res.Outbox, `DELETE FROM outbox WHERE status IN ('delivered', 'cancelled') AND done_at < ?`, []any{micros(now.Add(-outboxRetention))}},
			{&res.Cache, `DELETE FROM cache WHERE created_at < ?`, []any{micros(now.Add(-cacheRetention))}},
		}
		for _, st := range steps {
			if err := exec(st.n, st.q, st.args...); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, now, "system", "purge", fmt.Sprintf("transcript=%d intakes=%d processed=%d outbox=%d cache=%d",
			res.Transcript, res.Intakes, res.Processed, res.Outbox, res.Cache))
	})
	return res, err
}

// RunPurge purges at once and then every interval until ctx is done, for
// `serve` to start in a goroutine. Failures are logged and tried again at
// the next interval. It returns nil when ctx is done.
func (s *Store) RunPurge(ctx context.Context, every time.Duration, r Retention) error {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := s.Purge(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.LogAttrs(ctx, slog.LevelError, "store: purge failed", slog.String("error", err.Error()))
		case err == nil:
			s.log.LogAttrs(ctx, slog.LevelInfo, "store: purged",
				slog.Int64("transcript", res.Transcript), slog.Int64("intakes", res.Intakes),
				slog.Int64("processed", res.Processed), slog.Int64("outbox", res.Outbox), slog.Int64("cache", res.Cache))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
