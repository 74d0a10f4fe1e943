package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/bot/bottest"
)

// TestHumanMode: once staff write, the bot stops answering and relays the
// participant's messages; a crisis still gets the crisis reply and an
// alert; returning to the bot makes it answer again.
func TestHumanMode(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	staff := bot.NewStaff(h.Engine, h.Store)
	ctx := context.Background()
	h.Say("/start")
	h.Tap("flow:intake")
	h.Tap("consent.yes")
	conv := h.Store.Conversation(h.Key)

	if err := staff.Message(ctx, conv.ID, "U123", "Hi, this is Dana from intake. Is now a good time?"); err != nil {
		t.Fatal(err)
	}
	msgs := outboxOf(h.Store, bot.EventStaffMessage)
	if len(msgs) != 2 || !strings.Contains(msgs[0].Data["text"].(string), "has joined") ||
		!strings.HasPrefix(msgs[1].Data["text"].(string), "Message from the Sample Harbor intake team: Hi, this is Dana") {
		t.Fatalf("staff messages = %+v", msgs)
	}
	if msgs[1].Data["chat_id"] != h.Key.ChatID || msgs[1].Data["channel"] != h.Key.Channel {
		t.Fatalf("staff message addressed to %v", msgs[1].Data)
	}

	// The bot stays silent and relays, even for what it would answer.
	for _, text := range []string{"yes, now is fine", "what is an iop?", "/menu"} {
		out := h.Say(text)
		if len(out.Replies) != 0 {
			t.Fatalf("%q: the bot answered in human mode: %+v", text, out.Replies)
		}
		if len(out.Events) != 1 || out.Events[0].Type != bot.EventRelay || out.Events[0].Data["text"] != text {
			t.Fatalf("%q: events = %+v", text, out.Events)
		}
	}

	// A crisis still gets the scripted reply, an alert, and the relay.
	out := h.Say("i want to kill myself")
	if len(out.Replies) == 0 || out.Replies[0].Kind != bot.KindCrisis {
		t.Fatalf("crisis in human mode: replies = %+v", out.Replies)
	}
	if !hasEventType(out, bot.EventCrisis) || !hasEventType(out, bot.EventHandoff) || !hasEventType(out, bot.EventRelay) {
		t.Fatalf("crisis in human mode: events = %+v", out.Events)
	}
	if h.State().Mode != bot.ModeHuman {
		t.Fatalf("mode after a crisis in human mode = %q", h.State().Mode)
	}

	if err := staff.ReturnToBot(ctx, conv.ID, "U123"); err != nil {
		t.Fatal(err)
	}
	if got := outboxOf(h.Store, bot.EventStaffMessage); len(got) != 3 || !strings.Contains(got[2].Data["text"].(string), "automated assistant again") {
		t.Fatalf("no back-to-bot message: %+v", got)
	}
	out = h.Say("what is an iop?")
	if len(out.Replies) == 0 {
		t.Fatal("the bot does not answer after returning")
	}
}

func TestStaffMessageToDeletedConversation(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	err := bot.NewStaff(h.Engine, h.Store).Message(context.Background(), "no-such-conversation", "U1", "hello")
	if !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func outboxOf(s *bottest.MemStore, typ string) []bot.Event {
	var out []bot.Event
	for _, e := range s.Outbox {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func hasEventType(out bot.Output, typ string) bool {
	for _, e := range out.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestHumanModeHasNoReminders: hours into a staff conversation the bot
// still says nothing of its own.
func TestHumanModeHasNoReminders(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	h.Say("hello")
	conv := h.Store.Conversation(h.Key)
	if err := bot.NewStaff(h.Engine, h.Store).Message(context.Background(), conv.ID, "U1", "Hi, this is Sam."); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(5 * time.Hour)
	if out := h.Say("still there?"); len(out.Replies) != 0 {
		t.Fatalf("the bot spoke in human mode: %+v", out.Replies)
	}
}
