package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// TestReopenHandoff: a closed case reopens to claimed (or new when nobody
// had it), its intake follows, the audit log has it; reopening an open
// case is a no-op; a deleted participant's case stays closed.
func TestReopenHandoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReopenHandoff(ctx, "handoff-1", "U1"); err != nil {
			t.Fatalf("reopen an open case: %v", err)
		}
		if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClaimed, Assignee: "U1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClosed, Outcome: "not a fit"}); err != nil {
			t.Fatal(err)
		}
		h, err := s.ReopenHandoff(ctx, "handoff-1", "U2")
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != bot.IntakeClaimed || h.Assignee != "U1" || !h.Closed.IsZero() || h.Outcome != "" {
			t.Fatalf("reopened = %+v", h)
		}
		if l, _ := s.ListIntakes(ctx, bot.IntakeClaimed, 0, "tester"); len(l) != 1 {
			t.Fatalf("intake did not follow: %+v", l)
		}
		// Forward again works after a reopen.
		if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U2", Status: bot.IntakeClosed, Outcome: "enrolled"}); err != nil {
			t.Fatal(err)
		}
		log, _ := s.AuditLog(ctx, "handoff-1", 0)
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Actor+":"+e.Action)
		}
		want := []string{"U1:handoff.claimed", "U1:handoff.assign", "U1:handoff.closed", "U2:handoff.reopen", "U2:handoff.closed"}
		if fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Fatalf("audit = %v, want %v", actions, want)
		}
		if _, err := s.ReopenHandoff(ctx, "nope", "U1"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		// The participant deletes their data: the case cannot come back.
		err = s.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) {
			return &bot.Changes{Conversation: &bot.Conversation{Key: chat}, Delete: true}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReopenHandoff(ctx, "handoff-1", "U1"); !errors.Is(err, store.ErrDeletedCase) {
			t.Fatalf("reopen a deleted case: %v", err)
		}
	})
}

// TestAlerts: an armed alert comes due, exactly one taker gets each due
// re-alert, an acknowledgement disarms it (once, audited), and a closed
// case never comes due.
func TestAlerts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())), store.WithClock(clk.Now))
		if err := s.Turn(ctx, chat, "1", intakeTurn(clk.Now())); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHandoffMessage(ctx, "handoff-1", "C1", "1.1"); err != nil {
			t.Fatal(err)
		}
		due := clk.Now().Add(10 * time.Minute)
		if err := s.ArmAlert(ctx, "handoff-1", due); err != nil {
			t.Fatal(err)
		}
		if err := s.ArmAlert(ctx, "nope", due); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("arm unknown: %v", err)
		}
		if hs, _ := s.DueAlerts(ctx, due.Add(-time.Second), 10); len(hs) != 0 {
			t.Fatalf("due early: %v", hs)
		}
		hs, err := s.DueAlerts(ctx, due, 10)
		if err != nil || len(hs) != 1 || hs[0].ID != "handoff-1" {
			t.Fatalf("due = %v, %v", hs, err)
		}
		next := due.Add(10 * time.Minute)
		if took, err := s.TakeRealert(ctx, "handoff-1", due, next); !took || err != nil {
			t.Fatalf("first take: %v %v", took, err)
		}
		if took, _ := s.TakeRealert(ctx, "handoff-1", due, next); took {
			t.Fatal("a second taker got the same re-alert")
		}
		if err := s.NoteCrisis(ctx, "handoff-1", 3, "suicide"); err != nil {
			t.Fatal(err)
		}
		if err := s.NoteCrisis(ctx, "handoff-1", 2, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.NoteCrisis(ctx, "nope", 2, ""); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("note unknown: %v", err)
		}
		a, _ := s.HandoffAlert(ctx, "handoff-1")
		if !a.Due.Equal(next) || a.Realerts != 1 || a.Repeats != 3 || !a.Acked.IsZero() || a.Category != "suicide" {
			t.Fatalf("alert = %+v", a)
		}
		if ok, err := s.AckHandoff(ctx, "handoff-1", "U7"); !ok || err != nil {
			t.Fatalf("ack: %v %v", ok, err)
		}
		if ok, err := s.AckHandoff(ctx, "handoff-1", "U8"); ok || err != nil {
			t.Fatalf("second ack: %v %v", ok, err)
		}
		if _, err := s.AckHandoff(ctx, "nope", "U8"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("ack unknown: %v", err)
		}
		a, _ = s.HandoffAlert(ctx, "handoff-1")
		if !a.Due.IsZero() || a.AckedBy != "U7" || a.Acked.IsZero() {
			t.Fatalf("acked alert = %+v", a)
		}
		if err := s.ArmAlert(ctx, "handoff-1", next); err != nil {
			t.Fatal(err)
		}
		if hs, _ := s.DueAlerts(ctx, next.Add(time.Hour), 10); len(hs) != 0 {
			t.Fatalf("an acknowledged alert came due: %v", hs)
		}
		if n := count(t, s, "audit", "action = ? AND subject = ?", "handoff.acknowledge", "handoff-1"); n != 1 {
			t.Fatalf("%d acknowledge audit entries", n)
		}
		// The category is sealed, and a deletion clears it.
		if n := count(t, s, "handoffs", "category_enc IS NOT NULL"); n != 1 {
			t.Fatalf("%d sealed categories", n)
		}
		err = s.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) {
			return &bot.Changes{Conversation: &bot.Conversation{Key: chat}, Delete: true}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := s.HandoffAlert(ctx, "handoff-1"); a.Category != "" {
			t.Fatalf("category after deletion: %q", a.Category)
		}
	})
}

// TestClaimKey: a key is claimed once until released; the conversation's
// mode is readable by id, and unknown for a deleted one; an opened handoff
// is saved once.
func TestClaimKeyModeOpen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		for i, want := range []bool{true, false} {
			if first, err := s.ClaimKey(ctx, "slack-event/Ev1"); first != want || err != nil {
				t.Fatalf("claim %d: %v %v", i, first, err)
			}
		}
		if ok, _ := s.HasKey(ctx, "slack-event/Ev1"); !ok {
			t.Fatal("claimed key not found")
		}
		if err := s.ReleaseKey(ctx, "slack-event/Ev1"); err != nil {
			t.Fatal(err)
		}
		if first, _ := s.ClaimKey(ctx, "slack-event/Ev1"); !first {
			t.Fatal("a released key could not be claimed again")
		}
		var convID string
		err := s.Turn(ctx, chat, "1", func(c *bot.Conversation) (*bot.Changes, error) {
			convID = c.ID
			c.State.Mode = bot.ModeHuman
			return &bot.Changes{Conversation: c}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.ConversationMode(ctx, convID); m != bot.ModeHuman || err != nil {
			t.Fatalf("mode = %q, %v", m, err)
		}
		if _, err := s.ConversationMode(ctx, "nope"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown conversation: %v", err)
		}
		h := bot.Handoff{ID: "h-open", ConversationID: convID, Reason: bot.ReasonHuman, Urgency: bot.UrgencyRoutine}
		for range 2 {
			if err := s.OpenHandoff(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Handoff(ctx, "h-open"); err != nil || got.Status != bot.IntakeNew || got.ConversationID != convID {
			t.Fatalf("opened = %+v, %v", got, err)
		}
	})
}
