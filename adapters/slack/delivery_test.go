package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	slackadapter "intakebot/adapters/slack"
	"intakebot/bot"
	"intakebot/store"
)

// TestOutage: Slack fails for a stretch (500s, then a rate limit, then a
// post that went through but answered 500), then comes back: every case is
// delivered exactly once, in the order the intakes were completed, and no
// event goes dead.
func TestOutage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	phase := "down"
	h.fake.setFail(func(method string) *fakeFailure {
		switch phase {
		case "down":
			return &fakeFailure{Status: http.StatusInternalServerError}
		case "limited":
			return &fakeFailure{Status: http.StatusTooManyRequests, RetryAfter: 30}
		case "lost":
			if method == "chat.postMessage" {
				phase = "up"
				return &fakeFailure{Status: http.StatusBadGateway, AfterEffect: true}
			}
		}
		return nil
	})
	var ids []string
	for i, p := range []persona{jordan, riley, jordan} {
		ids = append(ids, h.completeIntake(fmt.Sprintf("chat-%d", i), p))
	}
	for round := 0; round < 3; round++ {
		h.deliver()
		h.clk.Advance(2 * time.Minute)
	}
	if n := len(h.fake.Messages(triage, "")); n != 0 {
		t.Fatalf("%d messages while Slack is down", n)
	}
	failed := 0
	for _, c := range h.fake.Calls("") {
		if strings.HasSuffix(c.Method, "!failed") {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d failed calls in three rounds, want 3: the events behind a failure wait without a call", failed)
	}
	phase = "limited"
	h.deliver()
	next := nextDue(t, h.st)
	if d := next.Sub(h.clk.Now()); d < 29*time.Second || d > 31*time.Second {
		t.Errorf("rate limited: next attempt in %s, want Slack's 30s", d)
	}
	h.clk.Advance(31 * time.Second)
	phase = "lost"
	h.deliver() // the first post goes through but answers 502
	h.clk.Advance(2 * time.Minute)
	h.deliver()
	h.clk.Advance(2 * time.Minute)
	h.deliver()

	top := h.fake.Messages(triage, "")
	if len(top) != 3 {
		t.Fatalf("%d case messages, want 3", len(top))
	}
	for i, m := range top {
		var meta struct {
			Payload map[string]string `json:"event_payload"`
		}
		json.Unmarshal([]byte(m.Meta), &meta)
		if meta.Payload["handoff_id"] != ids[i] {
			t.Errorf("message %d is case %s, want %s (in order)", i, meta.Payload["handoff_id"], ids[i])
		}
		if r := h.handoff(ids[i]); r.SlackTS != m.TS {
			t.Errorf("case %s points at %s, its message is %s", ids[i], r.SlackTS, m.TS)
		}
	}
	if n := len(h.fake.Calls("conversations.history")); n == 0 {
		t.Error("the retry after a lost answer did not look for the message it may have posted")
	}
	entries, err := h.st.OutboxEntries(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Status != store.OutboxDelivered {
			t.Errorf("event %s (%s) is %s", e.ID, e.Type, e.Status)
		}
	}
}

func nextDue(t *testing.T, st *store.Store) time.Time {
	t.Helper()
	entries, err := st.OutboxEntries(context.Background(), store.OutboxPending, 0)
	if err != nil || len(entries) == 0 {
		t.Fatalf("pending: %v %v", entries, err)
	}
	return entries[0].Next
}

// TestDeliveryErrors: how Slack's failures map onto the outbox's terms.
func TestDeliveryErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      *fakeFailure
		permanent bool
		retry     time.Duration
	}{
		{"rate limited", &fakeFailure{Status: 429, RetryAfter: 7}, false, 7 * time.Second},
		{"server error", &fakeFailure{Status: 500}, false, 0},
		{"channel gone", &fakeFailure{Error: "channel_not_found"}, true, 0},
		{"archived", &fakeFailure{Error: "is_archived"}, true, 0},
		{"refused blocks", &fakeFailure{Error: "invalid_blocks"}, true, 0},
		{"token revoked", &fakeFailure{Error: "token_revoked"}, false, 0},
		{"internal error", &fakeFailure{Error: "internal_error"}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id := handoffOf(t, h.say("chat-1", "/human"))
			h.fake.setFail(func(method string) *fakeFailure {
				if method == "chat.postMessage" {
					return tc.fail
				}
				return nil
			})
			err := h.ad.Notify(context.Background(), bot.Event{ID: "e1", Type: bot.EventHandoff, Data: map[string]any{"handoff_id": id}})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, bot.ErrPermanent); got != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			var rae *bot.RetryAfterError
			if got := errors.As(err, &rae); got != (tc.retry > 0) || (got && rae.RetryAfter != tc.retry) {
				t.Errorf("retry after = %v (%v), want %s", got, err, tc.retry)
			}
		})
	}
}

