package bot

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"intakebot/flows"
)

// maxSteps bounds how many steps one turn may pass through (say, classify
// and skipped steps), so that no flow file can make a turn loop forever.
const maxSteps = 200

func (t *turn) flow() *flows.Flow {
	if t.st.Flow == "" {
		return nil
	}
	return t.spec.Flow(t.st.Flow)
}

func (t *turn) step() *flows.Step {
	f := t.flow()
	if f == nil {
		return nil
	}
	return f.Step(t.st.Step)
}

// env is what flow conditions see.
func (t *turn) env() flows.Env {
	answers := map[string]any{}
	for k, a := range t.st.Answers {
		if a.Values != nil {
			answers[k] = a.Values
		} else {
			answers[k] = a.Value
		}
	}
	scores := map[string]any{}
	for k, s := range t.st.Scores {
		items := map[string]any{}
		for ik, iv := range s.Items {
			items[ik] = iv
		}
		scores[k] = map[string]any{
			"total": s.Total, "band": s.Band, "items": items, "screen": s.Screen,
			"positive": s.Positive, "triage": s.Triage, "done": s.Done,
		}
	}
	level := ""
	if t.st.Suggestion != nil {
		level = t.st.Suggestion.Level
	}
	return flows.Env{"answers": answers, "scores": scores, "channel": t.in.Channel, "level": level}
}

// startFlow enters a flow at its first step.
func (t *turn) startFlow(id string) {
	f := t.spec.Flow(id)
	if f == nil {
		t.stale()
		return
	}
	t.clearFlow()
	t.st.Flow = f.ID
	t.enter(f.Start)
}

// exitFlow leaves the flow; the conversation goes back to answering
// questions.
func (t *turn) exitFlow() {
	t.st.Flow, t.st.Step, t.st.ReturnTo, t.st.Pending = "", "", "", ""
	t.st.Picked = nil
	t.st.AwaitOther = false
	t.st.Misses = 0
	t.st.Item = ""
	t.st.ItemAnswers = nil
}

// advance moves past step st after it was answered with choice ("" for a
// typed answer).
func (t *turn) advance(st *flows.Step, choice string) {
	t.st.Misses = 0
	t.st.Picked = nil
	t.st.AwaitOther = false
	next, err := t.flow().NextStep(st, choice, t.env())
	if err != nil {
		t.e.log.Error("flow condition", "flow", t.st.Flow, "step", st.ID, "err", err)
		next = t.flow().After(st)
	}
	t.enter(next)
}

// enter runs steps from id until one waits for the person or the flow
// ends: says what say steps say, skips steps whose condition is false,
// classifies, hands off, and after an edit skips steps already answered
// until it is back at the summary.
func (t *turn) enter(id string) {
	for range maxSteps {
		f := t.flow()
		if f == nil {
			return
		}
		if id == "" {
			t.exitFlow()
			return
		}
		st := f.Step(id)
		if st == nil {
			t.exitFlow()
			return
		}
		if ok, err := st.Applies(t.env()); err != nil || !ok {
			if err != nil {
				t.e.log.Error("flow condition", "flow", f.ID, "step", st.ID, "err", err)
			}
			id = f.After(st)
			continue
		}
		if t.st.ReturnTo != "" {
			if id == t.st.ReturnTo {
				t.st.ReturnTo = ""
			} else if _, answered := t.st.Answers[st.Field]; answered && st.Field != "" || st.Kind == flows.KindSay || st.Kind == flows.KindConsent {
				id = t.nextAfterAnswered(f, st)
				continue
			}
		}
		if t.needsNotice(st) {
			t.st.Step = st.ID
			t.showNotice()
			return
		}
		t.st.Step = st.ID
		t.st.Misses = 0
		switch st.Kind {
		case flows.KindSay:
			t.sayStep(st)
			id = f.After(st)
			if next, err := f.NextStep(st, "", t.env()); err == nil {
				id = next
			}
			continue
		case flows.KindConsent:
			if t.consented() {
				id = f.After(st)
				continue
			}
			t.prompt(st)
			return
		case flows.KindClassify:
			t.classify(st)
			next, err := f.NextStep(st, "", t.env())
			if err != nil {
				next = f.After(st)
			}
			id = next
			continue
		case flows.KindHandoff:
			t.handoff(st)
			id = f.After(st)
			continue
		case flows.KindGoto:
			if fid, ok := strings.CutPrefix(st.Goto, "flow:"); ok {
				answers := t.st.Answers
				t.st.Flow = fid
				t.st.Answers = answers
				id = t.spec.Flow(fid).Start
				continue
			}
			id = st.Goto
			continue
		case flows.KindEnd:
			t.sayStep(st)
			t.exitFlow()
			return
		case flows.KindAssess:
			if t.startAssess(st) {
				return
			}
			next, err := f.NextStep(st, "", t.env())
			if err != nil {
				next = f.After(st)
			}
			id = next
			continue
		default:
			t.prompt(st)
			return
		}
	}
	t.e.log.Error("flow loops", "flow", t.st.Flow, "step", id)
	t.exitFlow()
}

