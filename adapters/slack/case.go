package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"intakebot/bot"
	"intakebot/flows"
	"intakebot/store"
)

// metadataType marks case messages in Slack's message metadata, so a
// delivery that cannot tell whether its post went through finds it.
const metadataType = "intakebot_case"

// caseView is everything a case message shows.
type caseView struct {
	h      *store.HandoffRecord
	alert  store.Alert
	intake *bot.Intake
	// intakeMissing is set when the case has an intake that can no longer
	// be read (purged, or unreadable).
	intakeMissing bool
	mode          string
}

func isDeleted(h *store.HandoffRecord) bool {
	return h.Status == bot.IntakeClosed && h.Outcome == store.OutcomeDeleted
}

// view gathers what the case message of h shows: its alert, its intake
// (read from the store, which decrypts and audits the read) and the
// conversation's mode.
func (a *Adapter) view(ctx context.Context, h *store.HandoffRecord) (*caseView, error) {
	v := &caseView{h: h}
	if isDeleted(h) {
		return v, nil
	}
	var err error
	if v.alert, err = a.st.HandoffAlert(ctx, h.ID); err != nil {
		return nil, err
	}
	if h.IntakeID != "" {
		v.intake, err = a.st.Intake(ctx, h.IntakeID, intakeReader)
		switch {
		case errors.Is(err, bot.ErrNotFound):
			v.intakeMissing = true
		case err != nil:
			// A key that is not configured, or a damaged row: the case
			// still goes out, and says where to look.
			a.log.LogAttrs(ctx, slog.LevelError, "slack.intake_unreadable", slog.String("handoff_id", h.ID), slog.String("error", err.Error()))
			v.intakeMissing = true
		}
	}
	mode, err := a.st.ConversationMode(ctx, h.ConversationID)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return nil, err
	}
	v.mode = mode
	return v, nil
}

// message is a Slack message: its notification text and its blocks.
type message struct {
	text   string
	blocks []slackgo.Block
}

// publish posts the case message of h, or updates it in place when it
// already exists, so a retried delivery never posts twice. Callers hold
// the case's lock.
func (a *Adapter) publish(ctx context.Context, h *store.HandoffRecord) error {
	v, err := a.view(ctx, h)
	if err != nil {
		return err
	}
	msg := a.caseMessage(v)
	if h.SlackTS != "" {
		err := a.update(ctx, h.SlackChannel, h.SlackTS, msg)
		if errCode(err) != "message_not_found" {
			return err
		}
		// Someone deleted the case message in Slack: post it again.
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.case_message_gone", slog.String("handoff_id", h.ID))
	}
	return a.postCase(ctx, h, msg)
}

// postCase posts a new case message and records where it is. The first
// attempt is recorded in the store before posting; a later attempt, not
// knowing whether the first one's post went through (a timeout, a crash),
// looks for it in the channel by its metadata before posting.
func (a *Adapter) postCase(ctx context.Context, h *store.HandoffRecord, msg message) error {
	key := "slack-post/" + h.ID
	first, err := a.st.ClaimKey(ctx, key)
	if err != nil {
		return err
	}
	if !first {
		ch, ts, err := a.findPosted(ctx, h)
		if err != nil {
			return err
		}
		if ts != "" {
			a.log.LogAttrs(ctx, slog.LevelInfo, "slack.case_found", slog.String("handoff_id", h.ID))
			if err := a.st.SetHandoffMessage(ctx, h.ID, ch, ts); err != nil {
				return err
			}
			h.SlackChannel, h.SlackTS = ch, ts
			return a.update(ctx, ch, ts, msg)
		}
	}
	meta := slackgo.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"handoff_id": h.ID}}
	var ch, ts string
	err = a.call(func() error {
		var err error
		ch, ts, err = a.api.PostMessageContext(ctx, a.cfg.Channel, slackgo.MsgOptionText(msg.text, false),
			slackgo.MsgOptionBlocks(msg.blocks...), slackgo.MsgOptionMetadata(meta), slackgo.MsgOptionDisableLinkUnfurl())
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.postMessage: %w", err)
	}
	if ch == "" {
		ch = a.cfg.Channel
	}
	if err := a.st.SetHandoffMessage(ctx, h.ID, ch, ts); err != nil {
		return err
	}
	h.SlackChannel, h.SlackTS = ch, ts
	a.log.LogAttrs(ctx, slog.LevelInfo, "slack.case_posted", slog.String("handoff_id", h.ID), slog.String("ts", ts))
	if h.Urgency == bot.UrgencyUrgent && a.cfg.Realert > 0 {
		if err := a.st.ArmAlert(ctx, h.ID, a.now().Add(a.cfg.Realert)); err != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "slack.arm_alert_failed", slog.String("handoff_id", h.ID), slog.String("error", err.Error()))
		}
	}
	return nil
}

