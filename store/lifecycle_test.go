package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// TestDelete: a delete turn erases transcript, consents, intakes and the
// conversation, leaves a tombstone, closes the handoffs while keeping their
// ids and Slack references, cancels undelivered relays, and queues a
// deleted event that carries what Slack needs to redact.
func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		now := time.Now()
		if err := s.Turn(ctx, chat, "1", intakeTurn(now)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHandoffMessage(ctx, "handoff-1", "C42", "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
		var oldID string
		err := s.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) {
			oldID = c.ID
			fresh := &bot.Conversation{ID: "fresh-conv", Key: c.Key, Created: now, Updated: now}
			fresh.State.Welcomed = now
			return &bot.Changes{Delete: true, Conversation: fresh,
				Events: []bot.Event{{ID: "ev-deleted", Type: bot.EventDeleted, ConversationID: c.ID, Data: map[string]any{}, Deliver: true}},
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"transcript", "consents", "intakes"} {
			if n := count(t, s, table, ""); n != 0 {
				t.Errorf("%s: %d rows left", table, n)
			}
		}
		if n := count(t, s, "conversations", "id = ?", oldID); n != 0 {
			t.Error("the old conversation is still there")
		}
		if _, ok, err := s.Tombstone(ctx, oldID); !ok || err != nil {
			t.Errorf("no tombstone: %v", err)
		}
		h, err := s.Handoff(ctx, "handoff-1")
		if err != nil || h.Status != bot.IntakeClosed || h.Outcome != store.OutcomeDeleted || h.SlackTS == "" {
			t.Errorf("handoff after delete: %+v, %v", h, err)
		}
		if n := count(t, s, "outbox", "id = ? AND status = ? AND payload_enc IS NULL", "ev-relay", store.OutboxCancelled); n != 1 {
			t.Error("the undelivered relay was not cancelled")
		}
		ds, err := s.Claim(ctx, bot.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Types: []string{bot.EventDeleted}})
		if err != nil || len(ds) != 1 {
			t.Fatalf("claim deleted: %v, %v", ds, err)
		}
		data, _ := json.Marshal(ds[0].Event.Data)
		var got struct {
			IntakeIDs []string `json:"intake_ids"`
		}
		json.Unmarshal(data, &got)
		var gotH []map[string]string
		for _, raw := range ds[0].Event.Data["handoffs"].([]any) {
			m := map[string]string{}
			for k, v := range raw.(map[string]any) {
				m[k] = v.(string)
			}
			gotH = append(gotH, m)
		}
		if len(gotH) != 1 || gotH[0]["id"] != "handoff-1" || gotH[0]["slack_channel"] != "C42" || gotH[0]["slack_ts"] != "1700000000.000100" ||
			!slices.Equal(got.IntakeIDs, []string{"intake-1"}) || ds[0].Event.ConversationID != oldID {
			t.Errorf("deleted event = %s", data)
		}
		// The chat goes on as a fresh conversation that knows nothing.
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID != "fresh-conv" || len(c.State.Answers) != 0 || c.State.Welcomed.IsZero() {
				t.Errorf("after delete: %+v", c)
			}
			return nil, nil
		})
		if _, err := s.Intake(ctx, "intake-1", "tester"); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("deleted intake: %v", err)
		}
	})
}

// TestPurge: retention removes old transcripts and long-closed intakes,
// and update ids older than a day, and keeps everything younger.
func TestPurge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())), store.WithClock(clk.Now))
		start := clk.Now()
		if err := s.Turn(ctx, chat, "1", intakeTurn(start)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(40 * 24 * time.Hour)
		if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClosed, Outcome: "enrolled"}); err != nil {
			t.Fatal(err)
		}
		s.Turn(ctx, chat, "2", turnWith(func(c *bot.Conversation) *bot.Changes {
			return &bot.Changes{Conversation: c, Transcript: []bot.TranscriptEntry{{Direction: "in", Text: "recent", At: clk.Now()}}}
		}))
		r := store.Retention{Transcripts: 30 * 24 * time.Hour, ClosedIntakes: 30 * 24 * time.Hour}
		res, err := s.Purge(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if res.Transcript != 3 || res.Intakes != 0 || res.Processed != 1 {
			t.Fatalf("first purge = %+v, want 3 old transcript lines and update 1", res)
		}
		if n := count(t, s, "transcript", ""); n != 1 {
			t.Fatalf("%d transcript rows left, want the recent one", n)
		}
		clk.Advance(31 * 24 * time.Hour)
		res, err = s.Purge(ctx, r)
		if err != nil || res.Intakes != 1 {
			t.Fatalf("second purge = %+v, %v; want the closed intake", res, err)
		}
		if h, err := s.Handoff(ctx, "handoff-1"); err != nil || h.Outcome != "" {
			t.Fatalf("handoff of a purged intake: %+v, %v", h, err)
		}
		log, _ := s.AuditLog(ctx, "", 0)
		if log[len(log)-1].Action != "purge" {
			t.Fatalf("no audit entry for purge: %+v", log)
		}
	})
}

func TestRetentionFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		want   store.Retention
		errors bool
	}{
		{"defaults", nil, store.DefaultRetention(), false},
		{"set", map[string]string{store.EnvRetentionTranscripts: "720h", store.EnvRetentionClosed: "48h"},
			store.Retention{Transcripts: 720 * time.Hour, ClosedIntakes: 48 * time.Hour}, false},
		{"malformed", map[string]string{store.EnvRetentionClosed: "ninety days"}, store.Retention{}, true},
		{"negative", map[string]string{store.EnvRetentionTranscripts: "-1h"}, store.Retention{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.RetentionFromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.errors {
				t.Fatalf("err = %v", err)
			}
			if !tc.errors && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRotateKey: after a rotation every value opens with the new key
// alone, the conversation is found again by its chat, and the old key is
// refused.
func TestRotateKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		oldKey, newKey := testKey(), testKey()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, oldKey)))
		if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
			t.Fatal(err)
		}
		var convID string
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) { convID = c.ID; return nil, nil })
		if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClosed, Outcome: "enrolled"}); err != nil {
			t.Fatal(err)
		}
		s.Close()

		// Without the old key listed, the new key alone is refused.
		if _, err := store.Open(ctx, b.dsn, store.WithKeys(mustKeys(t, newKey))); !errors.Is(err, store.ErrWrongKey) {
			t.Fatalf("new key alone before rotation: %v", err)
		}
		both := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, newKey, oldKey)))
		res, err := both.RotateKey(ctx, "operator")
		if err != nil {
			t.Fatal(err)
		}
		if res.Resealed < 8 || res.Lookups != 1 || len(res.Unreadable) != 0 || len(res.Retired) != 1 {
			t.Fatalf("rotation = %+v", res)
		}
		again, err := both.RotateKey(ctx, "operator")
		if err != nil || again.Resealed != 0 || again.Lookups != 0 {
			t.Fatalf("second rotation = %+v, %v", again, err)
		}
		both.Close()

		s2 := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, newKey)))
		in, err := s2.Intake(ctx, "intake-1", "tester")
		if err != nil || in.Answers["name"].Value != secrets[0] {
			t.Fatalf("intake under new key: %v", err)
		}
		if h, err := s2.Handoff(ctx, "handoff-1"); err != nil || h.Outcome != "enrolled" {
			t.Fatalf("handoff outcome under new key: %v", err)
		}
		err = s2.Turn(ctx, chat, "9", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID != convID || c.State.Answers["phone"].Value != secrets[1] {
				t.Errorf("conversation under new key: %+v", c)
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s2.Claim(ctx, bot.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Types: []string{bot.EventRelay}})
		if err != nil || len(ds) != 1 || ds[0].Event.Data["text"] != secrets[8] {
			t.Fatalf("outbox under new key: %+v, %v", ds, err)
		}
		s2.Close()
		if _, err := store.Open(ctx, b.dsn, store.WithKeys(mustKeys(t, oldKey))); !errors.Is(err, store.ErrWrongKey) {
			t.Fatalf("old key after rotation: %v", err)
		}
	})
}

// TestLookupFollowsKeyDuringRotation: a service already running on the new
// key (with the old one listed) finds conversations created under the old
// key before rotate-key has run, and does not create a second one.
func TestLookupFollowsKeyDuringRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		oldKey, newKey := testKey(), testKey()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, oldKey)))
		var id string
		s.Turn(ctx, chat, "1", turnWith(func(c *bot.Conversation) *bot.Changes {
			id = c.ID
			c.State.Step = "name"
			return &bot.Changes{Conversation: c}
		}))
		s.Close()
		s2 := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, newKey, oldKey)))
		s2.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID != id || c.State.Step != "name" {
				t.Errorf("got %+v", c)
			}
			return &bot.Changes{Conversation: c}, nil
		})
		if n := count(t, s2, "conversations", ""); n != 1 {
			t.Fatalf("%d conversations", n)
		}
	})
}

// TestConcurrentFirstOpen: processes that open a new SQLite database at
// the same moment all get a migrated database.
func TestConcurrentFirstOpen(t *testing.T) {
	path := sqliteFile(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestKeyFileRotationInterrupted: a rotation of a local key file that died
// after re-encrypting, before moving the new key file into place, loses
// nothing: the pending key is read too, and running rotate again finishes.
func TestKeyFileRotationInterrupted(t *testing.T) {
	path := sqliteFile(t)
	none := func(string) string { return "" }
	kr, err := store.LoadOrCreateKey(path, none, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path, store.WithKeys(kr))
	if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rk, _, err := store.RotationKeys(path, none)
	if err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, store.WithKeys(rk))
	if _, err := s.RotateKey(ctx, "operator"); err != nil {
		t.Fatal(err)
	}
	s.Close() // ... and the process dies before finish.

	loaded, err := store.LoadKeys(path, none)
	if err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, store.WithKeys(loaded))
	if _, err := s.Intake(ctx, "intake-1", "tester"); err != nil {
		t.Fatalf("read after an interrupted rotation: %v", err)
	}
	s.Close()
	rk2, finish, err := store.RotationKeys(path, none)
	if err != nil || rk2.PrimaryID() != rk.PrimaryID() {
		t.Fatalf("the pending key was not reused: %v", err)
	}
	s = mustOpen(t, path, store.WithKeys(rk2))
	if _, err := s.RotateKey(ctx, "operator"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	final, err := store.LoadKeys(path, none)
	if err != nil || final.PrimaryID() != rk.PrimaryID() || len(final.IDs()) != 1 {
		t.Fatalf("after finishing: %v, %v", final.IDs(), err)
	}
	s = mustOpen(t, path, store.WithKeys(final))
	if _, err := s.Intake(ctx, "intake-1", "tester"); err != nil {
		t.Fatal(err)
	}
}

// TestRunPurge: the periodic job purges at once, and stops with its
// context.
func TestRunPurge(t *testing.T) {
	s := mustOpen(t, sqliteFile(t))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.RunPurge(ctx, time.Hour, store.DefaultRetention()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log, err := s.AuditLog(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) > 0 && log[0].Action == "purge" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no purge")
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
