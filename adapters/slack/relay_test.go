package slack_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"intakebot/bot"
)

// threadTexts returns the texts of the replies in handoff id's thread.
func (h *harness) threadTexts(id string) []string {
	var out []string
	for _, m := range h.fake.Messages(triage, h.handoff(id).SlackTS) {
		out = append(out, m.Text)
	}
	return out
}

// reactions returns the reactions added, as "ts:name".
func (h *harness) reactions() []string {
	var out []string
	for _, c := range h.fake.Calls("reactions.add") {
		out = append(out, c.Form.Get("timestamp")+":"+c.Form.Get("name"))
	}
	return out
}

// TestRelayAndHumanMode is the handoff other frameworks get wrong, end to
// end: a staff reply in the case thread reaches the participant and puts
// the conversation in human mode; from then on the bot stays silent and
// the participant's messages arrive in the thread; a note: stays
// internal; Slack's redelivery is handled once; a crisis message still
// gets the crisis reply and an alert; Return to bot (and closing the case)
// hands the conversation back and the bot answers again.
func TestRelayAndHumanMode(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const chat = "chat-1"
	id := h.completeIntake(chat, jordan)
	h.deliver()
	if len(h.staffMessages(chat)) != 0 {
		t.Fatal("the participant got a staff message before anyone wrote")
	}

	// A staff reply in the case thread reaches the participant.
	evID := h.reply(id, staff1, "Hi, this is Sam from <https://example.org|intake>. Is now a good time, <@USTAFF2>?", nil)
	h.deliver()
	got := h.staffMessages(chat)
	if len(got) != 2 || got[0] != h.spec.Messages.HumanMode ||
		got[1] != "Message from the Sample Harbor intake team: Hi, this is Sam from intake (https://example.org). Is now a good time, a colleague?" {
		t.Fatalf("participant got %q", got)
	}
	if m := h.caseMessage(id); !strings.Contains(m.Blocks, "Staff have this conversation") || !strings.Contains(m.Blocks, `"action_id":"return_to_bot"`) {
		t.Errorf("the case does not show human mode: %s", m.Blocks)
	}
	if r := h.reactions(); len(r) != 1 || !strings.HasSuffix(r[0], ":outbox_tray") {
		t.Errorf("reactions = %v", r)
	}
	convID := h.conversationID(chat)
	if a := h.audit(convID); !slices.Contains(a, staff1+":conversation.staff_message") {
		t.Errorf("the staff message is not audited: %v", a)
	}

	// Slack redelivers the same event (our answer was late): handled once.
	thread := h.handoff(id).SlackTS
	h.sendEvent(messageEvent(evID, threadReply(staff1, thread, "1796144999.000001", "Hi, this is Sam")), map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
	h.deliver()
	if n := len(h.staffMessages(chat)); n != 2 {
		t.Fatalf("a redelivered event reached the participant again: %d messages", n)
	}

	// A note stays internal; an outsider's reply, a bot's message and an
	// edit are not relayed.
	noteTS := h.fake.addStaffMessage(triage, thread, staff2, "note: left a voicemail too")
	h.sendEvent(messageEvent("EvNote", threadReply(staff2, thread, noteTS, "note: left a voicemail too")), nil)
	h.reply(id, outsider, "I am not on the team", nil)
	botMsg := threadReply(staff1, thread, "1796145000.000001", "a bot speaking")
	botMsg["bot_id"], botMsg["subtype"] = "BOTHER", "bot_message"
	h.sendEvent(messageEvent("EvBot", botMsg), nil)
	edit := map[string]any{"type": "message", "subtype": "message_changed", "channel": triage, "ts": "1796145000.000002",
		"message": map[string]any{"type": "message", "user": staff1, "text": "edited text", "ts": noteTS, "thread_ts": thread}}
	h.sendEvent(messageEvent("EvEdit", edit), nil)
	h.deliver()
	if n := len(h.staffMessages(chat)); n != 2 {
		t.Fatalf("a note, an outsider, a bot or an edit reached the participant: %q", h.staffMessages(chat))
	}
	if r := h.reactions(); !slices.Contains(r, noteTS+":memo") {
		t.Errorf("the note was not marked: %v", r)
	}
	if eph := h.fake.Calls("chat.postEphemeral"); len(eph) != 1 || eph[0].Form.Get("user") != outsider {
		t.Errorf("ephemeral answers = %v", eph)
	}
	if a := h.audit(id); !slices.Contains(a, staff2+":handoff.note") || !slices.Contains(a, outsider+":handoff.refused.reply") {
		t.Errorf("audit = %v", a)
	}

	// Human mode: the bot stays silent, the participant's words go to the
	// thread.
	out := h.say(chat, "Yes, now works. What should I have ready?")
	if len(out.Replies) != 0 {
		t.Fatalf("the bot answered in human mode: %+v", out.Replies)
	}
	out = h.tap(chat, "human")
	if len(out.Replies) != 0 {
		t.Fatalf("the bot answered a button in human mode: %+v", out.Replies)
	}
	h.say(chat, "<!channel> is anyone there?")
	h.deliver()
	thr := h.threadTexts(id)
	if !slices.Contains(thr, "*Participant:* Yes, now works. What should I have ready?") || !slices.Contains(thr, "*Participant:* [tapped human]") ||
		!slices.Contains(thr, "*Participant:* &lt;!channel&gt; is anyone there?") {
		t.Fatalf("thread = %q", thr)
	}

	// A crisis message still gets the crisis reply at once, and an alert.
	out = h.say(chat, "honestly I want to kill myself")
	if !out.Crisis() || len(out.Replies) != 1 || out.Replies[0].Kind != bot.KindCrisis {
		t.Fatalf("crisis in human mode: %+v", out.Replies)
	}
	h.deliver()
	top := h.fake.Messages(triage, "")
	if len(top) != 2 || !strings.HasPrefix(top[1].Text, "<!subteam^S0CRISIS>") || !strings.Contains(top[1].Blocks, `"action_id":"acknowledge"`) {
		t.Fatalf("no crisis alert: %+v", top)
	}
	thr = h.threadTexts(id)
	if last := thr[len(thr)-1]; !strings.Contains(last, "crisis screen fired") || !strings.Contains(last, "kill myself") {
		t.Errorf("the crisis message is not marked in the thread: %q", last)
	}

	// Return to bot: the participant is told, and the bot answers again.
	h.click(staff1, id, "return_to_bot", "")
	h.deliver()
	got = h.staffMessages(chat)
	if got[len(got)-1] != h.spec.Messages.BackToBot {
		t.Fatalf("participant got %q", got)
	}
	if m, _ := h.st.ConversationMode(ctx, convID); m == bot.ModeHuman {
		t.Fatal("still in human mode")
	}
	if m := h.caseMessage(id); strings.Contains(m.Blocks, `"action_id":"return_to_bot"`) {
		t.Error("the case still offers Return to bot")
	}
	if out := h.say(chat, "how long does IOP usually last?"); len(out.Replies) == 0 {
		t.Fatal("the bot stays silent after Return to bot")
	}

	// Staff write again (human mode again), then close the case: that too
	// hands the conversation back.
	h.reply(id, staff1, "One more thing before we hang up.", nil)
	h.deliver()
	if m, _ := h.st.ConversationMode(ctx, convID); m != bot.ModeHuman {
		t.Fatal("a second staff message did not take the conversation")
	}
	h.click(staff1, id, "close", "enrolled")
	h.deliver()
	got = h.staffMessages(chat)
	if got[len(got)-1] != h.spec.Messages.BackToBot {
		t.Fatalf("closing did not hand back: %q", got)
	}
	if out := h.say(chat, "thanks!"); len(out.Replies) == 0 {
		t.Fatal("the bot stays silent after the case was closed")
	}
	// A reply in a closed case's thread is not sent.
	h.reply(id, staff1, "Are you still there?", nil)
	h.deliver()
	if got2 := h.staffMessages(chat); len(got2) != len(got) {
		t.Errorf("a reply in a closed case reached the participant: %q", got2[len(got):])
	}
	noPII(t, "logs", h.logs.String(), jordan)
	for _, s := range []string{"now works", "kill myself", "voicemail", "Sam from"} {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("logs hold message text %q", s)
		}
	}
}