// findPosted looks through the triage channel since the case was opened
// for its message (by metadata), and returns where it is, or "".
func (a *Adapter) findPosted(ctx context.Context, h *store.HandoffRecord) (channel, ts string, err error) {
	params := &slackgo.GetConversationHistoryParameters{
		ChannelID: a.cfg.Channel, Limit: 200, IncludeAllMetadata: true,
		Oldest: slackTS(h.Created.Add(-time.Minute)),
	}
	for page := 0; page < 10; page++ {
		var res *slackgo.GetConversationHistoryResponse
		err := a.call(func() error {
			var err error
			res, err = a.api.GetConversationHistoryContext(ctx, params)
			return err
		})
		if err != nil {
			return "", "", fmt.Errorf("conversations.history: %w", err)
		}
		for _, m := range res.Messages {
			if m.Metadata.EventType == metadataType && fmt.Sprint(m.Metadata.EventPayload["handoff_id"]) == h.ID {
				return a.cfg.Channel, m.Timestamp, nil
			}
		}
		if !res.HasMore || res.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = res.ResponseMetaData.NextCursor
	}
	return "", "", nil
}

// slackTS formats t as a Slack timestamp.
func slackTS(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + ".000000"
}

func (a *Adapter) update(ctx context.Context, channel, ts string, msg message) error {
	err := a.call(func() error {
		_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, slackgo.MsgOptionText(msg.text, false), slackgo.MsgOptionBlocks(msg.blocks...))
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	return nil
}

// ---- the message ----

// caseMessage renders a case. By default (DetailMinimum) it holds no name,
// phone, email, typed answer or assessment answer: only answers chosen
// from the program's own options and dates, the suggested level of care
// with its trace, and the case's status.
func (a *Adapter) caseMessage(v *caseView) message {
	h := v.h
	if isDeleted(h) {
		return redactedCase(h.ID)
	}
	urgent := h.Urgency == bot.UrgencyUrgent
	var blocks []slackgo.Block
	title := caseTitle(h)
	blocks = append(blocks, slackgo.NewHeaderBlock(plain(title)))

	var top []string
	if urgent && v.alert.Acked.IsZero() && h.Status != bot.IntakeClosed && a.mention != "" {
		top = append(top, a.mention+" *Urgent case: please acknowledge.*")
	}
	if h.Reason == bot.ReasonCrisis {
		line := ":rotating_light: The crisis screen fired; the participant already got the scripted crisis reply (988, 911, Crisis Text Line)."
		if c := a.categoryLabel(v.alert.Category); c != "" {
			line += "\n*Category:* " + esc(c)
		}
		if v.alert.Repeats > 1 {
			line += fmt.Sprintf("\n*Crisis messages in this alert:* %d", v.alert.Repeats)
		}
		top = append(top, line)
	}
	if len(top) > 0 {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(strings.Join(top, "\n")), nil, nil))
	}

	fields := []*slackgo.TextBlockObject{
		mrkdwn("*Case*\n`" + esc(h.ID) + "`"),
		mrkdwn("*Urgency*\n" + map[bool]string{true: ":red_circle: Urgent", false: "Routine"}[urgent]),
		mrkdwn("*Reason*\n" + reasonText(h.Reason)),
		mrkdwn("*Status*\n" + statusText(h)),
	}
	if urgent {
		fields = append(fields, mrkdwn("*Alert*\n"+alertText(v.alert, h)))
	}
	if v.intake != nil && v.intake.Suggestion != nil {
		fields = append(fields, mrkdwn("*Suggested level of care*\n"+esc(v.intake.Suggestion.Label)+" _(a suggestion for the intake call)_"))
	}
	blocks = append(blocks, slackgo.NewSectionBlock(nil, fields, nil))

	if in := v.intake; in != nil {
		if in.Suggestion != nil && len(in.Suggestion.Trace) > 0 {
			blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(clip("*Why:* "+esc(strings.Join(in.Suggestion.Trace, " · ")), 2900))))
		}
		if lines := a.summaryLines(in); len(lines) > 0 {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(clip("*From the pre-intake*\n"+strings.Join(lines, "\n"), 2900)), nil, nil))
		}
		if a.cfg.Detail == DetailFull {
			if s := scoreLines(in); s != "" {
				blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(clip("*Scores*\n"+s, 2900)), nil, nil))
			}
		}
		full := "Full case: `intakebot intakes show " + esc(in.ID) + "`"
		if a.cfg.Detail != DetailFull {
			full = "Contact details and typed answers are not shown here. " + full
		}
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(full)))
	} else if v.intakeMissing {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn("The intake of this case is no longer stored (retention period) or cannot be read here.")))
	} else {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn("No pre-intake was completed: reach the participant in this case's thread.")))
	}

	var talk string
	switch {
	case h.Status == bot.IntakeClosed:
		talk = "The case is closed; the bot has the conversation."
	case v.mode == bot.ModeHuman:
		talk = ":speech_balloon: *Staff have this conversation*: the bot stays quiet and the participant's messages arrive in this thread. Replies here reach them; start with `note:` to keep one internal."
	default:
		talk = ":speech_balloon: Reply in this thread to write to the participant through the bot (they see it as a message from the intake team); start with `note:` to keep a reply internal."
	}
	blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(talk)))
	if acts := a.caseActions(v); len(acts) > 0 {
		blocks = append(blocks, slackgo.NewActionBlock(caseBlockPrefix+h.ID, acts...))
	}

	text := title + " · case " + h.ID
	if urgent && v.alert.Acked.IsZero() && h.Status != bot.IntakeClosed && a.mention != "" {
		text = a.mention + " " + text
	}
	return message{text: text, blocks: blocks}
}