// nextAfterAnswered is where an edit goes past a step already answered.
func (t *turn) nextAfterAnswered(f *flows.Flow, st *flows.Step) string {
	choice := ""
	if a, ok := t.st.Answers[st.Field]; ok && st.Kind == flows.KindChoose && !st.Multi {
		choice = a.Value
	}
	next, err := f.NextStep(st, choice, t.env())
	if err != nil {
		return f.After(st)
	}
	return next
}

func (t *turn) sayStep(st *flows.Step) {
	if strings.TrimSpace(st.Text) == "" {
		return
	}
	t.replies = append(t.replies, Reply{Text: t.fill(st.Text), Kind: KindStep, Rephrasable: st.Rephrasable && !strings.Contains(st.Text, "{answer.")})
}

// fill replaces {answer.<field>} placeholders with the answers' display
// text.
func (t *turn) fill(text string) string {
	if !strings.Contains(text, "{answer.") {
		return text
	}
	for k, a := range t.st.Answers {
		text = strings.ReplaceAll(text, "{answer."+k+"}", a.display())
	}
	// An unanswered field reads as nothing rather than as a placeholder;
	// tidy the punctuation it leaves.
	for {
		i := strings.Index(text, "{answer.")
		if i < 0 {
			break
		}
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			break
		}
		text = strings.TrimRight(text[:i], " ,") + text[i+j+1:]
	}
	return text
}

func (a Answer) display() string {
	if a.Display != "" {
		return a.Display
	}
	if len(a.Values) > 0 {
		return strings.Join(a.Values, ", ")
	}
	return a.Value
}

// reprompt asks the current step again, or, outside a flow, offers the
// menu when asked to.
func (t *turn) reprompt(menuIfIdle bool) {
	st := t.step()
	if st == nil {
		if menuIfIdle {
			t.menuChoicesOnLast()
		}
		return
	}
	if t.st.Pending == pendingNotice {
		t.showNotice()
		return
	}
	if t.st.Pending == pendingEdit {
		t.askEdit(st)
		return
	}
	t.prompt(st)
}

