package bot

import (
	"maps"
	"slices"
	"strings"
	"time"

	"intakebot/flows"
)

// Button ids the engine gives its own choices. Step choices are
// "<step>.<choice>"; FAQ and flow actions are "faq:<id>" and "flow:<id>".
const (
	ChoiceHuman       = "human"
	ChoiceMenu        = "menu"
	ChoiceResume      = "resume"
	ChoiceCrisisStaff = "crisis.staff"
	ChoiceCrisisSafe  = "crisis.safe"
	ChoiceCrisisMore  = "crisis.more"
	ChoiceDeleteYes   = "delete.yes"
	ChoiceDeleteNo    = "delete.no"
	ChoiceNoticeYes   = "notice.yes"
	ChoiceNoticeNo    = "notice.no"
)

// Pending questions asked outside the flow.
const (
	pendingDelete = "delete"
	pendingEdit   = "edit"
	pendingNotice = "notice"
)

// turn is the work of one Handle call on one conversation.
type turn struct {
	e    *Engine
	spec *flows.Spec
	in   Inbound
	conv *Conversation
	st   *State
	now  time.Time
	cut  bool
	hit  *flows.Hit

	replies  []Reply
	events   []Event
	consent  *Consent
	intake   *Intake
	handoffs []Handoff
	deleted  bool
	// resumeOffered notes a reply already offers to resume the flow.
	resumeOffered bool
}

func newTurn(e *Engine, conv *Conversation, in Inbound) *turn {
	c := *conv
	c.State = cloneState(conv.State)
	return &turn{e: e, spec: e.spec, in: in, conv: &c, st: &c.State, now: in.Time}
}

func cloneState(s State) State {
	s.Answers = maps.Clone(s.Answers)
	s.Scores = maps.Clone(s.Scores)
	s.ItemAnswers = maps.Clone(s.ItemAnswers)
	s.Picked = slices.Clone(s.Picked)
	s.Offered = slices.Clone(s.Offered)
	if s.Consent != nil {
		c := *s.Consent
		s.Consent = &c
	}
	if s.Suggestion != nil {
		g := *s.Suggestion
		s.Suggestion = &g
	}
	return s
}

// run decides the turn. Its order is the product's safety contract: the
// crisis screen first, then human mode, the crisis pause, commands, button
// choices and text.
func (t *turn) run() error {
	if t.hit != nil {
		t.crisis(*t.hit)
		t.finish()
		return nil
	}
	// A person who writes again has unblocked the bot.
	t.st.Unreachable = false
	if t.st.Mode == ModeHuman {
		// A staff member has the conversation: the bot says nothing, not
		// even its reminders.
		t.humanMode()
		t.finish()
		return nil
	}
	t.disclose()
	if t.cut {
		t.say(t.spec.Messages.TooLong)
	}
	switch {
	case t.st.Mode == ModeCrisis:
		t.paused()
	case t.in.NonText != "" && t.in.Text == "" && t.in.Choice == "":
		t.say(t.spec.Messages.NonText)
		t.reprompt(false)
	case strings.HasPrefix(t.in.Text, "/"):
		t.command()
	case t.in.Choice != "":
		t.choice(t.in.Choice)
	case t.in.Text == "" || !hasWordChar(t.in.Text):
		t.say(t.spec.Messages.Empty)
		t.reprompt(false)
	default:
		if err := t.text(t.in.Text); err != nil {
			return err
		}
	}
	t.finish()
	return nil
}

// disclose shows the welcome, which says the bot is automated, on first
// contact, and the reminder when a conversation runs past three hours.
func (t *turn) disclose() {
	isStart := strings.HasPrefix(strings.ToLower(t.in.Text), "/start")
	switch {
	case t.st.Welcomed.IsZero():
		if !isStart {
			t.sayKind(t.spec.Messages.Welcome, KindSystem)
		}
		t.st.Welcomed = t.now
	case t.now.Sub(t.st.Welcomed) > t.e.longAfter:
		if !isStart {
			t.sayKind(t.spec.Messages.LongDisclosure, KindSystem)
		}
		t.st.Welcomed = t.now
	}
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return true
		}
		if r >= 128 && isLetterOrDigit(r) {
			return true
		}
	}
	return false
}

