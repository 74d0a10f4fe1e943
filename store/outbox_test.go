package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// queueEvents writes n deliverable events of type typ in one turn per
// event, on chats of their own.
func queueEvents(tb testing.TB, s *store.Store, typ string, n int) []string {
	tb.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("ev-%s-%03d", typ, i)
		ids = append(ids, id)
		key := bot.Key{Channel: "telegram", ChatID: fmt.Sprint("chat-", i%7)}
		err := s.Turn(ctx, key, "", turnWith(func(c *bot.Conversation) *bot.Changes {
			return &bot.Changes{Conversation: c, Events: []bot.Event{
				{ID: id, Type: typ, Data: map[string]any{"n": i}, Deliver: true},
				{ID: id + "-local", Type: bot.EventConsent}, // not for delivery
			}}
		}))
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

// TestOutboxClaim: a claim takes due events of the requested types, oldest
// first, and hides them for the lease; failed events come back when due;
// delivered and dead ones never.
func TestOutboxClaim(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		ids := queueEvents(t, s, bot.EventHandoff, 3)
		queueEvents(t, s, bot.EventStaffMessage, 1)
		now := time.Now()
		req := bot.ClaimRequest{Now: now, Lease: time.Minute, Limit: 2, Types: []string{bot.EventHandoff}}
		first, err := s.Claim(ctx, req)
		if err != nil || len(first) != 2 || first[0].Event.ID != ids[0] || first[1].Event.ID != ids[1] {
			t.Fatalf("first claim = %+v, %v", first, err)
		}
		if !first[0].Event.Deliver || first[0].Event.Data["n"] != float64(0) || first[0].Attempts != 0 {
			t.Fatalf("claimed event = %+v", first[0])
		}
		second, _ := s.Claim(ctx, req)
		if len(second) != 1 || second[0].Event.ID != ids[2] {
			t.Fatalf("second claim = %+v (leased events must stay hidden)", second)
		}
		if more, _ := s.Claim(ctx, req); len(more) != 0 {
			t.Fatalf("third claim = %+v", more)
		}
		s.MarkDelivered(ctx, ids[0], now)
		s.MarkDelivered(ctx, ids[0], now) // a repeat is harmless
		s.MarkFailed(ctx, ids[1], now.Add(10*time.Second))
		s.MarkDead(ctx, ids[2], now)
		// Before the retry is due: nothing. After: the failed one, with its attempt.
		if got, _ := s.Claim(ctx, bot.ClaimRequest{Now: now.Add(5 * time.Second), Lease: time.Minute, Limit: 10, Types: req.Types}); len(got) != 0 {
			t.Fatalf("claimed before due: %+v", got)
		}
		got, _ := s.Claim(ctx, bot.ClaimRequest{Now: now.Add(11 * time.Second), Lease: time.Minute, Limit: 10, Types: req.Types})
		if len(got) != 1 || got[0].Event.ID != ids[1] || got[0].Attempts != 1 {
			t.Fatalf("retry claim = %+v", got)
		}
		// A lease that ran out gives the event back.
		got, _ = s.Claim(ctx, bot.ClaimRequest{Now: now.Add(2 * time.Minute), Lease: time.Minute, Limit: 10, Types: req.Types})
		if len(got) != 1 || got[0].Event.ID != ids[1] {
			t.Fatalf("after lease = %+v", got)
		}
		if n := count(t, s, "outbox", "status = ? AND payload_enc IS NULL", store.OutboxDelivered); n != 1 {
			t.Fatalf("delivered rows without payload = %d", n)
		}
		dead, _ := s.OutboxEntries(ctx, store.OutboxDead, 0)
		if len(dead) != 1 || dead[0].ID != ids[2] {
			t.Fatalf("dead = %+v", dead)
		}
		if err := s.Requeue(ctx, ids[2], "operator"); err != nil {
			t.Fatal(err)
		}
		if err := s.Requeue(ctx, ids[2], "operator"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("requeue of a pending event: %v", err)
		}
		// The staff message carries the participant's address, sealed.
		sm, _ := s.Claim(ctx, bot.ClaimRequest{Now: now, Lease: time.Minute, Limit: 10, Types: []string{bot.EventStaffMessage}})
		if len(sm) != 1 || sm[0].Event.Data["chat_id"] == nil || sm[0].Event.Data["channel"] != "telegram" {
			t.Fatalf("staff message = %+v", sm)
		}
	})
}

// TestDispatchersDeliverExactlyOnce: two dispatchers, each on its own
// Store (two processes), drain one outbox concurrently; every event is
// delivered exactly once.
func TestDispatchersDeliverExactlyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		key := testKey()
		s1 := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key)))
		s2 := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key)))
		const n = 120
		ids := queueEvents(t, s1, bot.EventHandoff, n)
		var mu sync.Mutex
		seen := map[string]int{}
		by := map[string]int{}
		notifier := func(name string) bot.Notifier {
			return bot.NotifierFunc(func(_ context.Context, ev bot.Event) error {
				mu.Lock()
				defer mu.Unlock()
				seen[ev.ID]++
				by[name]++
				return nil
			})
		}
		var wg sync.WaitGroup
		for i, s := range []*store.Store{s1, s2} {
			d := bot.NewDispatcher(s, bot.WithBatch(5))
			name := fmt.Sprint("d", i)
			d.Register(bot.EventHandoff, notifier(name))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := d.RunOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if got == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("event %s delivered %d times", id, seen[id])
			}
		}
		if n := count(t, s1, "outbox", "status = ?", store.OutboxDelivered); n != len(ids) {
			t.Errorf("%d delivered rows, want %d", n, len(ids))
		}
		t.Logf("deliveries per dispatcher: %v", by)
	})
}