// prompt shows a step's question with its buttons.
func (t *turn) prompt(st *flows.Step) {
	if t.guardNotice(st) {
		return
	}
	r := Reply{Kind: KindStep, Rephrasable: st.Rephrasable && !strings.Contains(st.Text, "{answer.")}
	switch st.Kind {
	case flows.KindConsent:
		r.Text = t.spec.Consent.Text
		r.Rephrasable = false
		r.Choices = []Choice{
			{ID: st.ID + ".yes", Label: t.spec.Consent.Agree},
			{ID: st.ID + ".no", Label: t.spec.Consent.Decline},
		}
	case flows.KindAsk:
		r.Text = t.fill(st.Text)
		if t.st.AwaitOther {
			break
		}
		for _, c := range st.Choices {
			r.Choices = append(r.Choices, Choice{ID: st.ID + "." + c.ID, Label: c.Label})
		}
		if st.Optional {
			r.Choices = append(r.Choices, Choice{ID: st.ID + ".skip", Label: t.spec.Labels.Skip})
		}
	case flows.KindChoose:
		r.Text = t.fill(st.Text)
		if t.st.AwaitOther {
			r.Text = t.otherPrompt(st)
			r.Rephrasable = false
			break
		}
		for _, c := range st.Choices {
			label := c.Label
			if st.Multi && slices.Contains(t.st.Picked, c.ID) {
				label = "✓ " + label
			}
			r.Choices = append(r.Choices, Choice{ID: st.ID + "." + c.ID, Label: label})
		}
		if st.Multi {
			r.Choices = append(r.Choices, Choice{ID: st.ID + ".done", Label: t.spec.Labels.Done})
		}
		if st.Optional {
			r.Choices = append(r.Choices, Choice{ID: st.ID + ".skip", Label: t.spec.Labels.Skip})
		}
	case flows.KindSummary:
		r.Text = t.fill(st.Text) + "\n" + t.summaryText(st)
		r.Rephrasable = false
		r.Choices = []Choice{
			{ID: st.ID + ".confirm", Label: t.spec.Labels.Confirm},
			{ID: st.ID + ".edit", Label: t.spec.Labels.Edit},
		}
	case flows.KindAssess:
		t.promptItem(st)
		return
	default:
		r.Text = t.fill(st.Text)
	}
	t.replies = append(t.replies, r)
}

func (t *turn) otherPrompt(st *flows.Step) string {
	if c := st.Choice(st.Other); c != nil {
		return c.Label + ": " + t.spec.Messages.OtherPrompt
	}
	return t.spec.Messages.OtherPrompt
}

// summaryText lists the answered fields of a summary step.
func (t *turn) summaryText(st *flows.Step) string {
	var b strings.Builder
	for _, l := range t.summaryLines(st) {
		fmt.Fprintf(&b, "• %s: %s\n", l.Label, l.Value)
	}
	return strings.TrimRight(b.String(), "\n")
}

func (t *turn) summaryLines(st *flows.Step) []SummaryLine {
	f := t.flow()
	var lines []SummaryLine
	for _, field := range st.Fields {
		a, ok := t.st.Answers[field]
		if !ok || a.Skipped {
			continue
		}
		label := field
		if fs := f.FieldStep(field); fs != nil && fs.Label != "" {
			label = fs.Label
		}
		lines = append(lines, SummaryLine{Field: field, Label: label, Value: a.display()})
	}
	return lines
}

// ---- answering a step ----

// stepChoice handles a tapped step button "<step>.<choice>"; a button of
// another step is stale.
func (t *turn) stepChoice(id string) {
	st := t.step()
	if st == nil {
		t.stale()
		return
	}
	stepID, cid, ok := strings.Cut(id, ".")
	if !ok {
		// A bare choice id is accepted for the current step (typed ids, replays).
		stepID, cid = st.ID, id
	}
	if stepID == "edit" && t.st.Pending == pendingEdit {
		t.editField(cid)
		return
	}
	if stepID != st.ID || t.st.Pending != "" {
		t.stale()
		return
	}
	if t.guardNotice(st) {
		return
	}
	switch st.Kind {
	case flows.KindConsent:
		switch cid {
		case "yes":
			t.grantConsent(st)
		case "no":
			t.declineConsent()
		default:
			t.stale()
		}
	case flows.KindSummary:
		switch cid {
		case "confirm":
			t.advance(st, "")
		case "edit":
			t.askEdit(st)
		default:
			t.stale()
		}
	case flows.KindAssess:
		t.answerItem(st, cid)
	case flows.KindAsk:
		if cid == "skip" && st.Optional {
			t.skip(st)
			return
		}
		c := st.Choice(cid)
		if c == nil {
			t.stale()
			return
		}
		t.setAnswer(st, Answer{Value: c.ID, Display: c.Label})
		t.advance(st, c.ID)
	case flows.KindChoose:
		t.chooseChoice(st, cid)
	default:
		t.stale()
	}
}