// TestRelayOpensCase: a participant in human mode whose conversation has no
// case in Slack yet (its case message failed for good) still reaches
// staff: the relay posts the pending case first, then the message in its
// thread.
func TestRelayWithoutCaseMessage(t *testing.T) {
	h := newHarness(t)
	const chat = "chat-1"
	out := h.say(chat, "I'd like to talk to a person")
	var hid string
	for _, ev := range out.Events {
		if ev.Type == bot.EventHandoff {
			hid = ev.Data["handoff_id"].(string)
		}
	}
	if hid == "" {
		t.Fatalf("no handoff: %+v", out.Events)
	}
	// Staff take the conversation from elsewhere (the case event is still
	// queued): the participant's next message is a relay.
	if err := bot.NewStaff(h.eng, h.st).Message(context.Background(), h.conversationID(chat), staff1, "Hello!"); err != nil {
		t.Fatal(err)
	}
	h.say(chat, "hi, thanks")
	// Deliver only the relay first: it must bring its case along.
	ev := bot.Event{ID: "relay-1", Type: bot.EventRelay, ConversationID: h.conversationID(chat), Data: map[string]any{"text": "hi, thanks"}}
	if err := h.ad.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if thr := h.threadTexts(hid); len(thr) != 1 || thr[0] != "*Participant:* hi, thanks" {
		t.Fatalf("thread = %q", thr)
	}
	h.deliver()
	if n := len(h.fake.Messages(triage, "")); n != 1 {
		t.Fatalf("%d case messages, want 1", n)
	}
}