// say adds a system reply.
func (t *turn) say(text string) { t.sayKind(text, KindSystem) }

func (t *turn) sayKind(text, kind string, choices ...Choice) {
	if strings.TrimSpace(text) == "" {
		return
	}
	t.replies = append(t.replies, Reply{Text: strings.TrimSpace(text), Kind: kind, Choices: choices})
}

func (t *turn) emit(typ string, deliver bool, data map[string]any) {
	t.events = append(t.events, Event{
		ID: t.e.newID(), Type: typ, ConversationID: t.conv.ID, Data: data, At: t.now, Deliver: deliver,
	})
}

// finish adds a way to a person to the last reply, remembers which buttons
// were offered, and stamps the conversation.
func (t *turn) finish() {
	if len(t.replies) > 0 && t.st.Mode != ModeHuman {
		last := &t.replies[len(t.replies)-1]
		if last.Kind != KindCrisis && !hasChoice(last.Choices, ChoiceHuman) {
			last.Choices = append(last.Choices, Choice{ID: ChoiceHuman, Label: t.spec.Labels.Human})
		}
	}
	if len(t.replies) > 0 {
		t.st.Offered = t.st.Offered[:0]
		for _, c := range t.replies[len(t.replies)-1].Choices {
			t.st.Offered = append(t.st.Offered, c.ID)
		}
	}
	t.conv.Updated = t.now
	if t.conv.Created.IsZero() {
		t.conv.Created = t.now
	}
}

