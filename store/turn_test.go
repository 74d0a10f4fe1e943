package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

var chat = bot.Key{Channel: "telegram", ChatID: "987654321"}

// TestTurnCreatesAndResumes: the first turn sees a fresh conversation, the
// next sees what the first saved, from a new Store on the same database
// too (a restart).
func TestTurnCreatesAndResumes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		key := testKey()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key)))
		var firstID string
		err := s.Turn(ctx, chat, "1", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.Version != 0 || c.ID == "" || c.Key != chat {
				t.Errorf("fresh conversation = %+v", c)
			}
			firstID = c.ID
			c.State.Flow, c.State.Step = "intake", "name"
			return &bot.Changes{Conversation: c}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s2 := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key)))
		err = s2.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID != firstID || c.Version != 1 || c.State.Step != "name" || c.Created.IsZero() {
				t.Errorf("resumed conversation = %+v", c)
			}
			return &bot.Changes{Conversation: c}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Another chat is another conversation.
		other := bot.Key{Channel: "telegram", ChatID: "111"}
		s2.Turn(ctx, other, "3", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID == firstID || c.Version != 0 {
				t.Errorf("other chat got %+v", c)
			}
			return nil, nil
		})
	})
}

// TestTurnDuplicate: a repeated update id is a no-op and fn is not called;
// a failed turn does not consume its update id.
func TestTurnDuplicate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		calls := 0
		fn := func(c *bot.Conversation) (*bot.Changes, error) {
			calls++
			c.State.Misses++
			return &bot.Changes{Conversation: c}, nil
		}
		if err := s.Turn(ctx, chat, "u1", fn); err != nil {
			t.Fatal(err)
		}
		if err := s.Turn(ctx, chat, "u1", fn); !errors.Is(err, bot.ErrDuplicate) {
			t.Fatalf("repeat: err = %v, want ErrDuplicate", err)
		}
		if calls != 1 {
			t.Fatalf("fn called %d times", calls)
		}
		// The same update id on another channel is another update.
		if err := s.Turn(ctx, bot.Key{Channel: "web", ChatID: "x"}, "u1", fn); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := s.Turn(ctx, chat, "u2", func(*bot.Conversation) (*bot.Changes, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("failing fn: err = %v", err)
		}
		if err := s.Turn(ctx, chat, "u2", fn); err != nil {
			t.Fatalf("retry of a failed update: %v", err)
		}
		// Empty update ids are never de-duplicated.
		for range 2 {
			if err := s.Turn(ctx, chat, "", fn); err != nil {
				t.Fatal(err)
			}
		}
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.State.Misses != 4 {
				t.Errorf("misses = %d, want 4", c.State.Misses)
			}
			return nil, nil
		})
	})
}

// TestTurnAtomic: when any write of a turn fails, nothing of it stays:
// not the state, not the transcript, not the update id.
func TestTurnAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		now := time.Now()
		h := bot.Handoff{ID: "h-1", Reason: bot.ReasonHuman, Urgency: bot.UrgencyRoutine}
		if err := s.Turn(ctx, chat, "1", turnWith(func(c *bot.Conversation) *bot.Changes {
			c.State.Consent = consentGranted(now)
			return &bot.Changes{Conversation: c, Handoffs: []bot.Handoff{h}}
		})); err != nil {
			t.Fatal(err)
		}
		before := map[string]int{}
		tables := []string{"transcript", "consents", "intakes", "handoffs", "outbox", "processed"}
		for _, tb := range tables {
			before[tb] = count(t, s, tb, "")
		}
		// The second handoff reuses an id: the insert fails at the end of
		// the turn, after state, transcript, consent and intake were written.
		err := s.Turn(ctx, chat, "2", turnWith(func(c *bot.Conversation) *bot.Changes {
			c.State.Step = "changed"
			return &bot.Changes{Conversation: c,
				Transcript: []bot.TranscriptEntry{{Direction: "in", Text: "hello", At: now}},
				Consent:    consentGranted(now),
				Intake:     &bot.Intake{ID: "i-1", Answers: map[string]bot.Answer{"name": {Value: "Jordan"}}},
				Handoffs:   []bot.Handoff{h},
				Events:     []bot.Event{{ID: "e-1", Type: bot.EventHandoff, Deliver: true}},
			}
		}))
		if err == nil {
			t.Fatal("turn with a duplicate handoff id succeeded")
		}
		for _, tb := range tables {
			if n := count(t, s, tb, ""); n != before[tb] {
				t.Errorf("%s: %d rows after a failed turn, want %d", tb, n, before[tb])
			}
		}
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.State.Step == "changed" || c.Version != 1 {
				t.Errorf("state after failed turn: version %d step %q", c.Version, c.State.Step)
			}
			return nil, nil
		})
	})
}

