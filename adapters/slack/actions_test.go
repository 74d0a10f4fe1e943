package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	slackadapter "intakebot/adapters/slack"
	"intakebot/bot"
)

// TestButtons: Claim → Mark contacted → Close (with an outcome) moves the
// case in the store, audits each step and redraws the message with who
// and when; an outsider's click is refused ephemerally, audited, and
// changes nothing; Reopen brings a closed case back.
func TestButtons(t *testing.T) {
	h := newHarness(t)
	id := h.completeIntake("chat-1", jordan)
	h.deliver()

	// An outsider first: refused, audited, nothing changes.
	before := h.caseMessage(id).Edits
	h.click(outsider, id, "claim", "")
	eph := h.fake.Calls("chat.postEphemeral")[0].Form
	if eph.Get("user") != outsider || !strings.Contains(eph.Get("text"), "Only members of the triage channel") {
		t.Errorf("refusal = %v", eph)
	}
	if got := h.handoff(id); got.Status != bot.IntakeNew || got.Assignee != "" {
		t.Errorf("after an outsider's click: %+v", got)
	}
	if h.caseMessage(id).Edits != before {
		t.Error("an outsider's click redrew the case")
	}
	if a := h.audit(id); !slices.Contains(a, outsider+":handoff.refused.claim") {
		t.Errorf("refusal not audited: %v", a)
	}

	steps := []struct {
		user, action, selected string
		status, shows          string
	}{
		{staff1, "claim", "", bot.IntakeClaimed, "Claimed · <@" + staff1 + ">"},
		{staff1, "claim", "", bot.IntakeClaimed, "Claimed · <@" + staff1 + ">"}, // a double click
		{staff1, "contacted", "", bot.IntakeContacted, "Contacted · <@" + staff1 + ">"},
		{staff2, "close", "referred", bot.IntakeClosed, "Closed (referred elsewhere) · <@" + staff1 + ">"},
	}
	for _, s := range steps {
		h.click(s.user, id, s.action, s.selected)
		got := h.handoff(id)
		if got.Status != s.status {
			t.Fatalf("after %s: status %s, want %s", s.action, got.Status, s.status)
		}
		m := h.caseMessage(id)
		if !strings.Contains(m.Blocks, s.shows) || !strings.Contains(m.Blocks, "<!date^") {
			t.Errorf("after %s the case does not show %q with a time: %s", s.action, s.shows, m.Blocks)
		}
	}
	m := h.caseMessage(id)
	if !strings.Contains(m.Blocks, `"action_id":"reopen"`) || strings.Contains(m.Blocks, `"action_id":"claim"`) {
		t.Errorf("a closed case offers: %s", m.Blocks)
	}
	if got := h.handoff(id); got.Outcome != "referred elsewhere" || got.Closed.IsZero() {
		t.Errorf("closed = %+v", got)
	}
	// A closed case refuses Claim until reopened.
	h.click(staff1, id, "claim", "")
	if n := len(h.fake.Calls("chat.postEphemeral")); n != 2 {
		t.Errorf("%d ephemeral answers, want 2", n)
	}
	h.click(staff2, id, "reopen", "")
	if got := h.handoff(id); got.Status != bot.IntakeClaimed || got.Assignee != staff1 || !got.Closed.IsZero() {
		t.Errorf("reopened = %+v", got)
	}
	if m := h.caseMessage(id); !strings.Contains(m.Blocks, `"action_id":"contacted"`) {
		t.Errorf("a reopened case lacks its buttons: %s", m.Blocks)
	}
	want := []string{
		"system:slack:intake.read", outsider + ":handoff.refused.claim",
		staff1 + ":handoff.claimed", staff1 + ":handoff.assign", staff1 + ":handoff.contacted",
		staff2 + ":handoff.closed", staff2 + ":handoff.reopen",
	}
	var got []string
	for _, a := range h.audit(id) {
		if !strings.HasSuffix(a, "intake.read") {
			got = append(got, a)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want[1:]) {
		t.Errorf("audit = %v\nwant %v", got, want[1:])
	}
}

// TestAllowedUsers: with SLACK_ALLOWED_USERS only those users may act,
// whatever the channel's members.
func TestAllowedUsers(t *testing.T) {
	h := newHarness(t, func(c *slackadapter.Config) { c.AllowedUsers = []string{staff2} })
	id := h.completeIntake("chat-1", jordan)
	h.deliver()
	h.click(staff1, id, "claim", "")
	if n := len(h.fake.Calls("chat.postEphemeral")); n != 1 {
		t.Errorf("%d refusals, want 1", n)
	}
	h.click(staff2, id, "claim", "")
	if got := h.handoff(id); got.Assignee != staff2 {
		t.Errorf("assignee = %q", got.Assignee)
	}
	if n := len(h.fake.Calls("conversations.members")); n != 0 {
		t.Errorf("%d member lookups with an allow list", n)
	}
}

// TestSignatures: a forged, stale or missing signature gets 401 and
// changes nothing; a signed URL verification is answered with its
// challenge.
func TestSignatures(t *testing.T) {
	h := newHarness(t)
	id := h.completeIntake("chat-1", jordan)
	h.deliver()
	ts := h.handoff(id).SlackTS
	calls := len(h.fake.Calls(""))
	click := interaction(staff1, id, ts, "claim", "")
	reply := messageEvent("EvForged", threadReply(staff1, ts, "1796144500.000009", "hello from a forger"))
	for _, tc := range []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"forged", "not-the-signing-secret-at-all", time.Now()},
		{"stale", signingSecret, time.Now().Add(-6 * time.Minute)},
		{"future", signingSecret, time.Now().Add(6 * time.Minute)},
		{"unsigned", "", time.Now()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := h.post(slackadapter.InteractivityPath, "application/x-www-form-urlencoded", click, tc.secret, tc.at, nil); code != http.StatusUnauthorized {
				t.Errorf("interactivity: %d, want 401", code)
			}
			if code, _ := h.post(slackadapter.EventsPath, "application/json", reply, tc.secret, tc.at, nil); code != http.StatusUnauthorized {
				t.Errorf("events: %d, want 401", code)
			}
		})
	}
	// A tampered body under a once-valid signature.
	stamp, sig := sign(signingSecret, time.Now(), click)
	req, _ := http.NewRequest(http.MethodPost, h.http.URL+slackadapter.InteractivityPath, strings.NewReader(string(click)+"x"))
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered body: %v %v", res.StatusCode, err)
	}
	// The signed challenge works; then a signed click proves the worker is
	// alive, so "nothing changed" above is not a matter of timing.
	code, body := h.post(slackadapter.EventsPath, "application/json", []byte(`{"token":"x","challenge":"c-123","type":"url_verification"}`), signingSecret, time.Now(), nil)
	if code != http.StatusOK || body != "c-123" {
		t.Errorf("url verification: %d %q", code, body)
	}
	h.click(staff2, id, "contacted", "")
	if got := h.handoff(id); got.Status != bot.IntakeContacted || got.Assignee != staff2 {
		t.Errorf("after the signed click: %+v", got)
	}
	if n := len(h.staffMessages("chat-1")); n != 0 {
		t.Errorf("a forged reply reached the participant: %d messages", n)
	}
	for _, c := range h.fake.Calls("")[calls:] {
		if c.Method == "chat.postMessage" || c.Method == "reactions.add" {
			t.Errorf("a rejected request caused %s", c.Method)
		}
	}
	if a := h.audit(id); slices.ContainsFunc(a, func(s string) bool { return strings.HasPrefix(s, staff1+":") }) {
		t.Errorf("a rejected request was acted on: %v", a)
	}
	_ = context.Background()
}