// chooseChoice applies a choice to a choose step: single choices answer it;
// multi choices toggle until Done.
func (t *turn) chooseChoice(st *flows.Step, cid string) {
	switch {
	case cid == "skip" && st.Optional:
		t.skip(st)
		return
	case cid == "done" && st.Multi:
		if len(t.st.Picked) == 0 {
			t.st.Misses++
			t.say(t.spec.Messages.PickOne)
			t.prompt(st)
			return
		}
		t.finishMulti(st)
		return
	}
	c := st.Choice(cid)
	if c == nil {
		t.stale()
		return
	}
	if !st.Multi {
		if cid == st.Other {
			t.st.AwaitOther = true
			t.st.Picked = []string{cid}
			t.prompt(st)
			return
		}
		t.setAnswer(st, Answer{Value: c.ID, Display: c.Label})
		t.advance(st, c.ID)
		return
	}
	t.toggle(st, c)
	t.prompt(st)
}

func (t *turn) toggle(st *flows.Step, c *flows.Choice) {
	if i := slices.Index(t.st.Picked, c.ID); i >= 0 {
		t.st.Picked = slices.Delete(t.st.Picked, i, i+1)
		return
	}
	if c.Exclusive {
		t.st.Picked = []string{c.ID}
		return
	}
	// Picking a regular choice clears an exclusive one ("none of these").
	t.st.Picked = slices.DeleteFunc(t.st.Picked, func(id string) bool {
		pc := st.Choice(id)
		return pc != nil && pc.Exclusive
	})
	t.st.Picked = append(t.st.Picked, c.ID)
}

// finishMulti stores a multi choice; with "other" picked, its text is asked
// first.
func (t *turn) finishMulti(st *flows.Step) {
	if st.Other != "" && slices.Contains(t.st.Picked, st.Other) && !t.st.AwaitOther {
		t.st.AwaitOther = true
		t.prompt(st)
		return
	}
	t.storeMulti(st, "")
	t.advance(st, "")
}

func (t *turn) storeMulti(st *flows.Step, other string) {
	var labels []string
	values := []string{}
	for _, c := range st.Choices {
		if slices.Contains(t.st.Picked, c.ID) {
			values = append(values, c.ID)
			label := c.Label
			if c.ID == st.Other && other != "" {
				label = c.Label + " (" + other + ")"
			}
			labels = append(labels, label)
		}
	}
	t.setAnswer(st, Answer{Values: values, Display: strings.Join(labels, ", "), Other: other})
}

// skip records that an optional step was skipped, so that an edit from the
// summary does not ask it again, and moves on.
func (t *turn) skip(st *flows.Step) {
	t.setAnswer(st, Answer{Skipped: true})
	t.advance(st, "")
}

func (t *turn) setAnswer(st *flows.Step, a Answer) {
	if t.st.Answers == nil {
		t.st.Answers = map[string]Answer{}
	}
	t.st.Answers[st.Field] = a
}

// answerText handles typed text while a flow waits at a step.
func (t *turn) answerText(text string) error {
	st := t.step()
	if st == nil {
		t.exitFlow()
		t.faq(text)
		return nil
	}
	if t.st.Pending == pendingEdit {
		if field := t.matchEditField(st, text); field != "" {
			t.editField(field)
			return nil
		}
		if t.digress(text) {
			return nil
		}
		t.askEdit(st)
		return nil
	}
	if t.st.Pending == pendingNotice {
		if t.digress(text) {
			return nil
		}
		t.showNotice()
		return nil
	}
	if t.needsNotice(st) {
		if !t.digress(text) {
			t.showNotice()
		}
		return nil
	}
	switch st.Kind {
	case flows.KindConsent:
		switch {
		case isYes(text):
			t.grantConsent(st)
		case isNo(text):
			t.declineConsent()
		case t.digress(text):
		default:
			t.prompt(st)
		}
	case flows.KindSummary:
		switch {
		case isYes(text):
			t.advance(st, "")
		case isEdit(text) || isNo(text):
			t.askEdit(st)
		case t.digress(text):
		default:
			t.prompt(st)
		}
	case flows.KindAsk:
		t.answerAsk(st, text)
	case flows.KindChoose:
		t.answerChoose(st, text)
	case flows.KindAssess:
		t.answerItemText(st, text)
	default:
		t.prompt(st)
	}
	return nil
}

