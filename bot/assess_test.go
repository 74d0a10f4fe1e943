package bot_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
)

// plan is how a test participant answers the self-assessment: item values
// by instrument, then the functioning questions by choice id.
type plan struct {
	items map[string]map[string]int // instrument -> item -> value
	// choices answers choose steps of the assessment by field.
	choices map[string]string
}

// assessSteps are the steps of the self-assessment in the intake flow.
var assessSteps = []string{"phq9", "cssrs", "gad7", "sex", "auditc", "drugs", "daily", "safe_home", "medical", "more_support"}

// drive answers whatever the intake flow asks until it waits at stop (or,
// with stop "", until the flow ends), tapping the first choice of steps
// outside the assessment and answering the assessment from p. It returns
// every output of the way.
func drive(t *testing.T, h *bottest.Harness, p plan, stop string) []bot.Output {
	t.Helper()
	f := h.Spec.Flow(flows.IntakeFlow)
	var outs []bot.Output
	send := func(o bot.Output) { outs = append(outs, o) }
	if h.State().Flow == "" {
		send(h.Tap("flow:" + flows.IntakeFlow))
	}
	for range 200 {
		s := h.State()
		if s.Flow == "" {
			if stop != "" {
				t.Fatalf("the flow ended before step %q", stop)
			}
			return outs
		}
		if s.Step == stop && s.Pending == "" {
			return outs
		}
		if s.Mode == bot.ModeCrisis {
			t.Fatalf("the flow is paused by a crisis at step %q", s.Step)
		}
		if s.Pending == "notice" {
			send(h.Tap(bot.ChoiceNoticeYes))
			continue
		}
		st := f.Step(s.Step)
		switch st.Kind {
		case flows.KindConsent:
			send(h.Tap(st.ID + ".yes"))
		case flows.KindSummary:
			send(h.Tap(st.ID + ".confirm"))
		case flows.KindAssess:
			in := h.Spec.Instrument(st.Instrument)
			v, ok := p.items[in.ID][s.Item]
			if !ok {
				t.Fatalf("the plan does not answer %s item %q", in.ID, s.Item)
			}
			send(h.Tap(optionChoice(t, h.Spec, st.ID, s.Item, v)))
		case flows.KindAsk:
			switch {
			case len(st.Choices) > 0:
				send(h.Tap(st.ID + "." + st.Choices[0].ID))
			case st.Optional:
				send(h.Tap(st.ID + ".skip"))
			default:
				send(h.Say(sampleAnswer[st.Validate]))
			}
		case flows.KindChoose:
			c, ok := p.choices[st.Field]
			if !ok {
				if slices.Contains(assessSteps, st.ID) {
					t.Fatalf("the plan does not answer %q", st.ID)
				}
				c = st.Choices[0].ID
				if c == st.Other {
					c = st.Choices[1].ID
				}
			}
			send(h.Tap(st.ID + "." + c))
			if st.Multi {
				send(h.Tap(st.ID + ".done"))
			}
		default:
			t.Fatalf("the flow waits at a %s step %q", st.Kind, st.ID)
		}
	}
	t.Fatalf("the flow never reached %q", stop)
	return nil
}

var sampleAnswer = map[string]string{
	flows.ValidateName: "Jordan Lee", flows.ValidatePhone: "(206) 555-0123", flows.ValidateEmail: "jordan@example.com",
	flows.ValidateZIP: "98101", flows.ValidateDate: "next monday", flows.ValidateText: "Blue Cross",
}

// optionChoice is the button id of the option of item worth value.
func optionChoice(t *testing.T, spec *flows.Spec, stepID, itemID string, value int) string {
	t.Helper()
	in := spec.Instrument(spec.Flow(flows.IntakeFlow).Step(stepID).Instrument)
	for i := range in.Items {
		if in.Items[i].ID != itemID {
			continue
		}
		for _, o := range in.ItemOptions(&in.Items[i]) {
			if o.Value == value {
				return stepID + "." + itemID + "-" + o.ID
			}
		}
	}
	t.Fatalf("%s item %s has no option worth %d", in.ID, itemID, value)
	return ""
}

// phq returns PHQ-9 answers: the given values for the first items, 0 for
// the rest.
func phq(values ...int) map[string]int {
	m := map[string]int{}
	for i := 1; i <= 9; i++ {
		m[fmt.Sprintf("i%d", i)] = 0
		if i <= len(values) {
			m[fmt.Sprintf("i%d", i)] = values[i-1]
		}
	}
	return m
}

