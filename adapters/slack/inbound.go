package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"intakebot/bot"
	"intakebot/store"
)

// job is one thing Slack sent: an Events API event or a button click.
type job struct {
	// eventID is the Events API event id: a redelivery carries the same.
	eventID     string
	retry       int
	event       *slackevents.EventsAPIEvent
	interaction *slackgo.InteractionCallback
}

func eventJob(ev slackevents.EventsAPIEvent, retry int) job {
	j := job{event: &ev, retry: retry}
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		j.eventID = cb.EventID
	}
	return j
}

// enqueue hands j to the worker. In Socket Mode (wait true) it waits for
// room; over HTTP it reports false at once when the queue is full or the
// adapter is not running, and the handler answers 503 so Slack retries.
func (a *Adapter) enqueue(ctx context.Context, j job, wait bool) bool {
	a.runMu.Lock()
	open := a.running && !a.closed
	a.runMu.Unlock()
	if !open {
		return false
	}
	if wait {
		select {
		case a.queue <- j:
			return true
		case <-ctx.Done():
			return false
		}
	}
	select {
	case a.queue <- j:
		return true
	default:
		return false
	}
}

// work handles queued jobs one at a time, in arrival order, so two replies
// of one staff member reach the participant in the order written. When ctx
// is done it stops taking jobs and finishes those queued, within a bound.
func (a *Adapter) work(ctx context.Context) {
	for {
		select {
		case j := <-a.queue:
			a.handle(ctx, j)
		case <-ctx.Done():
			a.runMu.Lock()
			a.closed = true
			a.runMu.Unlock()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultDrain)
			defer cancel()
			for {
				select {
				case j := <-a.queue:
					a.handle(dctx, j)
				default:
					return
				}
			}
		}
	}
}

func (a *Adapter) handle(ctx context.Context, j job) {
	ctx, cancel := context.WithTimeout(ctx, defaultJobTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "slack.job_panicked", slog.String("event_id", j.eventID))
		}
		if a.afterJob != nil {
			a.afterJob()
		}
	}()
	if j.interaction != nil {
		a.interact(ctx, j.interaction)
		return
	}
	if j.event != nil {
		a.event(ctx, j)
	}
}

// ---- Events API: staff replies in a case thread ----

// event handles one Events API event. Only a person's new message in a
// thread of the triage channel matters; everything else (bot messages,
// edits, deletions, joins) is ignored. A redelivered event is handled once:
// its id is claimed in the store first, and released if handling failed.
func (a *Adapter) event(ctx context.Context, j job) {
	ev := j.event
	if ev.Type != slackevents.CallbackEvent {
		return
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || !a.isStaffReply(msg) {
		return
	}
	attrs := []slog.Attr{slog.String("slack_event_id", j.eventID), slog.Int("retry", j.retry)}
	key := "slack-event/" + j.eventID
	if j.eventID != "" {
		first, err := a.st.ClaimKey(ctx, key)
		if err != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "slack.event_claim_failed", append(attrs, slog.String("error", err.Error()))...)
			return
		}
		if !first {
			a.log.LogAttrs(ctx, slog.LevelInfo, "slack.event_duplicate", attrs...)
			return
		}
	}
	if err := a.staffReply(ctx, msg); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "slack.staff_reply_failed", append(attrs, slog.String("error", err.Error()))...)
		if j.eventID != "" {
			if rerr := a.st.ReleaseKey(context.WithoutCancel(ctx), key); rerr != nil {
				a.log.LogAttrs(ctx, slog.LevelError, "slack.event_release_failed", attrs...)
			}
		}
	}
}

// isStaffReply reports whether msg is a person's new message in a thread
// of the triage channel.
func (a *Adapter) isStaffReply(msg *slackevents.MessageEvent) bool {
	if msg.BotID != "" || msg.User == "" {
		return false
	}
	if msg.SubType != "" && msg.SubType != "thread_broadcast" {
		// message_changed, message_deleted, bot_message, channel_join, …
		return false
	}
	if userID, _ := a.ids(); msg.User == userID {
		return false
	}
	return msg.Channel == a.cfg.Channel && msg.ThreadTimeStamp != "" && msg.ThreadTimeStamp != msg.TimeStamp
}

