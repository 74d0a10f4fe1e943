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
	if t.st.Item == "" {
		t.st.ItemAnswers = map[string]int{}
		if in.Intro != "" {
			t.replies = append(t.replies, Reply{Text: in.Intro, Kind: KindStep})
		}
	}
	item := in.Next(t.st.ItemAnswers, t.env())
	if item == nil {
		t.finishAssess(st)
		return false
	}
	t.st.Item = item.ID
	t.promptItem(st)
	return true
}

// promptItem asks the current item of an assess step with its options.
func (t *turn) promptItem(st *flows.Step) {
	in := t.spec.Instrument(st.Instrument)
	item := t.currentItem(in)
	if item == nil {
		return
	}
	r := Reply{Text: item.Text, Kind: KindStep}
	for _, o := range in.ItemOptions(item) {
		r.Choices = append(r.Choices, Choice{ID: st.ID + "." + item.ID + "-" + o.ID, Label: o.Label})
	}
	t.replies = append(t.replies, r)
}

func (t *turn) currentItem(in *flows.Instrument) *flows.Item {
	for i := range in.Items {
		if in.Items[i].ID == t.st.Item {
			return &in.Items[i]
		}
	}
	return nil
}

// answerItem handles a tapped option "<item>-<option>"; an option of
// another item is stale.
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

// answerItemText reads a typed answer to an item: an option's label or id,
// or its number in the list.
func (t *turn) answerItemText(st *flows.Step, text string) {
	in := t.spec.Instrument(st.Instrument)
	item := t.currentItem(in)
	if item == nil {
		t.stale()
		return
	}
	opts := in.ItemOptions(item)
	s := simplify(text)
	for _, o := range opts {
		if s == simplify(o.Label) || s == simplify(o.ID) {
			t.recordItem(st, in, item, o.Value)
			return
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(opts) {
		t.recordItem(st, in, item, opts[n-1].Value)
		return
	}
	if t.digress(text) {
		return
	}
	t.st.Misses++
	t.say(t.spec.Messages.InvalidItem)
	if t.st.Misses >= 3 {
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
		return
	}
	t.advance(st, "")
}

func (t *turn) setScore(in *flows.Instrument, done bool) Score {
	r := in.Score(t.st.ItemAnswers, t.env())
	s := Score{Instrument: in.ID, Total: r.Total, Band: r.Band, Items: maps.Clone(t.st.ItemAnswers),
		Screen: r.Screen, Positive: r.Positive, Triage: r.Triage, Done: done}
	if t.st.Scores == nil {
		t.st.Scores = map[string]Score{}
	}
	t.st.Scores[in.ID] = s
	return s
}

// finishAssess stores the instrument's score and acts on its triage: a
// crisis result starts the crisis protocol at once.
func (t *turn) finishAssess(st *flows.Step) {
	in := t.spec.Instrument(st.Instrument)
	s := t.setScore(in, true)
	t.st.Item = ""
	t.st.ItemAnswers = nil
	if t.st.Answers == nil {
		t.st.Answers = map[string]Answer{}
	}
	t.st.Answers[st.Field] = Answer{Value: strconv.Itoa(s.Total), Display: scoreText(in, s)}
	switch s.Triage {
	case "crisis":
		t.replies = append(t.replies, t.e.crisisReply())
		t.emit(EventCrisis, false, map[string]any{"category": "assessment", "rule": in.ID})
		t.st.Mode = ModeCrisis
		t.urgentAlert(ReasonCrisis, map[string]any{"category": "assessment", "rule": in.ID})
	case "urgent":
		if t.st.Suggestion == nil {
			t.st.Suggestion = &Suggestion{}
		}
		t.st.Suggestion.Urgent = true
	}
}

func scoreText(in *flows.Instrument, s Score) string {
	title := in.Title
	if title == "" {
		title = in.ID
	}
	txt := fmt.Sprintf("%s %d", title, s.Total)
	if s.Band != "" {
		txt += " (" + s.Band + ")"
	}
	if s.Screen {
		txt += ", screen only"
	}
	return txt
}

// classify runs a classify step's rules and records the suggested level of
// care with a readable trace; the person sees only the level's gentle,
// non-diagnostic sentence.
func (t *turn) classify(st *flows.Step) {
	rule, err := st.Classify(t.env())
	if err != nil {
		t.e.log.Error("classify", "step", st.ID, "err", err)
	}
	levelID, reason, ruleID := st.Default, "no rule matched", ""
	if rule != nil {
		levelID, reason, ruleID = rule.Level, rule.Reason, rule.ID
	}
	level := t.spec.Level(levelID)
	var trace []string
	for _, in := range t.spec.Instruments {
		if s, ok := t.st.Scores[in.ID]; ok && s.Done {
			trace = append(trace, scoreText(&in, s))
		}
	}
	trace = append(trace, reason)
	urgent := level.Urgency == UrgencyUrgent
	if t.st.Suggestion != nil && t.st.Suggestion.Urgent {
		urgent = true
	}
	t.st.Suggestion = &Suggestion{Level: level.ID, Label: level.Label, Rule: ruleID, Trace: trace, Urgent: urgent}
	t.setAnswer(st, Answer{Value: level.ID, Display: level.Label})
	t.replies = append(t.replies, Reply{Text: level.Participant, Kind: KindStep})
}
