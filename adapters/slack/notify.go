package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	slackgo "github.com/slack-go/slack"

	"intakebot/bot"
	"intakebot/store"
)

var _ bot.Notifier = (*Adapter)(nil)

// ErrBadEvent reports an outbox event the adapter cannot use (a missing
// handoff id, an unknown type); it wraps bot.ErrPermanent.
var ErrBadEvent = errors.New("slack: unusable event")

// Notify delivers one outbox event to the triage channel:
//   - handoff: posts the case message, or updates it when it exists (a
//     repeated crisis within the alert window, or a retried delivery);
//   - relay: posts the participant's message in the case's thread (the
//     conversation's latest case with a message; one is opened if none);
//   - deleted: redacts every case message of the participant, and the
//     app's own replies in their threads;
//   - unreachable: notes in the case's thread that the participant's
//     channel refuses messages.
//
// It returns nil when the event was delivered or was already delivered
// (ev.ID makes a repeat harmless), a *bot.RetryAfterError for a rate limit,
// an error wrapping bot.ErrPermanent when Slack refuses the request for
// good (channel_not_found, a refused message) or the event is unusable, and
// any other error for an outage (the outbox retries). While Slack fails,
// the events after the failed one are held back without a call, so they
// go out in order.
func (a *Adapter) Notify(ctx context.Context, ev bot.Event) error {
	attrs := []slog.Attr{slog.String("event_id", ev.ID), slog.String("type", ev.Type)}
	if err := a.held(); err != nil {
		return deliveryError(ev.Type, err)
	}
	var err error
	switch ev.Type {
	case bot.EventHandoff:
		err = a.notifyHandoff(ctx, ev)
	case bot.EventRelay:
		err = a.notifyRelay(ctx, ev)
	case bot.EventDeleted:
		err = a.notifyDeleted(ctx, ev)
	case bot.EventUnreachable:
		err = a.notifyUnreachable(ctx, ev)
	default:
		err = fmt.Errorf("%w: type %q: %w", ErrBadEvent, ev.Type, bot.ErrPermanent)
	}
	if err == nil {
		a.log.LogAttrs(ctx, slog.LevelInfo, "slack.delivered", attrs...)
		return nil
	}
	if errors.Is(err, bot.ErrPermanent) {
		return err
	}
	err = deliveryError(ev.Type, err)
	a.log.LogAttrs(ctx, slog.LevelWarn, "slack.delivery_failed", append(attrs, slog.String("error", errCode(err)))...)
	return err
}

