package bot

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"intakebot/flows"
)

// startAssess begins an assess step; it reports false when the instrument
// has nothing to ask (already done), so the flow moves on.
func (t *turn) startAssess(st *flows.Step) bool {
	in := t.spec.Instrument(st.Instrument)
	if s, ok := t.st.Scores[in.ID]; ok && s.Done {
		return false
	}
	first := t.st.Item == ""
	if first {
		t.st.ItemAnswers = map[string]int{}
	}
	item := in.Next(t.st.ItemAnswers, t.env())
	if item == nil {
		t.finishAssess(st)
		return false
	}
	if first {
		intro := strings.TrimSpace(strings.TrimSpace(in.Intro) + "\n" + strings.TrimSpace(in.Hint))
		if intro != "" {
			t.replies = append(t.replies, Reply{Text: intro, Kind: KindStep})
		}
	}
	t.st.Item = item.ID
	t.promptItem(st)
	return true
}

// promptItem asks the current item of an assess step with its options.
// With no item under way the step is either finished (the flow was paused
// by a crisis answer and is now resumed: it moves on) or not yet started.
func (t *turn) promptItem(st *flows.Step) {
	in := t.spec.Instrument(st.Instrument)
	item := t.currentItem(in)
	if item == nil {
		if s, ok := t.st.Scores[in.ID]; ok && s.Done {
			t.advance(st, "")
			return
		}
		if !t.startAssess(st) {
			t.advance(st, "")
		}
		return
	}
	r := Reply{Text: item.Text, Kind: KindStep}
	for _, o := range in.ItemOptions(item) {
		r.Choices = append(r.Choices, Choice{ID: st.ID + "." + item.ID + "-" + o.ID, Label: o.Label})
	}
	t.replies = append(t.replies, r)
}

func (t *turn) currentItem(in *flows.Instrument) *flows.Item {
	if t.st.Item == "" {
		return nil
	}
	for i := range in.Items {
		if in.Items[i].ID == t.st.Item {
			return &in.Items[i]
		}
	}
	return nil
}

// answerItem handles a tapped option "<item>-<option>"; an option of
// another item, or one the item does not have, is stale: it is never
// recorded as an answer to the current item.
func (t *turn) answerItem(st *flows.Step, cid string) {
	in := t.spec.Instrument(st.Instrument)
	item := t.currentItem(in)
	itemID, optID, ok := strings.Cut(cid, "-")
	if item == nil || !ok || itemID != item.ID {
		t.stale()
		return
	}
	for _, o := range in.ItemOptions(item) {
		if o.ID == optID {
			t.recordItem(st, in, item, o.Value)
			return
		}
	}
	t.stale()
}

// answerItemText reads a typed answer to an item: an option's label, id or
// alias, a number as the instrument reads numbers, or words that name one
// option. Anything else gets a question answered or the item asked again.
func (t *turn) answerItemText(st *flows.Step, text string) {
	in := t.spec.Instrument(st.Instrument)
	item := t.currentItem(in)
	if item == nil {
		t.promptItem(st)
		return
	}
	if o, ok := in.OptionByText(item, text); ok {
		t.recordItem(st, in, item, o.Value)
		return
	}
	// Only a question gets an FAQ answer mid-questionnaire: an unclear
	// answer ("hmm, not sure") must not be taken for a topic.
	if looksLikeQuestion(text) && t.digress(text) {
		return
	}
	t.st.Misses++
	// The instrument's hint says how to answer it; without one, the
	// engine's generic message.
	msg := t.spec.Messages.InvalidItem
	if in.Hint != "" {
		msg = in.Hint
	}
	t.say(msg)
	if t.st.Misses%3 == 0 {
		t.say(t.spec.Messages.OfferHuman)
	}
	t.promptItem(st)
}

func (t *turn) recordItem(st *flows.Step, in *flows.Instrument, item *flows.Item, value int) {
	t.st.Misses = 0
	if t.st.ItemAnswers == nil {
		t.st.ItemAnswers = map[string]int{}
	}
	t.st.ItemAnswers[item.ID] = value
	// The partial score is visible to conditions while the instrument runs.
	t.setScore(in, false)
	next := in.Next(t.st.ItemAnswers, t.env())
	if next != nil {
		t.st.Item = next.ID
		t.promptItem(st)
		return
	}
	t.finishAssess(st)
	if t.st.Mode == ModeCrisis {
		// The flow waits at this step; once the person chooses, it moves on.
		return
	}
	t.advance(st, "")
}

func (t *turn) setScore(in *flows.Instrument, done bool) (Score, flows.Result) {
	r := in.Score(t.st.ItemAnswers, t.env())
	s := Score{Instrument: in.ID, Total: r.Total, Band: r.Band, Items: maps.Clone(t.st.ItemAnswers),
		Screen: r.Screen, Positive: r.Positive, Triage: r.Triage, Done: done}
	if t.st.Scores == nil {
		t.st.Scores = map[string]Score{}
	}
	t.st.Scores[in.ID] = s
	return s, r
}