// staffReply relays a staff member's reply in a case thread to the
// participant, or keeps a note: internal. It tells the staff member
// (ephemerally) when a reply was not sent, and why.
func (a *Adapter) staffReply(ctx context.Context, msg *slackevents.MessageEvent) error {
	h, err := a.st.FindHandoffByMessage(ctx, msg.Channel, msg.ThreadTimeStamp)
	if errors.Is(err, bot.ErrNotFound) {
		return nil // a thread that is not a case
	}
	if err != nil {
		return err
	}
	attrs := []slog.Attr{slog.String("handoff_id", h.ID), slog.String("user", msg.User)}
	tell := func(text string) { a.ephemeral(ctx, msg.Channel, msg.User, msg.ThreadTimeStamp, text) }
	ok, err := a.allowed(ctx, msg.User)
	if err != nil {
		tell(":warning: I couldn't check who may write to participants, so your reply was not sent. Please try again.")
		return err
	}
	if !ok {
		a.refused(ctx, msg.User, "reply", h.ID)
		tell(":no_entry: Only members of the triage channel can write to participants. Your reply was not sent.")
		return nil
	}
	text := plainText(msg.Text)
	if isNote(text) {
		a.react(ctx, msg.Channel, msg.TimeStamp, "memo")
		if err := a.st.Audit(ctx, msg.User, "handoff.note", h.ID); err != nil {
			return err
		}
		a.log.LogAttrs(ctx, slog.LevelInfo, "slack.note_kept", attrs...)
		return nil
	}
	switch {
	case isDeleted(h):
		tell(":wastebasket: The participant deleted their data: nothing can reach them. Your reply was not sent.")
		return nil
	case h.Status == bot.IntakeClosed:
		tell(":lock: This case is closed: reopen it to write to the participant. Your reply was not sent. (Start a reply with `note:` to keep it internal.)")
		return nil
	case strings.TrimSpace(text) == "":
		tell(":warning: Only text reaches the participant: files and attachments are not sent.")
		return nil
	}
	modeBefore, _ := a.st.ConversationMode(ctx, h.ConversationID)
	err = a.staff.Message(ctx, h.ConversationID, msg.User, text)
	if errors.Is(err, bot.ErrNotFound) {
		tell(":wastebasket: The participant deleted their data: nothing can reach them. Your reply was not sent.")
		return nil
	}
	if err != nil {
		tell(":warning: Your reply could not be queued for the participant. Please send it again.")
		return err
	}
	a.wake()
	a.log.LogAttrs(ctx, slog.LevelInfo, "slack.staff_message_queued", attrs...)
	a.react(ctx, msg.Channel, msg.TimeStamp, "outbox_tray")
	if modeBefore != bot.ModeHuman {
		// Staff have the conversation now: show it, with Return to bot.
		unlock := a.cases.Lock(h.ID)
		defer unlock()
		if fresh, err := a.st.Handoff(ctx, h.ID); err == nil {
			if err := a.publish(ctx, fresh); err != nil {
				a.log.LogAttrs(ctx, slog.LevelWarn, "slack.case_update_failed", append(attrs, slog.String("error", errCode(err)))...)
			}
		}
	}
	return nil
}

// isNote reports whether a thread reply is an internal note.
func isNote(text string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(text)), "note:")
}

// ---- interactivity: the case buttons ----

// Action ids of the case buttons.
const (
	actClaim     = "claim"
	actContacted = "contacted"
	actClose     = "close"
	actReopen    = "reopen"
	actReturn    = "return_to_bot"
	actAck       = "acknowledge"

	caseBlockPrefix = "case:"
)

// outcomes are the ways to close a case: option value → recorded outcome.
var outcomes = []struct{ id, label string }{
	{"enrolled", "enrolled"},
	{"referred", "referred elsewhere"},
	{"no_response", "no response"},
	{"not_a_fit", "not a fit"},
}

func outcomeLabel(id string) (string, bool) {
	for _, o := range outcomes {
		if o.id == id {
			return o.label, true
		}
	}
	return "", false
}

// interact handles a click on a case message. slack-go parses an action as
// a block action only when it carries block_id, which every case button
// has (the case's actions block).
func (a *Adapter) interact(ctx context.Context, ic *slackgo.InteractionCallback) {
	if ic.Type != slackgo.InteractionTypeBlockActions {
		return
	}
	for _, ba := range ic.ActionCallback.BlockActions {
		id, ok := strings.CutPrefix(ba.BlockID, caseBlockPrefix)
		if !ok || id == "" {
			continue
		}
		a.action(ctx, ic, ba, id)
	}
}