func dataString(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

func dataInt(d map[string]any, k string) int {
	switch v := d[k].(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}

// notifyHandoff posts or updates the case message of the event's handoff.
func (a *Adapter) notifyHandoff(ctx context.Context, ev bot.Event) error {
	id := dataString(ev.Data, "handoff_id")
	if id == "" {
		return fmt.Errorf("%w: handoff event %s has no handoff_id: %w", ErrBadEvent, ev.ID, bot.ErrPermanent)
	}
	unlock := a.cases.Lock(id)
	defer unlock()
	h, err := a.st.Handoff(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.case_gone", slog.String("handoff_id", id))
		return nil
	}
	if err != nil {
		return err
	}
	if isDeleted(h) && h.SlackTS == "" {
		// The participant deleted their data before the case went out:
		// there is nothing to show, and nothing to redact.
		a.log.LogAttrs(ctx, slog.LevelInfo, "slack.case_skipped_deleted", slog.String("handoff_id", id))
		return nil
	}
	n := max(dataInt(ev.Data, "count"), 1)
	if cat := dataString(ev.Data, "category"); cat != "" || dataString(ev.Data, "reason") == bot.ReasonCrisis {
		if err := a.st.NoteCrisis(ctx, id, n, cat); err != nil {
			return err
		}
	}
	if err := a.publish(ctx, h); err != nil {
		return err
	}
	if repeat, _ := ev.Data["update"].(bool); repeat && h.SlackTS != "" {
		// The alert was updated in place; say so in its thread too, so
		// whoever acknowledged it hears of the new message.
		return a.noteRepeat(ctx, ev.ID, h, n)
	}
	return nil
}

// noteRepeat posts, once per event, a thread note that the participant
// sent another crisis message, mentioning who acknowledged the alert.
func (a *Adapter) noteRepeat(ctx context.Context, evID string, h *store.HandoffRecord, n int) error {
	if done, err := a.st.HasKey(ctx, sentKey(evID)); err != nil || done {
		return err
	}
	al, err := a.st.HandoffAlert(ctx, h.ID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf(":rotating_light: Another crisis message from this participant (%d in this alert); they got the crisis reply again.", n)
	if al.AckedBy != "" {
		text = "<@" + esc(al.AckedBy) + "> " + text
	}
	if err := a.postThread(ctx, h.SlackChannel, h.SlackTS, text, false); err != nil {
		return err
	}
	if _, err := a.st.ClaimKey(ctx, sentKey(evID)); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.record_sent_failed", slog.String("event_id", evID))
	}
	return nil
}

// sentKey records a delivered event whose effect is a new message, so a
// redelivery does not post it twice.
func sentKey(evID string) string { return "slack-sent/" + evID }

// notifyRelay posts the participant's message in their case's thread.
func (a *Adapter) notifyRelay(ctx context.Context, ev bot.Event) error {
	if done, err := a.st.HasKey(ctx, sentKey(ev.ID)); err != nil || done {
		return err
	}
	h, err := a.caseFor(ctx, ev.ConversationID, ev.ID)
	if err != nil {
		return err
	}
	if h == nil {
		return nil // the participant deleted their data meanwhile
	}
	text := dataString(ev.Data, "text")
	body := "*Participant:* " + esc(clip(text, 3500))
	if crisis, _ := ev.Data["crisis"].(bool); crisis {
		line := ":rotating_light: *The crisis screen fired on this message.* The participant got the scripted crisis reply; an urgent alert is in the channel."
		if c := a.categoryLabel(dataString(ev.Data, "category")); c != "" {
			line += " Category: " + esc(c) + "."
		}
		body = line + "\n" + body
	}
	if err := a.postThread(ctx, h.SlackChannel, h.SlackTS, body, false); err != nil {
		return err
	}
	if _, err := a.st.ClaimKey(ctx, sentKey(ev.ID)); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.record_sent_failed", slog.String("event_id", ev.ID))
	}
	return nil
}

// caseFor returns the conversation's latest case that has a message in
// Slack. When its latest case has none yet, that case is posted now; when
// it has no case at all (human mode without one), a case of reason human
// is opened and posted. It returns nil for a conversation whose cases are
// all gone (deleted).
func (a *Adapter) caseFor(ctx context.Context, convID, evID string) (*store.HandoffRecord, error) {
	hs, err := a.st.Handoffs(ctx, convID)
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if hs[i].SlackTS != "" {
			return &hs[i], nil
		}
	}
	var id string
	if len(hs) > 0 {
		id = hs[0].ID
	} else {
		id = "relay-" + evID
		if err := a.st.OpenHandoff(ctx, bot.Handoff{ID: id, ConversationID: convID, Reason: bot.ReasonHuman,
			Urgency: bot.UrgencyRoutine, Status: bot.IntakeNew, Created: a.now()}); err != nil {
			return nil, err
		}
		a.log.LogAttrs(ctx, slog.LevelInfo, "slack.case_opened_for_relay", slog.String("handoff_id", id))
	}
	unlock := a.cases.Lock(id)
	defer unlock()
	h, err := a.st.Handoff(ctx, id)
	if err != nil {
		return nil, err
	}
	if h.SlackTS == "" {
		if isDeleted(h) {
			return nil, nil
		}
		if err := a.publish(ctx, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// notifyDeleted redacts the case messages of a participant who deleted
// their data, and the app's own replies in their threads (relayed
// messages). Staff members' own replies cannot be edited by the app: the
// redacted case says so.
func (a *Adapter) notifyDeleted(ctx context.Context, ev bot.Event) error {
	var refs []map[string]any
	switch v := ev.Data["handoffs"].(type) {
	case []map[string]any:
		refs = v
	case []any:
		for _, r := range v {
			if m, ok := r.(map[string]any); ok {
				refs = append(refs, m)
			}
		}
	}
	for _, ref := range refs {
		id := dataString(ref, "id")
		if id == "" {
			continue
		}
		ch, ts := dataString(ref, "slack_channel"), dataString(ref, "slack_ts")
		if err := a.redact(ctx, id, ch, ts); err != nil {
			return err
		}
	}
	return nil
}

func (a *Adapter) redact(ctx context.Context, id, ch, ts string) error {
	unlock := a.cases.Lock(id)
	defer unlock()
	if ts == "" {
		// Posted after the deletion was recorded?
		if h, err := a.st.Handoff(ctx, id); err == nil && h.SlackTS != "" {
			ch, ts = h.SlackChannel, h.SlackTS
		}
	}
	if ts == "" {
		return nil
	}
	if ch == "" {
		ch = a.cfg.Channel
	}
	err := a.update(ctx, ch, ts, redactedCase(id))
	switch code := errCode(err); {
	case code == "message_not_found":
		return nil
	case err != nil:
		return err
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "slack.case_redacted", slog.String("handoff_id", id))
	return a.redactReplies(ctx, ch, ts)
}

// redactReplies replaces the app's own replies in a case thread.
func (a *Adapter) redactReplies(ctx context.Context, ch, ts string) error {
	userID, botID := a.ids()
	params := &slackgo.GetConversationRepliesParameters{ChannelID: ch, Timestamp: ts, Limit: 200}
	for page := 0; page < 20; page++ {
		var msgs []slackgo.Message
		var more bool
		var next string
		err := a.call(func() error {
			var err error
			msgs, more, next, err = a.api.GetConversationRepliesContext(ctx, params)
			return err
		})
		if err != nil {
			return fmt.Errorf("conversations.replies: %w", err)
		}
		for _, m := range msgs {
			if m.Timestamp == ts || m.Timestamp == "" {
				continue
			}
			own := (botID != "" && m.BotID == botID) || (userID != "" && m.User == userID)
			if !own {
				continue
			}
			msg := message{text: "Removed at the participant's request.", blocks: []slackgo.Block{
				slackgo.NewContextBlock("", mrkdwn(":wastebasket: Removed at the participant's request.")),
			}}
			if err := a.update(ctx, ch, m.Timestamp, msg); err != nil && errCode(err) != "message_not_found" {
				return err
			}
		}
		if !more || next == "" {
			break
		}
		params.Cursor = next
	}
	return nil
}

// notifyUnreachable notes in the latest case thread that the participant's
// channel refuses messages (they blocked the bot).
func (a *Adapter) notifyUnreachable(ctx context.Context, ev bot.Event) error {
	if done, err := a.st.HasKey(ctx, sentKey(ev.ID)); err != nil || done {
		return err
	}
	hs, err := a.st.Handoffs(ctx, ev.ConversationID)
	if err != nil {
		return err
	}
	var h *store.HandoffRecord
	for i := range hs {
		if hs[i].SlackTS != "" {
			h = &hs[i]
			break
		}
	}
	if h == nil {
		return nil // no case in Slack: nobody to tell
	}
	channel := dataString(ev.Data, "channel")
	if channel == "" {
		channel = "their chat"
	}
	text := ":no_entry_sign: The participant's " + esc(channel) + " chat refuses messages (they may have blocked the bot): messages from this thread cannot reach them there. Use the contact details in the full case."
	if err := a.postThread(ctx, h.SlackChannel, h.SlackTS, text, false); err != nil {
		return err
	}
	if _, err := a.st.ClaimKey(ctx, sentKey(ev.ID)); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.record_sent_failed", slog.String("event_id", ev.ID))
	}
	return nil
}