// TestHandoffs: staff actions move a handoff forward only, keep the intake
// in step, are audited, and find the handoff by its Slack message.
func TestHandoffs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHandoffMessage(ctx, "handoff-1", "C1", "111.222"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHandoffMessage(ctx, "nope", "C1", "1"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown handoff: %v", err)
		}
		h, err := s.FindHandoffByMessage(ctx, "C1", "111.222")
		if err != nil || h.ID != "handoff-1" || h.IntakeID != "intake-1" {
			t.Fatalf("find by message: %+v, %v", h, err)
		}
		if _, err := s.FindHandoffByMessage(ctx, "C1", "999"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown message: %v", err)
		}
		steps := []struct {
			u       store.HandoffUpdate
			status  string
			wantErr error
		}{
			{store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClaimed, Assignee: "U1"}, bot.IntakeClaimed, nil},
			{store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClaimed, Assignee: "U1"}, bot.IntakeClaimed, nil}, // double click
			{store.HandoffUpdate{Actor: "U2", Assignee: "U2"}, bot.IntakeClaimed, nil},
			{store.HandoffUpdate{Actor: "U2", Status: bot.IntakeContacted}, bot.IntakeContacted, nil},
			{store.HandoffUpdate{Actor: "U2", Status: bot.IntakeNew}, bot.IntakeContacted, store.ErrTransition},
			{store.HandoffUpdate{Actor: "U2", Status: bot.IntakeClosed, Outcome: "scheduled assessment"}, bot.IntakeClosed, nil},
			{store.HandoffUpdate{Actor: "U2", Status: "bogus"}, bot.IntakeClosed, errors.New("any")},
			{store.HandoffUpdate{Status: bot.IntakeClosed}, bot.IntakeClosed, errors.New("any")},
		}
		for i, st := range steps {
			_, err := s.UpdateHandoff(ctx, "handoff-1", st.u)
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("step %d: %v", i, err)
			case st.wantErr != nil && err == nil:
				t.Fatalf("step %d: no error", i)
			case st.wantErr == store.ErrTransition && !errors.Is(err, store.ErrTransition):
				t.Fatalf("step %d: %v, want ErrTransition", i, err)
			}
			if h, _ := s.Handoff(ctx, "handoff-1"); h.Status != st.status {
				t.Fatalf("step %d: status %s, want %s", i, h.Status, st.status)
			}
		}
		h, _ = s.Handoff(ctx, "handoff-1")
		if h.Assignee != "U2" || h.Outcome != "scheduled assessment" || h.Closed.IsZero() {
			t.Fatalf("final handoff = %+v", h)
		}
		if l, _ := s.ListIntakes(ctx, bot.IntakeClosed, 0, "tester"); len(l) != 1 || l[0].Closed.IsZero() {
			t.Fatalf("intake did not follow: %+v", l)
		}
		log, _ := s.AuditLog(ctx, "handoff-1", 0)
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Actor+":"+e.Action)
		}
		want := []string{"U1:handoff.claimed", "U1:handoff.assign", "U2:handoff.assign", "U2:handoff.contacted", "U2:handoff.closed"}
		if fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Fatalf("audit = %v, want %v", actions, want)
		}
		if _, err := s.UpdateHandoff(ctx, "nope", store.HandoffUpdate{Actor: "U1", Status: bot.IntakeClaimed}); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown handoff: %v", err)
		}
	})
}

// TestStaffSide: the engine's staff actions run on the store by
// conversation id: the message is queued with the participant's address,
// kept in the transcript, and audited under the staff member; a deleted or
// unknown conversation is not found.
func TestStaffSide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		spec := mustSpec(t)
		if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
			t.Fatal(err)
		}
		hs, err := s.Handoffs(ctx, "")
		if err != nil || len(hs) != 0 {
			t.Fatalf("handoffs of no conversation: %v %v", hs, err)
		}
		var convID string
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			convID = c.ID
			c.State.Consent.Version = spec.Consent.Version
			return &bot.Changes{Conversation: c}, nil
		})
		if hs, _ := s.Handoffs(ctx, convID); len(hs) != 1 || hs[0].ID != "handoff-1" {
			t.Fatalf("handoffs = %+v", hs)
		}
		staff := bot.NewStaff(bot.New(spec, s), s)
		before := count(t, s, "transcript", "")
		if err := staff.Message(ctx, convID, "U7", "Hello from the team"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "transcript", ""); n <= before {
			t.Fatalf("transcript rows %d, want more than %d", n, before)
		}
		ds, _ := s.Claim(ctx, bot.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 10, Types: []string{bot.EventStaffMessage}})
		if len(ds) == 0 || ds[len(ds)-1].Event.Data["chat_id"] != chat.ChatID || !strings.Contains(ds[len(ds)-1].Event.Data["text"].(string), "Hello from the team") {
			t.Fatalf("staff message events = %+v", ds)
		}
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.State.Mode != bot.ModeHuman {
				t.Errorf("mode = %q", c.State.Mode)
			}
			return nil, nil
		})
		log, _ := s.AuditLog(ctx, convID, 0)
		if len(log) == 0 || log[0].Action != "conversation.staff_message" || log[0].Actor != "U7" {
			t.Fatalf("audit = %+v", log)
		}
		if err := staff.Message(ctx, "missing", "U7", "hi"); !errors.Is(err, bot.ErrNotFound) {
			t.Fatalf("unknown conversation: %v", err)
		}
	})
}

func TestCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := mustOpen(t, b.dsn).Cache()
		if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
			t.Fatalf("empty get: %v %v", ok, err)
		}
		for _, v := range []string{"one", "two"} {
			if err := c.Put(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := c.Get(ctx, "k"); !ok || err != nil || got != v {
				t.Fatalf("get = %q %v %v, want %q", got, ok, err, v)
			}
		}
	})
}
