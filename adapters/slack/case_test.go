package slack_test

import (
	"context"
	"strings"
	"testing"

	slackadapter "intakebot/adapters/slack"
	"intakebot/bot"
)

// TestCaseMessage: a completed intake becomes exactly one case message in
// the triage channel, with what staff need to triage and, by default, no
// name, phone, email, typed answer or item score; SLACK_DETAIL=full puts
// them in. A repeated delivery updates the message rather than posting
// another.
func TestCaseMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		detail string
		p      persona
	}{
		{"minimum, phone", "", jordan},
		{"minimum, email", slackadapter.DetailMinimum, riley},
		{"full, phone", slackadapter.DetailFull, jordan},
		{"full, email", slackadapter.DetailFull, riley},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withDetail(tc.detail))
			id := h.completeIntake("chat-1", tc.p)
			h.deliver()
			msgs := h.fake.Messages(triage, "")
			if len(msgs) != 1 {
				t.Fatalf("%d messages in the channel, want 1", len(msgs))
			}
			m := h.caseMessage(id)
			all := m.Text + m.Blocks
			for _, want := range []string{id, "New intake", "Routine", "Completed the pre-intake", "Suggested level of care",
				"Contact by:* Phone call", "Best days", "Monday, Wednesday", "Virtual", "Anxiety", "Claim", "Mark contacted",
				"intakebot intakes show", `"block_id":"case:` + id + `"`} {
				if tc.p.contact == "email" && want == "Contact by:* Phone call" {
					want = "Contact by:* Email"
				}
				if !strings.Contains(all, want) {
					t.Errorf("case message lacks %q", want)
				}
			}
			if tc.detail == slackadapter.DetailFull {
				for _, want := range []string{tc.p.name, tc.p.phoneD, tc.p.email, "panic attacks at work", "Blue Cross", "items "} {
					if want != "" && !strings.Contains(all, want) {
						t.Errorf("full case message lacks %q", want)
					}
				}
			} else {
				noPII(t, "case message", all, tc.p)
				for _, absent := range []string{"Blue Cross", "items ", "morning and afternoon"} {
					if strings.Contains(all, absent) {
						t.Errorf("minimum case message holds %q", absent)
					}
				}
			}
			noPII(t, "logs", h.logs.String(), tc.p)
			if strings.Contains(h.logs.String(), "xoxb-") || strings.Contains(h.logs.String(), signingSecret) {
				t.Error("a token or the signing secret is in the logs")
			}
			// A repeated delivery of the same event (a crash before it was
			// marked) updates the message: still one.
			ev := bot.Event{ID: "again", Type: bot.EventHandoff, Data: map[string]any{"handoff_id": id, "urgency": "routine", "reason": "intake"}}
			if err := h.ad.Notify(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if n := len(h.fake.Messages(triage, "")); n != 1 {
				t.Fatalf("%d messages after a repeated delivery", n)
			}
			if n := len(h.fake.Calls("chat.postMessage")); n != 1 {
				t.Fatalf("%d posts", n)
			}
		})
	}
}
