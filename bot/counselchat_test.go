package bot_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/internal/evaldata"
)

// TestCounselChatThroughEngine sends every real question through the whole
// engine, each in its own conversation and once more in the middle of a
// pre-intake: none may crash or dead-end (every turn answers, and its last
// reply offers a person). It prints what happened to them.
func TestCounselChatThroughEngine(t *testing.T) {
	questions := evaldata.CounselChatOrSkip(t)
	spec := mustSpec(t)
	kinds := map[string]int{}
	for i, cq := range questions {
		q := cq.Text
		for _, midFlow := range []bool{false, true} {
			h := bottest.NewHarness(t, spec)
			h.Key.ChatID = fmt.Sprintf("cc-%d-%v", i, midFlow)
			if midFlow {
				h.Say("/start")
				h.Tap("flow:intake")
				h.Tap("consent.yes")
			}
			out, err := func() (out bot.Output, err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panic: %v", p)
					}
				}()
				return h.Engine.Handle(context.Background(), bot.Inbound{Channel: h.Key.Channel, ChatID: h.Key.ChatID, Text: q})
			}()
			if err != nil {
				t.Fatalf("question %d (mid-flow %v): %v", i, midFlow, err)
			}
			if len(out.Replies) == 0 {
				t.Fatalf("question %d (mid-flow %v): no reply", i, midFlow)
			}
			last := out.Replies[len(out.Replies)-1]
			if !offersChoice(last.Choices, bot.ChoiceHuman) && !offersChoice(last.Choices, bot.ChoiceCrisisStaff) {
				t.Errorf("question %d (mid-flow %v): dead end: %q", i, midFlow, last.Text)
			}
			if !midFlow {
				kinds[outcome(out, spec.Messages.Unsure)]++
			}
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Logf("counsel-chat through the engine: %d questions, 0 crashed, 0 dead ends", len(questions))
	for _, k := range names {
		t.Logf("  %-12s %d", k, kinds[k])
	}
}

// outcome names what a turn did with a question.
func outcome(out bot.Output, unsure string) string {
	for _, r := range out.Replies {
		switch r.Kind {
		case bot.KindCrisis:
			return "crisis"
		case bot.KindFAQ:
			return "answered"
		}
	}
	for _, r := range out.Replies {
		if r.Text == unsure {
			return "suggested"
		}
	}
	return "abstained"
}