func caseTitle(h *store.HandoffRecord) string {
	switch h.Reason {
	case bot.ReasonCrisis:
		return "🚨 Crisis alert"
	case bot.ReasonHuman:
		if h.Urgency == bot.UrgencyUrgent {
			return "🚨 Urgent: asked for a person"
		}
		return "Asked for a person"
	}
	if h.Urgency == bot.UrgencyUrgent {
		return "🚨 Urgent: new intake"
	}
	return "New intake"
}

func reasonText(r string) string {
	switch r {
	case bot.ReasonIntake:
		return "Completed the pre-intake"
	case bot.ReasonHuman:
		return "Asked to talk to a person"
	case bot.ReasonCrisis:
		return "Crisis message"
	}
	return esc(r)
}

// when renders t in each reader's own time zone.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func statusText(h *store.HandoffRecord) string {
	who := ""
	if h.Assignee != "" {
		who = " · <@" + esc(h.Assignee) + ">"
	}
	switch h.Status {
	case bot.IntakeNew:
		return ":new: New · nobody has it yet"
	case bot.IntakeClaimed:
		return ":raising_hand: Claimed" + who + " · " + when(h.Updated)
	case bot.IntakeContacted:
		return ":telephone_receiver: Contacted" + who + " · " + when(h.Updated)
	case bot.IntakeClosed:
		out := ""
		if h.Outcome != "" {
			out = " (" + esc(h.Outcome) + ")"
		}
		return ":white_check_mark: Closed" + out + who + " · " + when(h.Closed)
	}
	return esc(h.Status)
}

func alertText(al store.Alert, h *store.HandoffRecord) string {
	if !al.Acked.IsZero() {
		return ":white_check_mark: Acknowledged by <@" + esc(al.AckedBy) + "> · " + when(al.Acked)
	}
	if h.Status == bot.IntakeClosed {
		return "Closed without an acknowledgement"
	}
	s := ":warning: Not acknowledged yet"
	if al.Realerts > 0 {
		s += fmt.Sprintf(" · re-alerted %d×", al.Realerts)
	}
	return s
}

func (a *Adapter) categoryLabel(id string) string {
	if id == "" {
		return ""
	}
	for _, c := range a.spec.Safety.Categories {
		if c.ID == id {
			if c.Label != "" {
				return c.Label
			}
			break
		}
	}
	return id
}

