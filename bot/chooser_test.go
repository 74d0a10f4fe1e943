package bot_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/bot/bottest"
)

// spyChooser records the questions it is asked and picks a fixed id.
type spyChooser struct {
	pick  string
	calls []string
}

func (s *spyChooser) ChooseFAQ(_ context.Context, q string, opts []bot.FAQOption) (string, bool) {
	s.calls = append(s.calls, q)
	return s.pick, s.pick != ""
}

// TestChooser: when the matcher is unsure, the chooser picks among the
// offered topics after the turn; it is never asked during a crisis pause,
// and an id it invents is ignored.
func TestChooser(t *testing.T) {
	spec := mustSpec(t)
	unsure := "therapy" // the matcher offers topics for this one
	if spec.Matcher().Match(unsure).Decision.String() != "suggest" {
		t.Skipf("%q is no longer an unsure question for the shipped FAQ; pick another", unsure)
	}
	t.Run("picks an offered topic", func(t *testing.T) {
		spy := &spyChooser{pick: "group_therapy"}
		h := bottest.NewHarness(t, spec, bot.WithFAQChooser(spy))
		out := h.Say(unsure)
		if len(spy.calls) != 1 || !anyReply(out, spec.FAQEntry("group_therapy").Answer[:40]) {
			t.Fatalf("calls %v, replies %+v", spy.calls, out.Replies)
		}
	})
	t.Run("an invented id is ignored", func(t *testing.T) {
		spy := &spyChooser{pick: "no_such_entry"}
		h := bottest.NewHarness(t, spec, bot.WithFAQChooser(spy))
		out := h.Say(unsure)
		if !anyReply(out, spec.Messages.Unsure) {
			t.Fatalf("replies %+v", out.Replies)
		}
	})
	t.Run("never during a crisis pause", func(t *testing.T) {
		spy := &spyChooser{pick: "group_therapy"}
		h := bottest.NewHarness(t, spec, bot.WithFAQChooser(spy))
		h.Say("I want to kill myself")
		out := h.Say(unsure)
		if len(spy.calls) != 0 {
			t.Fatalf("the chooser was asked during the pause: %v", spy.calls)
		}
		if !anyReply(out, spec.Safety.Paused) {
			t.Fatalf("replies %+v", out.Replies)
		}
	})
}

// TestCrisisSaveDelayedIsReported: the early crisis reply says why.
func TestCrisisSaveDelayedIsReported(t *testing.T) {
	e := bot.New(mustSpec(t), hangingStore{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.Handle(ctx, bot.Inbound{Channel: "console", ChatID: "c", Text: "i want to end my life"})
	if !errors.Is(err, bot.ErrSaveDelayed) {
		t.Fatalf("err = %v, want ErrSaveDelayed", err)
	}
}