func (t *turn) answerAsk(st *flows.Step, text string) {
	if c := st.ChoiceByText(text); c != nil {
		t.setAnswer(st, Answer{Value: c.ID, Display: c.Label})
		t.advance(st, c.ID)
		return
	}
	if st.Optional && isSkip(text) {
		t.skip(st)
		return
	}
	// A question gets its answer before the step is asked again. Free text
	// can be anything, so there only a question mark makes it a question.
	if looksLikeQuestion(text) && (st.Validate != flows.ValidateText || strings.HasSuffix(text, "?")) && t.digress(text) {
		return
	}
	a, problem := t.validate(st, text)
	if problem == "" {
		t.setAnswer(st, a)
		t.advance(st, "")
		return
	}
	t.invalid(st, problem)
}

func (t *turn) answerChoose(st *flows.Step, text string) {
	if t.st.AwaitOther {
		other := truncateRunes(text, 200)
		if st.Multi {
			t.storeMulti(st, other)
		} else {
			c := st.Choice(st.Other)
			t.setAnswer(st, Answer{Value: c.ID, Display: c.Label + " (" + other + ")", Other: other})
		}
		t.advance(st, st.Other)
		return
	}
	if st.Optional && isSkip(text) {
		t.skip(st)
		return
	}
	if st.Multi {
		if isDone(text) && len(t.st.Picked) > 0 {
			t.finishMulti(st)
			return
		}
		if picked := choicesInText(st, text); len(picked) > 0 {
			for _, c := range picked {
				if !slices.Contains(t.st.Picked, c.ID) {
					t.toggle(st, c)
				}
			}
			t.finishMulti(st)
			return
		}
	} else if c := st.ChoiceByText(text); c != nil {
		t.chooseChoice(st, c.ID)
		return
	}
	// A question is answered first; other free text is the "other" answer
	// when the step has one, so what a person describes in their own
	// words is recorded rather than taken for a question.
	if looksLikeQuestion(text) && t.digress(text) {
		return
	}
	if st.Other != "" && !looksLikeQuestion(text) && len([]rune(text)) >= 3 {
		// Free text that fits no button is taken as "other".
		if st.Multi {
			t.st.Picked = append(t.st.Picked, st.Other)
			t.storeMulti(st, truncateRunes(text, 200))
		} else {
			c := st.Choice(st.Other)
			t.setAnswer(st, Answer{Value: c.ID, Display: c.Label + " (" + truncateRunes(text, 200) + ")", Other: truncateRunes(text, 200)})
		}
		t.advance(st, st.Other)
		return
	}
	if t.digress(text) {
		return
	}
	t.invalid(st, t.spec.Messages.InvalidChoice)
}