// TestDeletion: when the participant deletes their data, every case
// message is redacted in place, and so are the app's own replies in its
// thread (the relayed messages); staff can no longer act or write.
func TestDeletion(t *testing.T) {
	h := newHarness(t)
	const chat = "chat-1"
	id := h.completeIntake(chat, jordan)
	h.deliver()
	h.reply(id, staff1, "Hello from intake", nil)
	h.deliver()
	h.say(chat, "my other number is 206 555 0199")
	h.deliver()
	if thr := h.threadTexts(id); !slices.ContainsFunc(thr, func(s string) bool { return strings.Contains(s, "555 0199") }) {
		t.Fatalf("thread = %q", thr)
	}
	h.say(chat, "/delete")
	h.tap(chat, "delete.yes")
	h.deliver()
	m := h.caseMessage(id)
	if !strings.Contains(m.Text+m.Blocks, "removed at the participant's request") || strings.Contains(m.Blocks, `"type":"actions"`) {
		t.Errorf("case after deletion: %q %s", m.Text, m.Blocks)
	}
	for _, r := range h.fake.Messages(triage, h.handoff(id).SlackTS) {
		if r.User == botUserID && !strings.Contains(r.Text, "Removed at the participant's request") {
			t.Errorf("an app reply kept its text: %q", r.Text)
		}
		if strings.Contains(r.Text, "555 0199") {
			t.Errorf("the thread still quotes the participant: %q", r.Text)
		}
	}
	if r := h.fake.Messages(triage, h.handoff(id).SlackTS); !slices.ContainsFunc(r, func(m fakeMsg) bool { return m.Text == "Hello from intake" }) {
		t.Error("a staff member's own reply was touched")
	}
	// Staff can no longer act on it or write to the participant.
	sent := len(h.staffMessages(chat))
	h.click(staff1, id, "reopen", "")
	h.reply(id, staff1, "Are you there?", nil)
	h.deliver()
	if n := len(h.staffMessages(chat)); n != sent {
		t.Errorf("a reply after deletion reached the participant")
	}
	if got := h.handoff(id); got.Status != bot.IntakeClosed {
		t.Errorf("a deleted case was reopened: %+v", got)
	}
	eph := h.fake.Calls("chat.postEphemeral")
	if len(eph) != 2 || !strings.Contains(eph[0].Form.Get("text"), "removed at the participant's request") || !strings.Contains(eph[1].Form.Get("text"), "deleted their data") {
		t.Errorf("ephemeral answers: %v", eph)
	}
}

// TestDeletedBeforePosted: a participant who deletes their data before the
// case reached Slack leaves nothing there.
func TestDeletedBeforePosted(t *testing.T) {
	h := newHarness(t)
	h.completeIntake("chat-1", jordan)
	h.say("chat-1", "/delete")
	h.tap("chat-1", "delete.yes")
	h.deliver()
	if n := len(h.fake.Calls("chat.postMessage")); n != 0 {
		t.Errorf("%d posts for a deleted participant", n)
	}
}

// TestUnreachable: a participant who blocked the bot is noted in their
// case's thread, once.
func TestUnreachable(t *testing.T) {
	h := newHarness(t)
	id := h.completeIntake("chat-1", jordan)
	h.deliver()
	if err := h.eng.MarkUnreachable(context.Background(), bot.Key{Channel: "web", ChatID: "chat-1"}, "blocked"); err != nil {
		t.Fatal(err)
	}
	h.deliver()
	thr := h.threadTexts(id)
	if len(thr) != 1 || !strings.Contains(thr[0], "refuses messages") || !strings.Contains(thr[0], "web") {
		t.Fatalf("thread = %q", thr)
	}
}