// finishAssess stores the instrument's score and acts on its triage: a
// crisis result starts the crisis protocol at once (the scripted reply
// first, a crisis event naming the triage rule, an urgent alert, the flow
// paused); an urgent result makes the intake's handoff urgent.
func (t *turn) finishAssess(st *flows.Step) {
	in := t.spec.Instrument(st.Instrument)
	s, r := t.setScore(in, true)
	t.st.Item = ""
	t.st.ItemAnswers = nil
	if t.st.Answers == nil {
		t.st.Answers = map[string]Answer{}
	}
	t.st.Answers[st.Field] = Answer{Value: strconv.Itoa(s.Total), Display: scoreText(in, s)}
	switch s.Triage {
	case flows.TriageCrisis:
		data := map[string]any{"category": r.Category, "rule": r.TriageRule, "source": "assessment", "instrument": in.ID}
		t.replies = append(t.replies, t.e.crisisReply(t.in.Lang))
		t.emit(EventCrisis, false, data)
		t.st.Mode = ModeCrisis
		t.markUrgent()
		t.urgentAlert(ReasonCrisis, maps.Clone(data))
	case flows.TriageUrgent:
		t.markUrgent()
	}
}

// markUrgent makes the coming intake handoff urgent, whatever level of care
// is suggested later.
func (t *turn) markUrgent() {
	if t.st.Suggestion == nil {
		t.st.Suggestion = &Suggestion{}
	}
	t.st.Suggestion.Urgent = true
}

// scoreText is how an instrument's result reads for staff: "PHQ-9 14
// (moderate)", "PHQ-2 2 (negative screen)", "C-SSRS screener (low risk)".
func scoreText(in *flows.Instrument, s Score) string {
	title := in.Title
	if title == "" {
		title = in.ID
	}
	if s.Screen && in.Gate != nil && in.Gate.Title != "" {
		title = in.Gate.Title
	}
	txt := title
	if !in.HideTotal {
		txt += " " + strconv.Itoa(s.Total)
	}
	if s.Band != "" {
		txt += " (" + s.Band + ")"
	}
	return txt
}

// classify runs a classify step's rules and records the suggested level of
// care with a readable trace; the person sees only the level's gentle,
// non-diagnostic sentence. The trace lists each finished instrument with
// its notes (triage reasons, the cut-off used), the answers the rules look
// at, and the rule that decided:
//
//	PHQ-9 14 (moderate); GAD-7 6 (mild); Keeps up with daily
//	responsibilities: Yes; Needs more than weekly therapy: Yes;
//	→ IOP: moderate-to-severe symptoms … (rule iop)
func (t *turn) classify(st *flows.Step) {
	env := t.env()
	rule, err := st.Classify(env)
	levelID, reason, ruleID := st.Default, "no rule matched: the default level", ""
	if err != nil {
		// A rule that cannot be evaluated must not hide the others' result
		// silently: staff see that the suggestion needs their review.
		t.e.log.Error("classify", "step", st.ID, "err", err)
		reason = "a rule could not be evaluated: please review the answers"
	}
	if rule != nil {
		levelID, reason, ruleID = rule.Level, rule.Reason, rule.ID
	}
	level := t.spec.Level(levelID)
	var trace []string
	for i := range t.spec.Instruments {
		in := &t.spec.Instruments[i]
		s, ok := t.st.Scores[in.ID]
		if !ok || !s.Done {
			continue
		}
		line := scoreText(in, s)
		if notes := in.Score(s.Items, env).Notes; len(notes) > 0 {
			line += ": " + strings.Join(notes, "; ")
		}
		trace = append(trace, line)
	}
	trace = append(trace, t.ruleInputs(st)...)
	decided := "→ " + level.Label + ": " + reason
	if ruleID != "" {
		decided += " (rule " + ruleID + ")"
	}
	trace = append(trace, decided)
	urgent := level.Urgency == UrgencyUrgent
	if t.st.Suggestion != nil && t.st.Suggestion.Urgent {
		urgent = true
	}
	t.st.Suggestion = &Suggestion{Level: level.ID, Label: level.Label, Rule: ruleID, Trace: trace, Urgent: urgent}
	t.setAnswer(st, Answer{Value: level.ID, Display: level.Label})
	t.replies = append(t.replies, Reply{Text: level.Participant, Kind: KindStep})
}

// ruleInputs lists the answers the classify rules look at, in the flow's
// order, as "Label: answer".
func (t *turn) ruleInputs(st *flows.Step) []string {
	want := map[string]bool{}
	for _, f := range st.RuleFields() {
		want[f] = true
	}
	var out []string
	f := t.flow()
	for i := range f.Steps {
		fs := &f.Steps[i]
		if fs.Field == "" || !want[fs.Field] {
			continue
		}
		a, ok := t.st.Answers[fs.Field]
		if !ok {
			continue
		}
		label := fs.Label
		if label == "" {
			label = fs.Field
		}
		out = append(out, fmt.Sprintf("%s: %s", label, a.display()))
		delete(want, fs.Field)
	}
	return out
}