// TestConcurrentTurns: 50 goroutines send turns to one conversation, half
// through each of two Stores on the same database (two processes): no
// update is lost, and each sender's updates arrive in its order.
func TestConcurrentTurns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		key := testKey()
		stores := []*store.Store{
			mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key))),
			mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, key))),
		}
		const senders, perSender = 50, 6
		var wg sync.WaitGroup
		errs := make(chan error, senders*perSender)
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := stores[g%2]
				for i := range perSender {
					err := s.Turn(ctx, chat, fmt.Sprintf("%d-%d", g, i), func(c *bot.Conversation) (*bot.Changes, error) {
						log := c.State.Answers["log"]
						log.Values = append(slices.Clone(log.Values), fmt.Sprintf("%d-%d", g, i))
						if c.State.Answers == nil {
							c.State.Answers = map[string]bot.Answer{}
						}
						c.State.Answers["log"] = log
						return &bot.Changes{Conversation: c}, nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stores[0].Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			log := c.State.Answers["log"].Values
			if len(log) != senders*perSender || c.Version != senders*perSender {
				t.Fatalf("%d updates, version %d; want %d", len(log), c.Version, senders*perSender)
			}
			last := map[string]int{}
			for _, e := range log {
				g, i, _ := strings.Cut(e, "-")
				n, _ := strconv.Atoi(i)
				if prev, ok := last[g]; ok && n != prev+1 {
					t.Fatalf("sender %s: update %d after %d", g, n, prev)
				}
				last[g] = n
			}
			return nil, nil
		})
		if n := count(t, stores[0], "conversations", ""); n != 1 {
			t.Fatalf("%d conversations, want 1", n)
		}
	})
}

// TestTranscriptNeedsConsent: a transcript is written only when the state
// holds a granted consent; a declined consent leaves a consent row with
// nothing identifying and no transcript.
func TestTranscriptNeedsConsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		now := time.Now()
		lines := []bot.TranscriptEntry{{Direction: "in", Text: "hi", At: now}, {Direction: "out", Text: "hello", At: now}}
		s.Turn(ctx, chat, "1", turnWith(func(c *bot.Conversation) *bot.Changes {
			c.State.Consent = &bot.Consent{Version: "v1", Granted: false, At: now, Scope: "pre-intake"}
			return &bot.Changes{Conversation: c, Transcript: lines, Consent: c.State.Consent}
		}))
		if n := count(t, s, "transcript", ""); n != 0 {
			t.Fatalf("declined: %d transcript rows", n)
		}
		if n := count(t, s, "consents", "granted = ? AND granted_at IS NULL", false); n != 1 {
			t.Fatalf("declined consent rows = %d, want 1", n)
		}
		s.Turn(ctx, chat, "2", turnWith(func(c *bot.Conversation) *bot.Changes {
			c.State.Consent = consentGranted(now)
			return &bot.Changes{Conversation: c, Transcript: lines, Consent: c.State.Consent}
		}))
		if n := count(t, s, "transcript", ""); n != 2 {
			t.Fatalf("granted: %d transcript rows, want 2", n)
		}
		// Withdrawing revokes the grant.
		s.Turn(ctx, chat, "3", turnWith(func(c *bot.Conversation) *bot.Changes {
			c.State.Consent = &bot.Consent{Version: "v1", Granted: false, At: now, Scope: "pre-intake"}
			return &bot.Changes{Conversation: c, Consent: c.State.Consent}
		}))
		if n := count(t, s, "consents", "granted = ? AND revoked_at IS NOT NULL", true); n != 1 {
			t.Fatalf("revoked grants = %d, want 1", n)
		}
	})
}
