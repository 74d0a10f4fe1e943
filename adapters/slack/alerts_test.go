package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"intakebot/bot"
)

// tick makes the re-alert loop run once, and returns when it is done (the
// second send waits until the loop is back at its select).
func (h *harness) tick() {
	h.ticks <- h.clk.Now()
	h.ticks <- h.clk.Now()
}

// handoffOf returns the id of the handoff out opened (or updated).
func handoffOf(t *testing.T, out bot.Output) string {
	t.Helper()
	for _, ev := range out.Events {
		if ev.Type == bot.EventHandoff {
			return ev.Data["handoff_id"].(string)
		}
	}
	t.Fatalf("no alert in %+v", out.Events)
	return ""
}

// realerts returns the re-alerts posted in handoff id's thread.
func (h *harness) realerts(id string) []fakeMsg {
	var out []fakeMsg
	for _, m := range h.fake.Messages(triage, h.handoff(id).SlackTS) {
		if strings.Contains(m.Text, "Still not acknowledged") {
			out = append(out, m)
		}
	}
	return out
}

// TestCrisisAlerts: a crisis posts an urgent alert that pages the
// configured group and offers Acknowledge; a repeat within the window
// updates the same alert; nobody acknowledging pages again every interval
// (in the thread, also sent to the channel); an acknowledged alert never
// does.
func TestCrisisAlerts(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	out := h.say("chat-9", "I want to kill myself")
	if !out.Crisis() {
		t.Fatalf("no crisis reply: %+v", out.Replies)
	}
	id := handoffOf(t, out)
	h.deliver()
	top := h.fake.Messages(triage, "")
	if len(top) != 1 {
		t.Fatalf("%d messages", len(top))
	}
	m := top[0]
	for _, want := range []string{"Crisis alert", "<!subteam^S0CRISIS>", `"action_id":"acknowledge"`, "Not acknowledged yet", "scripted crisis reply", "Category:"} {
		if !strings.Contains(m.Text+m.Blocks, want) {
			t.Errorf("the alert lacks %q", want)
		}
	}
	if !strings.HasPrefix(m.Text, "<!subteam^S0CRISIS>") {
		t.Errorf("the alert's text does not page: %q", m.Text)
	}
	if strings.Contains(m.Text+m.Blocks, "kill myself") {
		t.Error("the alert quotes the participant")
	}

	// A second crisis message within the window: the same alert, updated.
	h.clk.Advance(time.Minute)
	h.say("chat-9", "I really want to die")
	h.deliver()
	if n := len(h.fake.Messages(triage, "")); n != 1 {
		t.Fatalf("a repeat posted a new alert: %d messages", n)
	}
	if m := h.caseMessage(id); !strings.Contains(m.Blocks, "Crisis messages in this alert:* 2") {
		t.Errorf("the alert does not count the repeat: %s", m.Blocks)
	}
	if thr := h.threadTexts(id); len(thr) != 1 || !strings.HasPrefix(thr[0], ":rotating_light: Another crisis message from this participant (2 in this alert)") {
		t.Errorf("thread after a repeat = %q", thr)
	}

	// Not acknowledged: nothing before the interval, then a page.
	h.clk.Advance(5 * time.Minute)
	h.tick()
	if n := len(h.realerts(id)); n != 0 {
		t.Fatalf("re-alerted early: %d", n)
	}
	h.clk.Advance(6 * time.Minute)
	h.tick()
	ra := h.realerts(id)
	if len(ra) != 1 || !strings.HasPrefix(ra[0].Text, "<!subteam^S0CRISIS>") {
		t.Fatalf("re-alerts = %+v", ra)
	}
	var broadcast bool
	for _, c := range h.fake.Calls("chat.postMessage") {
		if strings.Contains(c.Form.Get("text"), "Still not acknowledged") && c.Form.Get("reply_broadcast") == "true" {
			broadcast = true
		}
	}
	if !broadcast {
		t.Error("the re-alert was not sent to the channel too")
	}
	if m := h.caseMessage(id); !strings.Contains(m.Blocks, "re-alerted 1×") {
		t.Errorf("the alert does not show the re-alert: %s", m.Blocks)
	}
	h.tick()
	if n := len(h.realerts(id)); n != 1 {
		t.Fatalf("re-alerted twice in one interval: %d", n)
	}
	h.clk.Advance(10 * time.Minute)
	h.tick()
	if n := len(h.realerts(id)); n != 2 {
		t.Fatalf("%d re-alerts after two intervals, want 2", n)
	}

	// Acknowledged: the message says who, and no more pages.
	h.click(staff1, id, "acknowledge", "")
	m = h.caseMessage(id)
	if !strings.Contains(m.Blocks, "Acknowledged by <@"+staff1+">") || strings.Contains(m.Blocks, `"action_id":"acknowledge"`) || strings.Contains(m.Text, "<!subteam") {
		t.Errorf("an acknowledged alert: %q %s", m.Text, m.Blocks)
	}
	for range 3 {
		h.clk.Advance(15 * time.Minute)
		h.tick()
	}
	if n := len(h.realerts(id)); n != 2 {
		t.Fatalf("an acknowledged alert re-alerted: %d", n)
	}
	if al, _ := h.st.HandoffAlert(ctx, id); al.AckedBy != staff1 || al.Realerts != 2 {
		t.Errorf("alert = %+v", al)
	}

	// An alert acknowledged at once never pages again; nor does a closed one.
	for _, action := range []string{"acknowledge", "close"} {
		chat := "chat-" + action
		h.clk.Advance(31 * time.Minute)
		id2 := handoffOf(t, h.say(chat, "I am going to kill myself tonight"))
		h.deliver()
		if action == "close" {
			h.click(staff2, id2, "close", "referred")
		} else {
			h.click(staff2, id2, action, "")
			// A repeat after the acknowledgement tells the acknowledger.
			h.say(chat, "I still want to kill myself")
			h.deliver()
			thr := h.threadTexts(id2)
			if len(thr) != 1 || !strings.HasPrefix(thr[0], "<@"+staff2+"> :rotating_light: Another crisis message") {
				t.Errorf("thread after an acknowledged repeat = %q", thr)
			}
		}
		for range 3 {
			h.clk.Advance(11 * time.Minute)
			h.tick()
		}
		if n := len(h.realerts(id2)); n != 0 {
			t.Errorf("after %s: %d re-alerts", action, n)
		}
	}
}

// TestRealertRetriesSoon: a re-alert that Slack refused (an outage) is
// tried again a minute later, not a whole interval later.
func TestRealertRetriesSoon(t *testing.T) {
	h := newHarness(t)
	id := handoffOf(t, h.say("chat-1", "I want to end my life"))
	h.deliver()
	h.clk.Advance(11 * time.Minute)
	h.fake.setFail(func(method string) *fakeFailure {
		if method == "chat.postMessage" {
			return &fakeFailure{Status: 503}
		}
		return nil
	})
	h.tick()
	if n := len(h.realerts(id)); n != 0 {
		t.Fatalf("%d re-alerts during the outage", n)
	}
	h.fake.setFail(nil)
	h.clk.Advance(90 * time.Second)
	h.tick()
	if n := len(h.realerts(id)); n != 1 {
		t.Fatalf("%d re-alerts a minute after the outage, want 1", n)
	}
}
