package store_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// BenchmarkDurableTurn measures one committed turn (update id recorded,
// conversation locked, state of an intake in progress sealed and saved,
// two sealed transcript lines) beside the floor the database sets: a raw
// single-row insert-and-commit on the same database, interleaved in the
// same run. It reports the turn's mean (ns/op), p50 and p99, the raw
// insert's mean, and raw/turn (1 would mean the turn costs no more than
// the database's own commit; the aim is ≥ 0.5).
func BenchmarkDurableTurn(b *testing.B) {
	dbs := []backend{{"sqlite", ""}}
	if os.Getenv(envTestPostgres) != "" {
		dbs = append(dbs, backend{"postgres", ""})
	}
	for _, db := range dbs {
		b.Run(db.name, func(b *testing.B) {
			dsn := sqliteFile(b)
			if db.name == "postgres" {
				dsn = postgresSchema(b)
			}
			s := mustOpen(b, dsn, store.WithKeys(mustKeys(b, testKey())))
			sqlDB := s.DB()
			sqlDB.MustExec(`CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`)
			insert := sqlDB.Rebind(`INSERT INTO bench_raw (id, v) VALUES (?, ?)`)
			row := strings.Repeat("x", 200)

			now := time.Now()
			state := benchState(now)
			turn := func(c *bot.Conversation) (*bot.Changes, error) {
				c.State = state
				c.State.Misses = int(c.Version % 3)
				return &bot.Changes{Conversation: c, Transcript: []bot.TranscriptEntry{
					{Direction: "in", Text: "(206) 555-0123", At: now},
					{Direction: "out", Text: "Which days are best for a call?", At: now},
				}}, nil
			}
			key := bot.Key{Channel: "telegram", ChatID: "4242"}
			if err := s.Turn(ctx, key, "warm", turn); err != nil {
				b.Fatal(err)
			}

			turns := make([]time.Duration, 0, b.N)
			raws := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				tx := sqlDB.MustBegin()
				if _, err := tx.Exec(insert, i, row); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := s.Turn(ctx, key, fmt.Sprint(i), turn); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				raws = append(raws, t1.Sub(t0))
				turns = append(turns, t2.Sub(t1))
			}
			b.StopTimer()
			turnMean, rawMean := mean(turns), mean(raws)
			b.ReportMetric(float64(turnMean.Nanoseconds()), "ns/op")
			b.ReportMetric(float64(percentile(turns, 50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(turns, 99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(rawMean.Nanoseconds()), "raw-ns/op")
			b.ReportMetric(float64(percentile(raws, 50).Microseconds()), "raw-p50-µs")
			b.ReportMetric(float64(rawMean)/float64(turnMean), "raw/turn")
		})
	}
}

// benchState is the state of a conversation midway through an intake.
func benchState(now time.Time) bot.State {
	return bot.State{
		Flow: "intake", Step: "call_days", Welcomed: now, Lang: "en",
		Consent: &bot.Consent{Version: "v1", Granted: true, At: now, Scope: "pre-intake"},
		Answers: map[string]bot.Answer{
			"name":           {Value: "Jordan Lee", Display: "Jordan Lee"},
			"contact_method": {Value: "call", Display: "Phone call"},
			"phone":          {Value: "+12065550123", Display: "(206) 555-0123"},
			"format":         {Value: "virtual", Display: "Virtual"},
			"concerns":       {Values: []string{"anxiety", "depression", "other"}, Other: "panic attacks at work"},
		},
		Offered: []string{"call_days.mon", "call_days.tue", "call_days.wed", "call_days.thu", "call_days.fri", "human"},
	}
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