// action applies one button to case id: authorize, record in the store
// (status and audit), hand the conversation back when closing, and redraw
// the message.
func (a *Adapter) action(ctx context.Context, ic *slackgo.InteractionCallback, ba *slackgo.BlockAction, id string) {
	user := ic.User.ID
	channel := ic.Channel.ID
	if channel == "" {
		channel = ic.Container.ChannelID
	}
	attrs := []slog.Attr{slog.String("handoff_id", id), slog.String("action", ba.ActionID), slog.String("user", user)}
	tell := func(text string) { a.ephemeral(ctx, channel, user, "", text) }
	ok, err := a.allowed(ctx, user)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "slack.members_failed", append(attrs, slog.String("error", errCode(err)))...)
		tell(":warning: I couldn't check who may act on cases. Nothing changed; please try again.")
		return
	}
	if !ok {
		a.refused(ctx, user, ba.ActionID, id)
		tell(":no_entry: Only members of the triage channel can act on cases. Nothing changed.")
		return
	}
	unlock := a.cases.Lock(id)
	defer unlock()
	h, err := a.st.Handoff(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		tell("This case no longer exists.")
		return
	}
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "slack.action_failed", append(attrs, slog.String("error", err.Error()))...)
		tell(":warning: Something went wrong; nothing changed. Please try again.")
		return
	}
	if isDeleted(h) {
		tell(":wastebasket: This case was removed at the participant's request.")
		return
	}
	if err := a.apply(ctx, h, ba, user, tell); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "slack.action_failed", append(attrs, slog.String("error", err.Error()))...)
		tell(":warning: Something went wrong; the case may not have changed. Please try again.")
	} else {
		a.log.LogAttrs(ctx, slog.LevelInfo, "slack.action", attrs...)
	}
	fresh, err := a.st.Handoff(ctx, id)
	if err != nil {
		return
	}
	if err := a.publish(ctx, fresh); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.case_update_failed", append(attrs, slog.String("error", errCode(err)))...)
	}
}

// apply records one button's effect. A step the case is already past, or
// a closed case, is answered ephemerally and changes nothing.
func (a *Adapter) apply(ctx context.Context, h *store.HandoffRecord, ba *slackgo.BlockAction, user string, tell func(string)) error {
	closed := h.Status == bot.IntakeClosed
	switch ba.ActionID {
	case actClaim, actContacted, actClose:
		if closed {
			tell(":lock: This case is closed: reopen it first.")
			return nil
		}
	}
	switch ba.ActionID {
	case actClaim:
		u := store.HandoffUpdate{Actor: user, Assignee: user}
		if h.Status == bot.IntakeNew {
			u.Status = bot.IntakeClaimed
		}
		if _, err := a.st.UpdateHandoff(ctx, h.ID, u); err != nil {
			return err
		}
		return a.ackUrgent(ctx, h, user)
	case actContacted:
		u := store.HandoffUpdate{Actor: user, Status: bot.IntakeContacted}
		if h.Assignee == "" {
			u.Assignee = user
		}
		if _, err := a.st.UpdateHandoff(ctx, h.ID, u); err != nil {
			return err
		}
		return a.ackUrgent(ctx, h, user)
	case actClose:
		outcome, ok := outcomeLabel(ba.SelectedOption.Value)
		if !ok {
			tell("Pick how the case ended to close it.")
			return nil
		}
		u := store.HandoffUpdate{Actor: user, Status: bot.IntakeClosed, Outcome: outcome}
		if h.Assignee == "" {
			u.Assignee = user
		}
		if _, err := a.st.UpdateHandoff(ctx, h.ID, u); err != nil {
			return err
		}
		if err := a.ackUrgent(ctx, h, user); err != nil {
			return err
		}
		// Closing hands the conversation back to the bot.
		return a.returnToBot(ctx, h, user)
	case actReopen:
		if _, err := a.st.ReopenHandoff(ctx, h.ID, user); err != nil {
			if errors.Is(err, store.ErrDeletedCase) {
				tell(":wastebasket: The participant deleted their data: this case cannot be reopened.")
				return nil
			}
			return err
		}
		return nil
	case actReturn:
		if err := a.st.Audit(ctx, user, "handoff.return_to_bot", h.ID); err != nil {
			return err
		}
		return a.returnToBot(ctx, h, user)
	case actAck:
		_, err := a.st.AckHandoff(ctx, h.ID, user)
		return err
	}
	return nil
}

// ackUrgent acknowledges an urgent case's alert when someone acts on it.
func (a *Adapter) ackUrgent(ctx context.Context, h *store.HandoffRecord, user string) error {
	if h.Urgency != bot.UrgencyUrgent {
		return nil
	}
	_, err := a.st.AckHandoff(ctx, h.ID, user)
	return err
}

func (a *Adapter) returnToBot(ctx context.Context, h *store.HandoffRecord, user string) error {
	err := a.staff.ReturnToBot(ctx, h.ConversationID, user)
	if errors.Is(err, bot.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hand back to the bot: %w", err)
	}
	a.wake()
	return nil
}

// refused audits a refused action or reply under the user who tried.
func (a *Adapter) refused(ctx context.Context, user, action, id string) {
	if action == "" {
		action = "action"
	}
	if err := a.st.Audit(ctx, user, "handoff.refused."+sanitizeAction(action), id); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "slack.audit_failed", slog.String("handoff_id", id), slog.String("error", err.Error()))
	}
	a.log.LogAttrs(ctx, slog.LevelWarn, "slack.refused", slog.String("handoff_id", id), slog.String("user", user), slog.String("action", sanitizeAction(action)))
}

// sanitizeAction keeps an action id short and plain for the audit log.
func sanitizeAction(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 32 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