// caseActions are the buttons a case offers in its current state.
func (a *Adapter) caseActions(v *caseView) []slackgo.BlockElement {
	h := v.h
	var out []slackgo.BlockElement
	btn := func(action, label string) *slackgo.ButtonBlockElement {
		return slackgo.NewButtonBlockElement(action, h.ID, plain(label))
	}
	if h.Status == bot.IntakeClosed {
		return append(out, btn(actReopen, "Reopen"))
	}
	if h.Urgency == bot.UrgencyUrgent && v.alert.Acked.IsZero() {
		out = append(out, btn(actAck, "Acknowledge").WithStyle(slackgo.StyleDanger))
	}
	switch h.Status {
	case bot.IntakeNew:
		out = append(out, btn(actClaim, "Claim").WithStyle(slackgo.StylePrimary))
	default:
		out = append(out, btn(actClaim, "Take over"))
	}
	if h.Status != bot.IntakeContacted {
		out = append(out, btn(actContacted, "Mark contacted"))
	}
	var opts []*slackgo.OptionBlockObject
	for _, o := range outcomes {
		opts = append(opts, slackgo.NewOptionBlockObject(o.id, plain(strings.ToUpper(o.label[:1])+o.label[1:]), nil))
	}
	out = append(out, slackgo.NewOptionsSelectBlockElement(slackgo.OptTypeStatic, plain("Close as…"), actClose, opts...))
	if v.mode == bot.ModeHuman {
		out = append(out, btn(actReturn, "Return to bot"))
	}
	return out
}

// summaryLines renders the intake's summary. With DetailMinimum only
// answers picked from the program's own options (by their labels; an
// "other" text stays out) and dates are shown; names, phone numbers,
// emails, ZIP codes and typed text are not.
func (a *Adapter) summaryLines(in *bot.Intake) []string {
	var out []string
	for _, l := range in.Summary {
		val := l.Value
		if a.cfg.Detail != DetailFull {
			var ok bool
			if val, ok = a.minimumValue(l.Field, in.Answers[l.Field]); !ok {
				continue
			}
		}
		if strings.TrimSpace(val) == "" {
			continue
		}
		out = append(out, "• *"+esc(l.Label)+":* "+esc(clip(val, 300)))
	}
	return out
}

// minimumValue is an answer as minimum-necessary Slack may show it, and
// whether it may show it at all.
func (a *Adapter) minimumValue(field string, ans bot.Answer) (string, bool) {
	st := a.fields[field]
	if st == nil || ans.Skipped {
		return "", false
	}
	switch {
	case st.Kind == flows.KindAsk && st.Validate == flows.ValidateDate:
		return ans.Display, true
	case st.Kind != flows.KindChoose:
		return "", false
	}
	ids := ans.Values
	if len(ids) == 0 && ans.Value != "" {
		ids = []string{ans.Value}
	}
	var labels []string
	for _, id := range ids {
		i := slices.IndexFunc(st.Choices, func(c flows.Choice) bool { return c.ID == id })
		if i < 0 {
			continue // typed, not one of the program's options
		}
		label := st.Choices[i].Label
		if id == st.Other && st.Other != "" {
			label += " (in their words: see the full case)"
		}
		labels = append(labels, label)
	}
	if len(labels) == 0 {
		return "", false
	}
	return strings.Join(labels, ", "), true
}

// scoreLines renders assessment scores with their item scores (full detail
// only).
func scoreLines(in *bot.Intake) string {
	ids := make([]string, 0, len(in.Scores))
	for id := range in.Scores {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []string
	for _, id := range ids {
		s := in.Scores[id]
		line := fmt.Sprintf("• *%s*: %d", esc(id), s.Total)
		if s.Band != "" {
			line += " (" + esc(s.Band) + ")"
		}
		if len(s.Items) > 0 {
			items := make([]string, 0, len(s.Items))
			for k, v := range s.Items {
				items = append(items, fmt.Sprintf("%s=%d", k, v))
			}
			slices.Sort(items)
			line += " · items " + esc(strings.Join(items, " "))
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// redactedCase is what remains of a case after the participant deleted
// their data.
func redactedCase(id string) message {
	return message{
		text: "Case " + id + ": removed at the participant's request",
		blocks: []slackgo.Block{
			slackgo.NewSectionBlock(mrkdwn(":wastebasket: *Case `"+esc(id)+"`: removed at the participant's request.*\nTheir data was deleted; this case is closed. Staff replies in this thread may still quote them: delete those by hand."), nil, nil),
		},
	}
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, clip(s, 150), true, false)
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}