// choicesInText finds the choices named in a typed list such as
// "anxiety, depression and trauma".
func choicesInText(st *flows.Step, text string) []*flows.Choice {
	var out []*flows.Choice
	parts := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r == ',' || r == ';' || r == '/' || r == '&' || r == '+' })
	var split []string
	for _, p := range parts {
		split = append(split, strings.Split(p, " and ")...)
	}
	for _, p := range split {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		c := st.ChoiceByText(p)
		if c == nil {
			return nil
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// digress answers a question asked mid-flow when the text reads as a
// question and the matcher is sure of it, then asks the step again. It
// reports whether it answered.
func (t *turn) digress(text string) bool {
	// Mid-flow, only a message that reads as a question is taken for one:
	// "evening" or "virtual" typed at a step is an attempt to answer it.
	if !looksLikeQuestion(text) {
		return false
	}
	res := t.spec.Matcher().Match(text)
	if res.Decision != flows.Answer {
		return false
	}
	t.answerFAQ(t.spec.FAQEntry(res.Candidates[0].ID))
	return true
}

// invalid says what was wrong with an answer, with an example, and after
// three misses offers a person.
func (t *turn) invalid(st *flows.Step, problem string) {
	t.st.Misses++
	msg := problem
	if st.Invalid != "" {
		msg = st.Invalid
	}
	if st.Example != "" {
		msg += " " + t.spec.Messages.Example + " " + st.Example
	}
	t.say(msg)
	if t.st.Misses%3 == 0 {
		t.say(t.spec.Messages.OfferHuman)
	}
	t.prompt(st)
}

// ---- consent and notice ----

func (t *turn) grantConsent(st *flows.Step) {
	c := &Consent{Version: t.spec.Consent.Version, Granted: true, At: t.now, Scope: "pre-intake"}
	t.st.Consent = c
	t.consent = c
	t.emit(EventConsent, false, map[string]any{"granted": true, "version": c.Version})
	t.say(t.spec.Consent.Granted)
	t.advance(st, "")
}

func (t *turn) declineConsent() {
	c := &Consent{Version: t.spec.Consent.Version, Granted: false, At: t.now, Scope: "pre-intake"}
	t.st.Consent = c
	t.consent = c
	t.emit(EventConsent, false, map[string]any{"granted": false, "version": c.Version})
	t.clearFlow()
	t.say(t.spec.Consent.Declined)
	t.menuChoicesOnLast()
}

func (t *turn) showNotice() {
	ch := t.spec.Channel(t.in.Channel)
	t.st.Pending = pendingNotice
	t.sayKind(ch.Notice, KindSystem,
		Choice{ID: ChoiceNoticeYes, Label: t.spec.Labels.NoticeAccept},
		Choice{ID: ChoiceNoticeNo, Label: t.spec.Labels.NoticeDecline})
}

// needsNotice reports whether step st asks for health information on an
// insecure channel whose risk notice the person has not accepted.
func (t *turn) needsNotice(st *flows.Step) bool {
	return st != nil && st.Health && !t.spec.Channel(t.in.Channel).Secure && !t.st.NoticeAccepted
}

// guardNotice shows the risk notice instead of the step when the step needs
// it; it reports whether it did. No health answer is taken on an insecure
// channel before the opt-in, however the person got to the step.
func (t *turn) guardNotice(st *flows.Step) bool {
	if !t.needsNotice(st) {
		return false
	}
	t.showNotice()
	return true
}

// notice records the answer to an insecure channel's risk notice. A
// decline keeps the flow where it is, so the person can change their mind,
// and points to the secure ways to reach the program.
func (t *turn) notice(accept bool) {
	t.st.Pending = ""
	if !accept {
		t.say(t.spec.Messages.NoticeDeclined)
		t.offerResume()
		return
	}
	t.st.NoticeAccepted = true
	t.emit(EventConsent, false, map[string]any{"granted": true, "scope": "channel-notice", "channel": t.in.Channel})
	t.enter(t.st.Step)
}

// ---- summary edits ----

func (t *turn) askEdit(st *flows.Step) {
	t.st.Pending = pendingEdit
	var cs []Choice
	for _, l := range t.summaryLines(st) {
		cs = append(cs, Choice{ID: "edit." + l.Field, Label: l.Label})
	}
	t.sayKind(t.spec.Messages.EditWhich, KindSystem, cs...)
}

func (t *turn) matchEditField(st *flows.Step, text string) string {
	s := simplify(text)
	for _, l := range t.summaryLines(st) {
		if simplify(l.Label) == s || simplify(l.Field) == s || strings.Contains(s, simplify(l.Label)) {
			return l.Field
		}
	}
	return ""
}

// editField asks one field's step again, then returns to the summary.
func (t *turn) editField(field string) {
	st := t.step()
	f := t.flow()
	fs := f.FieldStep(field)
	if st == nil || fs == nil || st.Kind != flows.KindSummary {
		t.stale()
		return
	}
	t.st.Pending = ""
	t.st.ReturnTo = st.ID
	delete(t.st.Answers, field)
	t.enter(fs.ID)
}

// ---- handoff ----

// handoff saves the intake and opens its case for staff.
func (t *turn) handoff(st *flows.Step) {
	f := t.flow()
	var summary *flows.Step
	for i := range f.Steps {
		if f.Steps[i].Kind == flows.KindSummary {
			summary = &f.Steps[i]
		}
	}
	urgency := UrgencyRoutine
	if st.Urgency == UrgencyUrgent || (t.st.Suggestion != nil && t.st.Suggestion.Urgent) {
		urgency = UrgencyUrgent
	}
	consentVersion := ""
	if t.st.Consent != nil {
		consentVersion = t.st.Consent.Version
	}
	in := &Intake{
		ID: t.e.newID(), ConversationID: t.conv.ID, Channel: t.in.Channel, Status: IntakeNew,
		Urgency: urgency, ConsentVersion: consentVersion, Answers: cloneAnswers(t.st.Answers),
		Scores: cloneScores(t.st.Scores), Suggestion: t.st.Suggestion, Source: t.st.Source, Created: t.now,
	}
	if summary != nil {
		in.Summary = t.summaryLines(summary)
	}
	t.intake = in
	t.st.IntakeID = in.ID
	h := Handoff{ID: t.e.newID(), ConversationID: t.conv.ID, IntakeID: in.ID, Reason: ReasonIntake,
		Urgency: urgency, Status: IntakeNew, Created: t.now}
	t.handoffs = append(t.handoffs, h)
	sum := map[string]any{"urgency": urgency}
	if in.Suggestion != nil {
		sum["level"] = in.Suggestion.Level
		sum["level_label"] = in.Suggestion.Label
		sum["trace"] = in.Suggestion.Trace
	}
	if len(in.Scores) > 0 {
		scores := map[string]any{}
		for k, s := range in.Scores {
			scores[k] = map[string]any{"total": s.Total, "band": s.Band, "screen": s.Screen, "positive": s.Positive, "triage": s.Triage}
		}
		sum["scores"] = scores
	}
	t.emit(EventIntakeSaved, false, map[string]any{"id": in.ID, "summary": sum})
	t.emit(EventHandoff, true, map[string]any{"handoff_id": h.ID, "intake_id": in.ID, "urgency": urgency, "reason": ReasonIntake})
	t.say(t.spec.Messages.IntakeDone)
}

func cloneAnswers(m map[string]Answer) map[string]Answer {
	out := make(map[string]Answer, len(m))
	for k, v := range m {
		v.Values = slices.Clone(v.Values)
		out[k] = v
	}
	return out
}

func cloneScores(m map[string]Score) map[string]Score {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]Score, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- words ----

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// simplify lower-cases s and keeps letters, digits and single spaces.
func simplify(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		if r == '\'' || r == '’' {
			continue
		}
		if isLetterOrDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

func oneOf(text string, words ...string) bool {
	s := simplify(text)
	for _, w := range words {
		if s == w {
			return true
		}
	}
	return false
}

func isYes(text string) bool {
	return oneOf(text, "yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "agree", "i agree", "yes i agree",
		"confirm", "correct", "right", "looks right", "looks good", "thats right", "yes please", "si", "of course", "send it", "i do")
}

func isNo(text string) bool {
	return oneOf(text, "no", "n", "nope", "nah", "no thanks", "no thank you", "decline", "i decline", "dont", "i dont agree",
		"cancel", "not now", "never mind", "nevermind")
}

func isEdit(text string) bool {
	s := simplify(text)
	return strings.HasPrefix(s, "change") || strings.HasPrefix(s, "edit") || strings.HasPrefix(s, "fix") || strings.Contains(s, "wrong")
}

func isSkip(text string) bool {
	return oneOf(text, "skip", "pass", "skip it", "skip this", "prefer not to say", "rather not say", "no thanks", "none", "n a", "na")
}

func isDone(text string) bool {
	return oneOf(text, "done", "thats all", "that s all", "finished", "ok", "okay", "next", "continue", "thats it")
}

// looksLikeQuestion reports whether text reads as a question rather than
// an answer.
func looksLikeQuestion(text string) bool {
	if strings.HasSuffix(strings.TrimSpace(text), "?") {
		return true
	}
	simple := simplify(text)
	first, _, _ := strings.Cut(simple, " ")
	switch first {
	case "what", "how", "when", "where", "why", "who", "which", "can", "could", "do", "does", "is", "are",
		"will", "would", "should", "whats", "hows", "am", "explain":
		return true
	}
	for _, p := range questionOpeners {
		if strings.HasPrefix(simple, p) {
			return true
		}
	}
	return false
}

// questionOpeners start requests for information that are not worded as
// questions.
var questionOpeners = []string{"tell me", "i want to know", "i would like to know", "id like to know",
	"im wondering", "i was wondering", "wondering", "question about", "info on", "info about",
	"information about", "information on", "more about", "explain"}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
