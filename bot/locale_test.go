package bot_test

import (
	"strings"
	"testing"

	"intakebot/bot"
	"intakebot/bot/bottest"
)

// TestCrisisReplyInThePersonsLanguage: a Spanish speaker gets the Spanish
// crisis reply and resources; anyone else the English ones.
func TestCrisisReplyInThePersonsLanguage(t *testing.T) {
	spec := mustSpec(t)
	for _, tc := range []struct{ lang, want, resources string }{
		{"es", spec.Safety.Replies["es"], spec.Safety.Resources["es"]},
		{"en", spec.Safety.Reply, spec.Safety.Resources["en"]},
		{"fr", spec.Safety.Reply, spec.Safety.Resources["en"]},
	} {
		h := bottest.NewHarness(t, spec)
		out := h.Send(bot.Inbound{Text: "quiero morir, I want to die", Lang: tc.lang})
		if len(out.Replies) == 0 || strings.TrimSpace(out.Replies[0].Text) != strings.TrimSpace(tc.want) {
			t.Fatalf("%s: replies = %+v", tc.lang, out.Replies)
		}
		out = h.Send(bot.Inbound{Choice: bot.ChoiceCrisisMore, Lang: tc.lang})
		if len(out.Replies) == 0 || strings.TrimSpace(out.Replies[0].Text) != strings.TrimSpace(tc.resources) {
			t.Fatalf("%s: resources = %+v", tc.lang, out.Replies)
		}
	}
}
