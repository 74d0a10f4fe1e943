package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"intakebot/bot"
	"intakebot/bot/bottest"
)

// TestBadInput covers input a transcript cannot spell: huge messages,
// invalid UTF-8, NUL bytes, non-text content and repeated update ids.
func TestBadInput(t *testing.T) {
	spec := mustSpec(t)
	tests := []struct {
		name string
		in   bot.Inbound
		want string // a fragment of some reply
	}{
		{"10000 characters", bot.Inbound{Text: strings.Repeat("how long is an iop program ", 400)}, "read the first part"},
		{"invalid UTF-8", bot.Inbound{Text: "hello \xff\xfe\xfd there"}, "automated assistant"},
		{"NUL bytes", bot.Inbound{Text: "\x00\x00\x00"}, "didn't catch any words"},
		{"only whitespace", bot.Inbound{Text: " \t\n "}, "didn't catch any words"},
		{"a photo", bot.Inbound{NonText: "photo"}, "only read text"},
		{"a very long button id", bot.Inbound{Choice: strings.Repeat("x", 5000)}, "belongs to an earlier question"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := bottest.NewHarness(t, spec)
			out := h.Send(tc.in)
			if !anyReply(out, tc.want) {
				t.Fatalf("no reply contains %q: %+v", tc.want, out.Replies)
			}
			last := out.Replies[len(out.Replies)-1]
			if !offersChoice(last.Choices, bot.ChoiceHuman) {
				t.Errorf("last reply offers no person: %+v", last)
			}
		})
	}
}

func TestDuplicateUpdateIsANoOp(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	first := h.Send(bot.Inbound{UpdateID: "u-1", Text: "/start"})
	if len(first.Replies) == 0 {
		t.Fatal("no reply to the first update")
	}
	out, err := h.Engine.Handle(context.Background(), bot.Inbound{Channel: "console", ChatID: "chat-1", UpdateID: "u-1", Text: "/start"})
	if !errors.Is(err, bot.ErrDuplicate) {
		t.Fatalf("err = %v, want ErrDuplicate", err)
	}
	if len(out.Replies) != 0 || len(out.Events) != 0 {
		t.Fatalf("duplicate produced output: %+v", out)
	}
}

// TestEveryReplyOffersAPerson walks a conversation and checks that the last
// reply of every turn offers a person, except the crisis reply, whose own
// "talk to staff now" button does.
func TestEveryReplyOffersAPerson(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	for _, in := range []bot.Inbound{
		{Text: "hello"}, {Text: "what is iop"}, {Choice: "flow:intake"}, {Choice: "consent.yes"},
		{Text: "Sam"}, {Text: "not a choice at all"}, {Choice: "contact_method.call"}, {Text: "/menu"},
		{Choice: "resume"}, {Text: "/help"}, {Text: "/stop"},
	} {
		out := h.Send(in)
		if len(out.Replies) == 0 {
			t.Fatalf("%+v: no reply", in)
		}
		last := out.Replies[len(out.Replies)-1]
		if !offersChoice(last.Choices, bot.ChoiceHuman) && !offersChoice(last.Choices, bot.ChoiceCrisisStaff) {
			t.Errorf("%+v: last reply %q offers no person", in, last.Text)
		}
	}
}

// TestStoreOutage: when the store fails, the person still gets a calm
// answer and a way to a person, and the error is returned.
func TestStoreOutage(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	h.Store.FailNextTurns = 1
	out, err := h.Engine.Handle(context.Background(), bot.Inbound{Channel: "console", ChatID: "c", Text: "hello"})
	if err == nil {
		t.Fatal("no error from a failing store")
	}
	if !anyReply(out, "something went wrong") || !offersChoice(out.Replies[0].Choices, bot.ChoiceHuman) {
		t.Fatalf("replies = %+v", out.Replies)
	}
}

func anyReply(out bot.Output, frag string) bool {
	for _, r := range out.Replies {
		if strings.Contains(strings.ToLower(r.Text), strings.ToLower(frag)) {
			return true
		}
	}
	return false
}

func offersChoice(cs []bot.Choice, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}