// TestConfigFromEnv: each bad value is named by its variable; Slack is off
// without a bot token.
func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_APP_TOKEN": "xapp-1-abc", "SLACK_CHANNEL": "C0TRIAGE"}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		enabled bool
		errHas  string
		check   func(t *testing.T, c slackadapter.Config)
	}{
		{"off", map[string]string{"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "", "SLACK_CHANNEL": ""}, false, "", nil},
		{"off but half set", map[string]string{"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": ""}, false, "SLACK_BOT_TOKEN", nil},
		{"socket mode defaults", nil, true, "", func(t *testing.T, c slackadapter.Config) {
			if c.HTTPMode() || c.Realert != 10*time.Minute || c.AlertMention != "" || c.Detail != "" {
				t.Errorf("config = %+v", c)
			}
		}},
		{"http mode", map[string]string{"SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": signingSecret}, true, "", func(t *testing.T, c slackadapter.Config) {
			if !c.HTTPMode() {
				t.Error("not HTTP mode")
			}
		}},
		{"api url gets its slash", map[string]string{"SLACK_API_URL": "http://127.0.0.1:9/api"}, true, "", func(t *testing.T, c slackadapter.Config) {
			if c.APIURL != "http://127.0.0.1:9/api/" {
				t.Errorf("api url = %q", c.APIURL)
			}
		}},
		{"everything", map[string]string{"SLACK_DETAIL": "FULL", "SLACK_ALERT_MENTION": "@S0123AB", "SLACK_REALERT_MINUTES": "0",
			"SLACK_ALLOWED_USERS": "U01, W02 ,"}, true, "", func(t *testing.T, c slackadapter.Config) {
			if c.Detail != "full" || c.AlertMention != "S0123AB" || c.Realert != 0 || !slices.Equal(c.AllowedUsers, []string{"U01", "W02"}) {
				t.Errorf("config = %+v", c)
			}
		}},
		{"bot token", map[string]string{"SLACK_BOT_TOKEN": "xoxp-user-token"}, true, "SLACK_BOT_TOKEN", nil},
		{"no app token", map[string]string{"SLACK_APP_TOKEN": ""}, true, "SLACK_APP_TOKEN", nil},
		{"channel name", map[string]string{"SLACK_CHANNEL": "#intake"}, true, "SLACK_CHANNEL", nil},
		{"no channel", map[string]string{"SLACK_CHANNEL": ""}, true, "SLACK_CHANNEL", nil},
		{"detail", map[string]string{"SLACK_DETAIL": "some"}, true, "SLACK_DETAIL", nil},
		{"mention", map[string]string{"SLACK_ALERT_MENTION": "everyone"}, true, "SLACK_ALERT_MENTION", nil},
		{"mention @HERE", map[string]string{"SLACK_ALERT_MENTION": "@HERE"}, true, "", func(t *testing.T, c slackadapter.Config) {
			if c.AlertMention != "here" {
				t.Errorf("mention = %q", c.AlertMention)
			}
		}},
		{"realert", map[string]string{"SLACK_REALERT_MINUTES": "ten"}, true, "SLACK_REALERT_MINUTES", nil},
		{"realert range", map[string]string{"SLACK_REALERT_MINUTES": "-1"}, true, "SLACK_REALERT_MINUTES", nil},
		{"users", map[string]string{"SLACK_ALLOWED_USERS": "U01,jane"}, true, "SLACK_ALLOWED_USERS", nil},
		{"api url", map[string]string{"SLACK_API_URL": "ftp://x"}, true, "SLACK_API_URL", nil},
		{"short secret", map[string]string{"SLACK_SIGNING_SECRET": "abc"}, true, "SLACK_SIGNING_SECRET", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, enabled, err := slackadapter.ConfigFromEnv(func(k string) string { return env[k] })
			if enabled != tc.enabled {
				t.Errorf("enabled = %v", enabled)
			}
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("error %v, want one naming %s", err, tc.errHas)
			}
			if err != nil {
				for _, secret := range []string{"xoxb-1-abc", "xapp-1-abc", signingSecret, "xoxp-user-token"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error quotes a secret: %v", err)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

// TestRefusedToken: a bot token Slack refuses stops Run with an error
// naming SLACK_BOT_TOKEN (never quoting it), and Ready says so.
func TestRefusedToken(t *testing.T) {
	clk := func() time.Time { return time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC) }
	fake := newFakeSlack(t, clk)
	fake.setFail(func(method string) *fakeFailure {
		if method == "auth.test" {
			return &fakeFailure{Error: "invalid_auth"}
		}
		return nil
	})
	h := newHarnessNoRun(t)
	cfg := slackadapter.Config{BotToken: "xoxb-1-revoked-token", AppToken: "xapp-1-test", Channel: triage, APIURL: fake.URL()}
	ad, err := slackadapter.New(cfg, h.st, bot.NewStaff(h.eng, h.st), h.spec)
	if err != nil {
		t.Fatal(err)
	}
	err = ad.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SLACK_BOT_TOKEN") || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "revoked-token") {
		t.Fatalf("Run = %v", err)
	}
	if ad.Ready() == nil {
		t.Error("ready with a refused token")
	}
}