func gad(values ...int) map[string]int {
	m := map[string]int{}
	for i := 1; i <= 7; i++ {
		m[fmt.Sprintf("g%d", i)] = 0
		if i <= len(values) {
			m[fmt.Sprintf("g%d", i)] = values[i-1]
		}
	}
	return m
}

var (
	noAlcohol = map[string]int{"freq": 0}
	noDrugs   = map[string]int{"times": 0}
	fits      = map[string]string{"sex": "unknown", "daily": "yes", "safe_home": "yes", "medical": "no", "more_support": "yes"}
)

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func events(outs []bot.Output, typ string) []bot.Event {
	var evs []bot.Event
	for _, o := range outs {
		for _, e := range o.Events {
			if e.Type == typ {
				evs = append(evs, e)
			}
		}
	}
	return evs
}

func replyTexts(outs []bot.Output) string {
	var b strings.Builder
	for _, o := range outs {
		for _, r := range o.Replies {
			b.WriteString(r.Text + "\n")
		}
	}
	return b.String()
}

// TestAssessLevels runs whole intakes whose answers reach each level of
// care, and checks what staff get (the intake's suggestion and trace, the
// intake_saved event's summary, the handoff's urgency) and what the person
// sees (only the level's gentle sentence, never a score).
func TestAssessLevels(t *testing.T) {
	tests := []struct {
		name    string
		p       plan
		level   string
		rule    string
		urgency string
		trace   []string // fragments, in order
	}{
		{
			name: "mild: weekly outpatient",
			p: plan{items: map[string]map[string]int{"phq9": phq(1, 1), "gad7": gad(0, 1), "auditc": noAlcohol, "drugs": noDrugs},
				choices: fits},
			level: "outpatient", rule: "mild", urgency: bot.UrgencyRoutine,
			trace: []string{"PHQ-2 2 (negative screen)", "GAD-2 1 (negative screen)", "AUDIT-C 0 (negative): AUDIT-C cut-off ≥3: sex not given", "Single-question drug screen 0 (negative)", "→ Weekly outpatient"},
		},
		{
			name: "moderate depression: IOP",
			p: plan{items: map[string]map[string]int{"phq9": phq(2, 2, 2, 2, 2, 2, 1, 1, 0), "gad7": gad(1, 1), "auditc": noAlcohol, "drugs": noDrugs},
				choices: fits},
			level: "iop", rule: "iop", urgency: bot.UrgencyRoutine,
			trace: []string{"PHQ-9 14 (moderate)", "GAD-2 2 (negative screen)", "Keeps up with daily responsibilities: Yes", "Needs more than weekly therapy: Yes", "→ IOP: moderate-to-severe symptoms", "(rule iop)"},
		},
		{
			name: "anxiety and alcohol: IOP dual-diagnosis track",
			p: plan{items: map[string]map[string]int{"phq9": phq(1, 0), "gad7": gad(2, 2, 2, 2, 2), "auditc": {"freq": 2, "typical": 1, "six_plus": 1}, "drugs": noDrugs},
				choices: with(fits, "sex", "male")},
			level: "iop_dual", rule: "iop-dual", urgency: bot.UrgencyRoutine,
			trace: []string{"GAD-7 10 (moderate)", "AUDIT-C 4 (positive): AUDIT-C cut-off ≥4 (men)", "→ IOP, dual-diagnosis track"},
		},
		{
			name: "needs medical monitoring: more support than IOP, urgent",
			p: plan{items: map[string]map[string]int{"phq9": phq(3, 3, 3, 2, 2, 2, 2, 2, 0), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs},
				choices: with(fits, "medical", "yes")},
			level: "higher_care", rule: "medical-instability", urgency: bot.UrgencyUrgent,
			trace: []string{"PHQ-9 19 (moderately severe)", "Needs close medical monitoring: Yes", "→ More support than IOP"},
		},
		{
			name: "not safe at home: more support than IOP, urgent",
			p: plan{items: map[string]map[string]int{"phq9": phq(2, 2), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs},
				choices: with(fits, "safe_home", "no")},
			level: "higher_care", rule: "not-safe-at-home", urgency: bot.UrgencyUrgent,
			trace: []string{"Safe at home: No", "(rule not-safe-at-home)"},
		},
		{
			name: "cannot take care of self: more support than IOP, urgent",
			p: plan{items: map[string]map[string]int{"phq9": phq(3, 3, 3, 3, 3, 3, 2, 2, 0), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs},
				choices: with(fits, "daily", "no")},
			level: "higher_care", rule: "cannot-care-for-self", urgency: bot.UrgencyUrgent,
			trace: []string{"PHQ-9 22 (severe)", "Keeps up with daily responsibilities: No", "(rule cannot-care-for-self)"},
		},
		{
			name: "wish to be dead: IOP, urgent review",
			p: plan{items: map[string]map[string]int{"phq9": phq(2, 2, 2, 2, 2, 2, 1, 0, 1), "cssrs": {"wish": 1, "thoughts": 0, "behavior": 0}, "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs},
				choices: fits},
			level: "iop", rule: "iop", urgency: bot.UrgencyUrgent,
			trace: []string{"PHQ-9 14 (moderate): PHQ-9 item 9", "C-SSRS screener (low risk): C-SSRS: wished to be dead", "→ IOP"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := bottest.NewHarness(t, mustSpec(t))
			outs := drive(t, h, tc.p, "")
			if n := len(h.Store.Intakes); n != 1 {
				t.Fatalf("%d intakes saved, want 1", n)
			}
			in := h.Store.Intakes[0]
			sg := in.Suggestion
			if sg == nil || sg.Level != tc.level || sg.Rule != tc.rule {
				t.Fatalf("suggestion %+v, want level %s rule %s", sg, tc.level, tc.rule)
			}
			if in.Urgency != tc.urgency {
				t.Errorf("intake urgency %s, want %s", in.Urgency, tc.urgency)
			}
			trace := strings.Join(sg.Trace, "; ")
			at := 0
			for _, frag := range tc.trace {
				i := strings.Index(trace[at:], frag)
				if i < 0 {
					t.Errorf("trace lacks %q (in order):\n%s", frag, trace)
					break
				}
				at += i
			}
			// The intake_saved event carries the result for chat --jsonl.
			saved := events(outs, bot.EventIntakeSaved)
			if len(saved) != 1 {
				t.Fatalf("%d intake_saved events", len(saved))
			}
			sum, _ := saved[0].Data["summary"].(map[string]any)
			if sum["level"] != tc.level || sum["urgency"] != tc.urgency {
				t.Errorf("intake_saved summary %v, want level %s urgency %s", sum, tc.level, tc.urgency)
			}
			if tr, _ := sum["trace"].([]string); strings.Join(tr, "; ") != trace {
				t.Errorf("intake_saved trace %v", sum["trace"])
			}
			if scores, _ := sum["scores"].(map[string]any); scores["phq9"] == nil || scores["gad7"] == nil {
				t.Errorf("intake_saved scores %v", sum["scores"])
			}
			hs := events(outs, bot.EventHandoff)
			if len(hs) == 0 || hs[len(hs)-1].Data["urgency"] != tc.urgency {
				t.Errorf("handoff events %v, want the last one %s", hs, tc.urgency)
			}
			// The person sees the level's sentence and never a score or a
			// band.
			text := replyTexts(outs)
			if !strings.Contains(text, h.Spec.Level(tc.level).Participant) {
				t.Errorf("the person was not told the level's sentence")
			}
			for _, leak := range []string{"PHQ", "GAD-", "AUDIT", "C-SSRS", "moderate)", "(mild)", "severe)", "negative screen", "trace"} {
				if strings.Contains(text, leak) {
					t.Errorf("a reply shows %q to the person", leak)
				}
			}
			if len(events(outs, bot.EventCrisis)) != 0 {
				t.Errorf("crisis event without a crisis answer")
			}
		})
	}
}

// TestAssessCrisis answers yes to C-SSRS intent: the crisis protocol runs
// at once (the scripted reply first, a crisis event, an urgent handoff, the
// flow paused), nothing more is asked, and after "I'm safe" the intake goes
// on to a crisis-level suggestion and an urgent handoff.
func TestAssessCrisis(t *testing.T) {
	tests := []struct {
		name  string
		cssrs []struct {
			item  string
			value int
		}
		rule   string
		unseen string // an item that must not be asked
	}{
		{"intent", []struct {
			item  string
			value int
		}{{"wish", 1}, {"thoughts", 1}, {"method", 0}, {"intent", 1}}, "cssrs-intent", "plan"},
		{"plan", []struct {
			item  string
			value int
		}{{"wish", 1}, {"thoughts", 1}, {"method", 1}, {"intent", 0}, {"plan", 1}}, "cssrs-plan", "behavior"},
		{"behavior in 3 months", []struct {
			item  string
			value int
		}{{"wish", 0}, {"thoughts", 0}, {"behavior", 1}, {"behavior_3mo", 1}}, "cssrs-behavior-3mo", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := bottest.NewHarness(t, mustSpec(t))
			p := plan{items: map[string]map[string]int{"phq9": phq(3, 3, 2, 2, 2, 2, 2, 2, 2), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs}, choices: fits}
			drive(t, h, p, "cssrs")
			var out bot.Output
			for i, a := range tc.cssrs {
				if got := h.State().Item; got != a.item {
					t.Fatalf("asked %q, want %q", got, a.item)
				}
				out = h.Tap(optionChoice(t, h.Spec, "cssrs", a.item, a.value))
				if i < len(tc.cssrs)-1 && out.Crisis() {
					t.Fatalf("crisis reply after %s", a.item)
				}
			}
			if len(out.Replies) == 0 || out.Replies[0].Kind != bot.KindCrisis || out.Replies[0].Text != h.Spec.Safety.Reply {
				t.Fatalf("the first reply is not the scripted crisis reply: %+v", out.Replies)
			}
			if len(out.Replies) != 1 {
				t.Errorf("the crisis reply comes alone, got %d replies", len(out.Replies))
			}
			crisis := events([]bot.Output{out}, bot.EventCrisis)
			if len(crisis) != 1 || crisis[0].Data["category"] != "suicide" || crisis[0].Data["rule"] != tc.rule {
				t.Errorf("crisis events %v, want category suicide rule %s", crisis, tc.rule)
			}
			hs := events([]bot.Output{out}, bot.EventHandoff)
			if len(hs) != 1 || hs[0].Data["urgency"] != bot.UrgencyUrgent || hs[0].Data["reason"] != bot.ReasonCrisis {
				t.Errorf("handoff events %v, want one urgent crisis handoff", hs)
			}
			if s := h.State(); s.Mode != bot.ModeCrisis || s.Step != "cssrs" {
				t.Errorf("mode %q step %q, want paused at cssrs", s.Mode, s.Step)
			}
			// Typing anything keeps the pause.
			if o := h.Say("ok"); !o.Crisis() {
				t.Errorf("the pause did not hold: %+v", o.Replies)
			}
			// "I'm safe — continue" moves on to the next step, never
			// re-asking the C-SSRS.
			o := h.Tap(bot.ChoiceCrisisSafe)
			if s := h.State(); s.Mode != bot.ModeBot || s.Step != "gad7" || s.Item != "g1" {
				t.Fatalf("after I'm safe: mode %q step %q item %q, want gad7 g1; replies %q", s.Mode, s.Step, s.Item, replyTexts([]bot.Output{o}))
			}
			outs := drive(t, h, p, "")
			in := h.Store.Intakes[0]
			if in.Suggestion.Level != "crisis" || in.Urgency != bot.UrgencyUrgent {
				t.Errorf("suggestion %+v urgency %s, want crisis, urgent", in.Suggestion, in.Urgency)
			}
			if tr := strings.Join(in.Suggestion.Trace, "; "); !strings.Contains(tr, "C-SSRS screener (high risk)") || !strings.Contains(tr, "rule imminent-risk") {
				t.Errorf("trace %s", tr)
			}
			if tc.unseen != "" {
				if _, asked := in.Scores["cssrs"].Items[tc.unseen]; asked {
					t.Errorf("%s was asked after the crisis answer", tc.unseen)
				}
			}
			if len(events(outs, bot.EventCrisis)) != 0 {
				t.Errorf("a second crisis event")
			}
		})
	}
}