func hasChoice(cs []Choice, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (t *turn) output() Output {
	return Output{Replies: t.replies, Events: t.events}
}

// changes collects what the store must commit.
func (t *turn) changes() *Changes {
	ch := &Changes{
		Consent:  t.consent,
		Intake:   t.intake,
		Handoffs: t.handoffs,
		Events:   t.events,
		Delete:   t.deleted,
	}
	if t.deleted {
		// The participant's data is gone; what remains is a fresh
		// conversation that knows only that it has been welcomed.
		fresh := &Conversation{ID: t.e.newID(), Key: t.conv.Key, Created: t.now, Updated: t.now}
		fresh.State.Welcomed = t.st.Welcomed
		ch.Conversation = fresh
		return ch
	}
	ch.Conversation = t.conv
	if t.consented() {
		if t.in.Text != "" && t.hit == nil {
			ch.Transcript = append(ch.Transcript, TranscriptEntry{Direction: "in", Text: t.in.Text, At: t.now})
		} else if t.in.Choice != "" {
			ch.Transcript = append(ch.Transcript, TranscriptEntry{Direction: "in", Text: "[" + t.in.Choice + "]", At: t.now})
		}
		for _, r := range t.replies {
			ch.Transcript = append(ch.Transcript, TranscriptEntry{Direction: "out", Text: r.Text, At: t.now})
		}
	}
	return ch
}

// consented reports whether the current consent allows keeping a transcript.
func (t *turn) consented() bool {
	c := t.st.Consent
	return c != nil && c.Granted && c.Version == t.spec.Consent.Version
}

// ---- crisis ----

// crisis answers a crisis message: the scripted reply first and unchanged,
// a crisis event that names the category and rule (never the words), and
// one urgent alert for staff per window, updated on repeats.
func (t *turn) crisis(hit flows.Hit) {
	t.replies = append(t.replies, t.e.crisisReply(t.in.Lang))
	if t.st.Welcomed.IsZero() {
		// The crisis reply says it is an automated assistant; the welcome
		// must not follow it into the person's next turn.
		t.st.Welcomed = t.now
	}
	t.emit(EventCrisis, false, map[string]any{"category": hit.Category, "rule": hit.Rule})
	if t.st.Mode == ModeHuman {
		t.emit(EventRelay, true, map[string]any{"text": t.in.Text, "crisis": true, "category": hit.Category})
	} else {
		t.st.Mode = ModeCrisis
	}
	t.urgentAlert(ReasonCrisis, map[string]any{"category": hit.Category, "rule": hit.Rule})
}

// urgentAlert raises, or within the alert window updates, the urgent case
// for staff.
func (t *turn) urgentAlert(reason string, extra map[string]any) {
	window := t.spec.Safety.AlertWindow.Std()
	if window <= 0 {
		window = 30 * time.Minute
	}
	data := map[string]any{"urgency": UrgencyUrgent, "reason": reason}
	maps.Copy(data, extra)
	if t.st.CrisisHandoff != "" && t.now.Sub(t.st.CrisisAlertAt) < window {
		t.st.CrisisCount++
		data["handoff_id"] = t.st.CrisisHandoff
		data["update"] = true
		data["count"] = t.st.CrisisCount
		t.emit(EventHandoff, true, data)
		return
	}
	h := Handoff{ID: t.e.newID(), ConversationID: t.conv.ID, IntakeID: t.st.IntakeID, Reason: reason,
		Urgency: UrgencyUrgent, Status: IntakeNew, Created: t.now}
	t.handoffs = append(t.handoffs, h)
	t.st.CrisisHandoff = h.ID
	t.st.CrisisAlertAt = t.now
	t.st.CrisisCount = 1
	data["handoff_id"] = h.ID
	data["count"] = 1
	if h.IntakeID != "" {
		data["intake_id"] = h.IntakeID
	}
	t.emit(EventHandoff, true, data)
}

// paused answers while the flow waits for the person to choose after a
// crisis reply.
func (t *turn) paused() {
	s := t.spec.Safety
	choice := t.in.Choice
	if choice == "" {
		// A typed button label, or /human, is the same choice.
		switch typed := simplify(t.in.Text); {
		case typed == simplify(s.Buttons.Staff) || typed == "human" || t.intent(t.in.Text) == "human":
			choice = ChoiceCrisisStaff
		case typed == simplify(s.Buttons.Safe):
			choice = ChoiceCrisisSafe
		case typed == simplify(s.Buttons.Resources):
			choice = ChoiceCrisisMore
		}
	}
	switch choice {
	case ChoiceCrisisStaff:
		t.st.Mode = ModeBot
		t.st.HumanAskedAt = t.now
		// Staff learn that the person asked for them, on the urgent alert.
		t.urgentAlert(ReasonCrisis, map[string]any{"staff_requested": true})
		t.sayKind(s.Staff, KindCrisis)
		if t.st.Flow != "" {
			t.offerResume()
		}
		return
	case ChoiceCrisisSafe:
		t.st.Mode = ModeBot
		t.say(s.Safe)
		if t.st.Flow != "" {
			t.reprompt(false)
		} else {
			t.menu()
		}
		return
	case ChoiceCrisisMore:
		t.sayKind(t.resources(), KindCrisis, t.e.crisisReply(t.in.Lang).Choices...)
		return
	}
	if strings.HasPrefix(strings.ToLower(t.in.Text), "/delete") {
		t.command()
		return
	}
	t.sayKind(s.Paused, KindCrisis, t.e.crisisReply(t.in.Lang).Choices...)
}

func (t *turn) resources() string {
	s := t.spec.Safety
	if r, ok := s.Resources[t.in.Lang]; ok && strings.TrimSpace(r) != "" {
		return r
	}
	return s.Resources["en"]
}

// ---- human mode ----

// humanMode relays the person's message to the staff member who has the
// conversation; the bot itself stays quiet. /delete still works.
func (t *turn) humanMode() {
	if strings.HasPrefix(strings.ToLower(t.in.Text), "/delete") || t.st.Pending == pendingDelete {
		if t.st.Pending == pendingDelete {
			t.pendingDelete()
			return
		}
		t.command()
		return
	}
	text := t.in.Text
	if text == "" && t.in.Choice != "" {
		text = "[tapped " + t.in.Choice + "]"
	}
	if text == "" && t.in.NonText != "" {
		text = "[sent a " + t.in.NonText + "]"
	}
	t.emit(EventRelay, true, map[string]any{"text": text})
}

// ---- commands ----

func (t *turn) command() {
	word, args, _ := strings.Cut(strings.TrimPrefix(t.in.Text, "/"), " ")
	word = strings.ToLower(word)
	if at := strings.IndexByte(word, '@'); at >= 0 {
		word = word[:at]
	}
	args = strings.TrimSpace(args)
	switch word {
	case "start":
		if args != "" && t.st.Source == "" {
			t.st.Source = sanitizeSource(args)
		}
		if t.st.Flow != "" {
			t.sayKind(t.spec.Messages.WelcomeBack, KindSystem)
			t.reprompt(false)
			return
		}
		t.sayKind(t.spec.Messages.Welcome, KindSystem)
		t.menu()
	case "help":
		t.say(t.spec.Messages.Help)
		t.offerResume()
	case "menu":
		t.menu()
	case "restart":
		t.restart()
	case "human":
		t.human()
	case "delete":
		t.askDelete()
	case "stop":
		t.st.Pending = ""
		t.say(t.spec.Messages.Stopped)
	default:
		t.say(t.spec.Messages.UnknownCommand)
		t.reprompt(false)
	}
}

// sanitizeSource keeps a deep-link payload short and plain: it names a
// campaign, and must never carry anything identifying into logs.
func sanitizeSource(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (t *turn) menu() {
	var cs []Choice
	for _, c := range t.spec.Menu {
		if c.Action == "flow:"+t.st.Flow {
			continue
		}
		cs = append(cs, Choice{ID: c.Action, Label: c.Label})
	}
	if t.st.Flow != "" {
		cs = append([]Choice{{ID: ChoiceResume, Label: t.spec.Labels.Resume}}, cs...)
		t.resumeOffered = true
	}
	t.sayKind(t.spec.Messages.Menu, KindSystem, cs...)
}

func (t *turn) restart() {
	flow := t.st.Flow
	if flow == "" {
		flow = flows.IntakeFlow
	}
	t.clearFlow()
	t.say(t.spec.Messages.Restarted)
	t.startFlow(flow)
}

// clearFlow leaves the current flow and forgets its answers.
func (t *turn) clearFlow() {
	t.st.Flow, t.st.Step, t.st.Pending, t.st.ReturnTo = "", "", "", ""
	t.st.Answers = nil
	t.st.Picked = nil
	t.st.AwaitOther = false
	t.st.Misses = 0
	t.st.Scores = nil
	t.st.Item = ""
	t.st.ItemAnswers = nil
	t.st.Suggestion = nil
}

// human records a request for a person: one case per half hour, however
// often it is asked.
func (t *turn) human() {
	if t.st.HumanAskedAt.IsZero() || t.now.Sub(t.st.HumanAskedAt) > t.e.humanGap {
		urgency := UrgencyRoutine
		if t.st.Suggestion != nil && t.st.Suggestion.Urgent {
			urgency = UrgencyUrgent
		}
		h := Handoff{ID: t.e.newID(), ConversationID: t.conv.ID, IntakeID: t.st.IntakeID, Reason: ReasonHuman,
			Urgency: urgency, Status: IntakeNew, Created: t.now}
		t.handoffs = append(t.handoffs, h)
		data := map[string]any{"handoff_id": h.ID, "urgency": urgency, "reason": ReasonHuman}
		if h.IntakeID != "" {
			data["intake_id"] = h.IntakeID
		}
		t.emit(EventHandoff, true, data)
		t.st.HumanAskedAt = t.now
	}
	t.say(t.spec.Messages.Human)
	t.offerResume()
}

func (t *turn) askDelete() {
	t.st.Pending = pendingDelete
	t.sayKind(t.spec.Messages.DeleteConfirm, KindSystem,
		Choice{ID: ChoiceDeleteYes, Label: t.spec.Labels.Yes}, Choice{ID: ChoiceDeleteNo, Label: t.spec.Labels.No})
}

func (t *turn) pendingDelete() {
	yes := t.in.Choice == ChoiceDeleteYes || (t.in.Choice == "" && isYes(t.in.Text))
	no := t.in.Choice == ChoiceDeleteNo || (t.in.Choice == "" && isNo(t.in.Text))
	switch {
	case yes:
		t.deleted = true
		t.clearFlow()
		t.emit(EventDeleted, true, map[string]any{})
		t.say(t.spec.Messages.Deleted)
		t.st.Mode = ModeBot
	case no:
		t.st.Pending = ""
		t.say(t.spec.Messages.DeleteKept)
		t.offerResume()
	default:
		t.askDelete()
	}
}

// ---- choices ----

func (t *turn) choice(id string) {
	switch {
	case t.st.Pending == pendingDelete || id == ChoiceDeleteYes || id == ChoiceDeleteNo:
		if t.st.Pending != pendingDelete {
			t.stale()
			return
		}
		t.pendingDelete()
		return
	case t.st.Pending == pendingNotice && (id == ChoiceNoticeYes || id == ChoiceNoticeNo):
		t.notice(id == ChoiceNoticeYes)
		return
	}
	switch {
	case id == ChoiceHuman:
		t.human()
	case id == ChoiceMenu:
		t.menu()
	case id == ChoiceResume:
		if t.st.Flow == "" {
			t.menu()
			return
		}
		t.reprompt(false)
	case strings.HasPrefix(id, "faq:"):
		e := t.spec.FAQEntry(strings.TrimPrefix(id, "faq:"))
		if e == nil {
			t.stale()
			return
		}
		t.answerFAQ(e)
	case strings.HasPrefix(id, "flow:"):
		f := t.spec.Flow(strings.TrimPrefix(id, "flow:"))
		switch {
		case f == nil:
			t.stale()
		case t.st.Flow == f.ID:
			t.reprompt(false)
		default:
			t.startFlow(f.ID)
		}
	case id == ChoiceCrisisStaff || id == ChoiceCrisisSafe || id == ChoiceCrisisMore:
		// A crisis button after the pause has ended.
		if id == ChoiceCrisisMore {
			t.sayKind(t.resources(), KindCrisis)
			t.offerResume()
			return
		}
		if id == ChoiceCrisisStaff {
			// Still the crisis path: the urgent alert, not a routine case.
			t.st.HumanAskedAt = t.now
			t.urgentAlert(ReasonCrisis, map[string]any{"staff_requested": true})
			t.sayKind(t.spec.Safety.Staff, KindCrisis)
			t.offerResume()
			return
		}
		t.reprompt(false)
	default:
		t.stepChoice(id)
	}
}

// stale answers a button that belongs to another step, or an unknown one,
// by showing where the conversation is.
func (t *turn) stale() {
	t.say(t.spec.Messages.StaleChoice)
	if t.st.Flow != "" {
		t.reprompt(false)
		return
	}
	t.menu()
}

// offerResume adds a "continue" button when a flow is under way.
func (t *turn) offerResume() {
	if t.st.Flow == "" || t.resumeOffered || len(t.replies) == 0 {
		return
	}
	last := &t.replies[len(t.replies)-1]
	last.Choices = append(last.Choices, Choice{ID: ChoiceResume, Label: t.spec.Labels.Resume})
	t.resumeOffered = true
}

// ---- text ----

func (t *turn) text(text string) error {
	if t.st.Pending == pendingDelete {
		t.pendingDelete()
		return nil
	}
	if t.st.Pending == pendingNotice {
		switch {
		case isYes(text):
			t.notice(true)
			return nil
		case isNo(text):
			t.notice(false)
			return nil
		}
	}
	intent := t.intent(text)
	switch intent {
	case "human":
		t.human()
		return nil
	case "bot":
		t.say(t.spec.Messages.BotDisclosure)
		t.reprompt(true)
		return nil
	case "delete":
		t.askDelete()
		return nil
	}
	if t.st.Flow != "" {
		return t.answerText(text)
	}
	switch intent {
	case "intake":
		t.startFlow(flows.IntakeFlow)
		return nil
	case "menu":
		t.menu()
		return nil
	case "help":
		t.say(t.spec.Messages.Help)
		return nil
	case "greeting":
		t.say(t.spec.Messages.Greeting)
		t.menuChoicesOnLast()
		return nil
	case "thanks":
		t.say(t.spec.Messages.Thanks)
		t.menuChoicesOnLast()
		return nil
	}
	t.faq(text)
	return nil
}

// menuChoicesOnLast puts the menu's buttons under the last reply.
func (t *turn) menuChoicesOnLast() {
	if len(t.replies) == 0 {
		return
	}
	last := &t.replies[len(t.replies)-1]
	for _, c := range t.spec.Menu {
		last.Choices = append(last.Choices, Choice{ID: c.Action, Label: c.Label})
	}
}

// faq answers a free-text question outside a flow: the best entry when the
// matcher is sure, the best few as buttons when unsure, and otherwise an
// honest "I don't know" with the menu and a person.
func (t *turn) faq(text string) {
	res := t.spec.Matcher().Match(text)
	switch res.Decision {
	case flows.Answer:
		t.answerFAQ(t.spec.FAQEntry(res.Candidates[0].ID))
	case flows.Suggest:
		var cs []Choice
		for i, c := range res.Candidates {
			if i == 3 {
				break
			}
			if e := t.spec.FAQEntry(c.ID); e != nil {
				cs = append(cs, Choice{ID: "faq:" + e.ID, Label: e.Title})
			}
		}
		t.sayKind(t.spec.Messages.Unsure, KindSuggest, cs...)
	default:
		t.sayKind(t.spec.Messages.Abstain, KindSystem)
		t.menuChoicesOnLast()
	}
}

// answerFAQ sends an FAQ answer with its follow-ups; mid-flow it then asks
// the current step again.
func (t *turn) answerFAQ(e *flows.FAQEntry) {
	r := t.e.faqReply(e, t.st.Flow)
	if t.st.Flow != "" {
		r.Choices = nil
		t.replies = append(t.replies, r)
		t.say(t.spec.Messages.BackToStep)
		t.reprompt(false)
		return
	}
	t.replies = append(t.replies, r)
}

// intent finds a built-in intent in text. Talking to a person, asking
// whether this is a bot and deleting apply anywhere in a message; the
// others only when the message is little more than the phrase, so "hi, how
// long is IOP?" is still a question.
func (t *turn) intent(text string) string {
	norm := " " + simplify(text) + " "
	words := strings.Count(norm, " ") - 1
	for _, in := range t.e.intents {
		for _, p := range in.phrases {
			if !strings.Contains(norm, p.padded) {
				continue
			}
			switch in.id {
			case "human", "bot", "delete":
				if t.st.Flow != "" && in.id == "human" && words > p.words+4 {
					// A long answer mid-flow that mentions a person is an answer.
					continue
				}
			default:
				// Only the phrase and a few filler words: "thank you so
				// much" thanks, but "help with cost" and "payment options"
				// are questions.
				if words > p.words && !onlyFillers(norm, p.padded) {
					continue
				}
			}
			return in.id
		}
	}
	return ""
}

// intentPhrases are an intent's phrases, simplified once when the engine
// is built.
type intentPhrases struct {
	id      string
	phrases []intentPhrase
}

type intentPhrase struct {
	padded string // " phrase words "
	words  int
}

// compileIntents simplifies every phrase and orders the intents by
// intentRank, so the first intent that matches wins.
func compileIntents(in []flows.Intent) []intentPhrases {
	out := make([]intentPhrases, 0, len(in))
	for _, i := range in {
		ip := intentPhrases{id: i.ID}
		for _, p := range i.Phrases {
			if sp := simplify(p); sp != "" {
				ip.phrases = append(ip.phrases, intentPhrase{padded: " " + sp + " ", words: len(strings.Fields(sp))})
			}
		}
		out = append(out, ip)
	}
	rank := func(id string) int {
		if r, ok := intentRank[id]; ok {
			return r
		}
		return len(intentRank)
	}
	slices.SortStableFunc(out, func(a, b intentPhrases) int { return rank(a.id) - rank(b.id) })
	return out
}

// fillers are words that may surround a short intent phrase.
var fillers = map[string]bool{"there": true, "please": true, "bot": true, "again": true, "everyone": true,
	"all": true, "you": true, "so": true, "much": true, "a": true, "lot": true, "ok": true, "okay": true,
	"me": true, "oh": true, "well": true, "very": true, "folks": true, "now": true, "show": true, "the": true}

// onlyFillers reports whether norm is phrase with only filler words around it.
func onlyFillers(norm, padded string) bool {
	rest := strings.Replace(norm, padded, " ", 1)
	for _, w := range strings.Fields(rest) {
		if !fillers[w] {
			return false
		}
	}
	return true
}

// intentRank orders intents when a message holds several: "are you a real
// person?" asks whether this is a bot, not for a person.
var intentRank = map[string]int{"bot": 0, "delete": 1, "human": 2}
