package slack_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"intakebot/bot"
)

// TestSocketMode: with an app token and no signing secret the adapter
// connects over Socket Mode; an event and a click arrive as envelopes, are
// acknowledged, and handled (a redelivered envelope once); Ready follows
// the connection.
func TestSocketMode(t *testing.T) {
	h := newHarness(t, socketMode)
	if h.http != nil {
		t.Fatal("HTTP endpoints in Socket Mode")
	}
	h.fake.waitFor("the websocket", h.fake.connected)
	const chat = "chat-1"
	id := h.completeIntake(chat, jordan)
	h.deliver()
	thread := h.handoff(id).SlackTS

	// A staff reply arrives as an events_api envelope.
	ts := h.fake.addStaffMessage(triage, thread, staff1, "Hello over the socket")
	payload := json.RawMessage(messageEvent("EvSock1", threadReply(staff1, thread, ts, "Hello over the socket")))
	n := h.jobs.Load()
	h.fake.sendEnvelope("env-1", "events_api", payload, 0)
	h.fake.waitFor("the ack of env-1", func() bool { return h.fake.acked("env-1") })
	h.waitJobs(n + 1)
	h.deliver()
	if got := h.staffMessages(chat); len(got) != 2 || got[1] != "Message from the Sample Harbor intake team: Hello over the socket" {
		t.Fatalf("participant got %q", got)
	}

	// Slack redelivers it in a new envelope: acknowledged, handled once.
	h.fake.sendEnvelope("env-2", "events_api", payload, 1)
	h.fake.waitFor("the ack of env-2", func() bool { return h.fake.acked("env-2") })
	h.waitJobs(n + 2)
	h.deliver()
	if got := h.staffMessages(chat); len(got) != 2 {
		t.Fatalf("a redelivery reached the participant again: %q", got)
	}

	// A click arrives as an interactive envelope.
	form, _ := url.ParseQuery(string(interaction(staff2, id, thread, "claim", "")))
	h.fake.sendEnvelope("env-3", "interactive", json.RawMessage(form.Get("payload")), 0)
	h.fake.waitFor("the ack of env-3", func() bool { return h.fake.acked("env-3") })
	h.waitJobs(n + 3)
	if got := h.handoff(id); got.Status != bot.IntakeClaimed || got.Assignee != staff2 {
		t.Fatalf("after the click: %+v", got)
	}

	// The connection drops and Slack refuses to reopen it for a while:
	// not ready; then it comes back by itself.
	h.fake.setFail(func(method string) *fakeFailure {
		if method == "apps.connections.open" {
			return &fakeFailure{Status: 503}
		}
		return nil
	})
	h.fake.dropSockets()
	h.fake.waitFor("not ready", func() bool { return h.ad.Ready() != nil })
	h.fake.setFail(nil)
	h.fake.waitFor("ready again", func() bool { return h.ad.Ready() == nil })
	if h.fake.opened() < 2 {
		t.Errorf("apps.connections.open called %d times", h.fake.opened())
	}
}