// TestAssessButtons checks stale and unknown option buttons: none is ever
// recorded as an answer to the current item.
func TestAssessButtons(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	p := plan{items: map[string]map[string]int{"phq9": phq(2, 2, 1, 1, 1, 1, 1, 1, 0), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs}, choices: fits}
	drive(t, h, p, "phq9")
	h.Tap("phq9.i1-several_days")
	h.Tap("phq9.i2-nearly_every_day")
	tests := []struct {
		name, choice string
	}{
		{"an earlier item's option", "phq9.i1-not_at_all"},
		{"an unknown option", "phq9.i3-always"},
		{"an unknown item", "phq9.i99-not_at_all"},
		{"another instrument's option", "gad7.g1-not_at_all"},
		{"an earlier step's choice", "format.virtual"},
		{"no option at all", "phq9.i3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.State()
			out := h.Tap(tc.choice)
			after := h.State()
			if after.Step != "phq9" || after.Item != "i3" || len(after.ItemAnswers) != len(before.ItemAnswers) {
				t.Fatalf("step %q item %q answers %v, want still at phq9 i3 with %v", after.Step, after.Item, after.ItemAnswers, before.ItemAnswers)
			}
			if !strings.Contains(replyTexts([]bot.Output{out}), h.Spec.Messages.StaleChoice) {
				t.Errorf("no stale-button message: %q", replyTexts([]bot.Output{out}))
			}
			last := out.Replies[len(out.Replies)-1]
			if !strings.Contains(last.Text, "Trouble falling or staying asleep") || !hasChoiceID(last, "phq9.i3-not_at_all") {
				t.Errorf("item 3 is not asked again: %+v", last)
			}
		})
	}
	if got := h.State().ItemAnswers; got["i1"] != 1 || got["i2"] != 3 {
		t.Errorf("answers changed: %v", got)
	}
}

func hasChoiceID(r bot.Reply, id string) bool {
	for _, c := range r.Choices {
		if c.ID == id {
			return true
		}
	}
	return false
}

// TestAssessTyped checks typed answers: option words, numbers as on the
// paper form, words naming one option, and text that names none.
func TestAssessTyped(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	p := plan{items: map[string]map[string]int{"phq9": phq(), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs}, choices: fits}
	drive(t, h, p, "phq9")
	steps := []struct {
		text   string
		item   string // the item answered, "" for none
		value  int
		misses int
	}{
		{"several days", "i1", 1, 0},
		{"2", "i2", 2, 0},
		{"Nearly every day.", "i3", 3, 0},
		{"hmm, not sure", "", 0, 1},
		{"5", "", 0, 2},
		{"day", "", 0, 3},
		{"0", "i4", 0, 0},
		{"every day", "i5", 3, 0},
	}
	for _, s := range steps {
		before := h.State()
		out := h.Say(s.text)
		after := h.State()
		if s.item == "" {
			if after.Item != before.Item || len(after.ItemAnswers) != len(before.ItemAnswers) {
				t.Errorf("%q was taken as an answer: %v", s.text, after.ItemAnswers)
			}
			text := replyTexts([]bot.Output{out})
			if !strings.Contains(text, "type a number from 0") {
				t.Errorf("%q: no invalid-answer message with the hint: %q", s.text, text)
			}
			if (after.Misses > 0 && after.Misses%3 == 0) != strings.Contains(text, h.Spec.Messages.OfferHuman) {
				t.Errorf("%q: misses %d, offer of a person %v", s.text, after.Misses, strings.Contains(text, h.Spec.Messages.OfferHuman))
			}
			continue
		}
		if got, ok := after.ItemAnswers[s.item]; !ok || got != s.value {
			t.Errorf("%q: %s = %d (answered %v), want %d", s.text, s.item, got, ok, s.value)
		}
		if after.Misses != 0 {
			t.Errorf("%q: misses %d after a valid answer", s.text, after.Misses)
		}
	}
	// A question mid-instrument is answered, then the item asked again.
	out := h.Say("what is IOP?")
	if len(out.Replies) < 2 || out.Replies[0].Kind != bot.KindFAQ || h.State().Item != "i6" {
		t.Errorf("a question mid-instrument: %q, item %q", replyTexts([]bot.Output{out}), h.State().Item)
	}
}

// TestAssessSurvivesRestart checks that an instrument under way resumes
// after a process restart, from the stored state.
func TestAssessSurvivesRestart(t *testing.T) {
	h := bottest.NewHarness(t, mustSpec(t))
	p := plan{items: map[string]map[string]int{"phq9": phq(2, 2, 2, 2, 2, 2, 2, 0, 0), "gad7": gad(0, 0), "auditc": noAlcohol, "drugs": noDrugs}, choices: fits}
	drive(t, h, p, "phq9")
	for _, id := range []string{"i1", "i2", "i3"} {
		h.Tap(optionChoice(t, h.Spec, "phq9", id, 2))
	}
	h.Restart()
	if out := h.Tap("resume"); !strings.Contains(replyTexts([]bot.Output{out}), "Feeling tired") {
		t.Errorf("after a restart, item 4 is not asked: %q", replyTexts([]bot.Output{out}))
	}
	drive(t, h, p, "")
	if s := h.Store.Intakes[0].Scores["phq9"]; s.Total != 14 || s.Band != "moderate" {
		t.Errorf("PHQ-9 %d %s, want 14 moderate", s.Total, s.Band)
	}
}
