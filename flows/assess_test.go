package flows_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"intakebot/flows"
)

// shipped loads the shipped flows.yaml.
func shipped(tb testing.TB) *flows.Spec {
	tb.Helper()
	spec, err := flows.Load("../flows.yaml")
	if err != nil {
		tb.Fatalf("load flows.yaml: %v", err)
	}
	return spec
}

func instrument(tb testing.TB, spec *flows.Spec, id string) *flows.Instrument {
	tb.Helper()
	in := spec.Instrument(id)
	if in == nil {
		tb.Fatalf("flows.yaml has no instrument %q", id)
	}
	return in
}

// env is what the engine gives conditions: answers by field and scores by
// instrument.
func env(answers map[string]any, scores map[string]any) flows.Env {
	if answers == nil {
		answers = map[string]any{}
	}
	if scores == nil {
		scores = map[string]any{}
	}
	return flows.Env{"answers": answers, "scores": scores, "channel": "console", "level": ""}
}

// fill answers every item in order, each as high as the remaining total
// allows, so that the total is exactly total and a gate is passed whenever
// total reaches it.
func fill(tb testing.TB, in *flows.Instrument, total int) map[string]int {
	tb.Helper()
	answers := map[string]int{}
	left := total
	for i := range in.Items {
		it := &in.Items[i]
		_, hi := valueRangeOf(in.ItemOptions(it))
		v := min(hi, left)
		answers[it.ID] = v
		left -= v
	}
	if left != 0 {
		tb.Fatalf("%s cannot total %d", in.ID, total)
	}
	return answers
}

func valueRangeOf(opts []flows.Option) (lo, hi int) {
	for i, o := range opts {
		if i == 0 || o.Value < lo {
			lo = o.Value
		}
		if i == 0 || o.Value > hi {
			hi = o.Value
		}
	}
	return lo, hi
}

// run plays an instrument item by item the way the engine does, answering
// from script, and returns the items asked in order and the final result.
func run(tb testing.TB, in *flows.Instrument, script map[string]int, e flows.Env) ([]string, flows.Result) {
	tb.Helper()
	answers := map[string]int{}
	var asked []string
	for range 50 {
		it := in.Next(answers, e)
		if it == nil {
			return asked, in.Score(answers, e)
		}
		v, ok := script[it.ID]
		if !ok {
			tb.Fatalf("%s asked %q, which the script does not answer (asked so far: %v)", in.ID, it.ID, asked)
		}
		asked = append(asked, it.ID)
		answers[it.ID] = v
	}
	tb.Fatalf("%s never finished", in.ID)
	return nil, flows.Result{}
}

// TestSeverityBands checks every band boundary against the published
// tables: PHQ-9 (Kroenke 2001) 0–4 minimal, 5–9 mild, 10–14 moderate, 15–19
// moderately severe, 20–27 severe; GAD-7 (Spitzer 2006) 0–4 minimal, 5–9
// mild, 10–14 moderate, 15–21 severe; both positive from 10.
func TestSeverityBands(t *testing.T) {
	spec := shipped(t)
	tests := []struct {
		instrument string
		total      int
		band       string
		positive   bool
	}{
		{"phq9", 3, "minimal", false},
		{"phq9", 4, "minimal", false},
		{"phq9", 5, "mild", false},
		{"phq9", 9, "mild", false},
		{"phq9", 10, "moderate", true},
		{"phq9", 14, "moderate", true},
		{"phq9", 15, "moderately severe", true},
		{"phq9", 19, "moderately severe", true},
		{"phq9", 20, "severe", true},
		{"phq9", 27, "severe", true},
		{"gad7", 3, "minimal", false},
		{"gad7", 4, "minimal", false},
		{"gad7", 5, "mild", false},
		{"gad7", 9, "mild", false},
		{"gad7", 10, "moderate", true},
		{"gad7", 14, "moderate", true},
		{"gad7", 15, "severe", true},
		{"gad7", 21, "severe", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%d", tc.instrument, tc.total), func(t *testing.T) {
			in := instrument(t, spec, tc.instrument)
			answers := fill(t, in, tc.total)
			if it := in.Next(answers, env(nil, nil)); it != nil {
				t.Fatalf("all items answered, but Next asks %q", it.ID)
			}
			r := in.Score(answers, env(nil, nil))
			if r.Total != tc.total || r.Band != tc.band || r.Positive != tc.positive || r.Screen {
				t.Errorf("got total %d band %q positive %v screen %v, want %d %q %v false",
					r.Total, r.Band, r.Positive, r.Screen, tc.total, tc.band, tc.positive)
			}
			if r.Triage != "" {
				t.Errorf("triage %q for a total alone", r.Triage)
			}
		})
	}
}

// TestGates checks the PHQ-2 and GAD-2 gates: a screen total of 2 or less
// asks only the two screening items; 3 or more asks the full instrument.
func TestGates(t *testing.T) {
	spec := shipped(t)
	tests := []struct {
		instrument string
		first      [2]int
		full       bool
	}{
		{"phq9", [2]int{0, 0}, false},
		{"phq9", [2]int{1, 1}, false},
		{"phq9", [2]int{2, 0}, false},
		{"phq9", [2]int{0, 2}, false},
		{"phq9", [2]int{2, 1}, true},
		{"phq9", [2]int{0, 3}, true},
		{"phq9", [2]int{3, 3}, true},
		{"gad7", [2]int{1, 1}, false},
		{"gad7", [2]int{0, 2}, false},
		{"gad7", [2]int{1, 2}, true},
		{"gad7", [2]int{3, 0}, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%d+%d", tc.instrument, tc.first[0], tc.first[1]), func(t *testing.T) {
			in := instrument(t, spec, tc.instrument)
			script := map[string]int{}
			for i, it := range in.Items {
				script[it.ID] = 0
				if i < 2 {
					script[it.ID] = tc.first[i]
				}
			}
			asked, r := run(t, in, script, env(nil, nil))
			wantAsked := 2
			if tc.full {
				wantAsked = len(in.Items)
			}
			if len(asked) != wantAsked {
				t.Fatalf("asked %v, want %d items", asked, wantAsked)
			}
			if !slices.Equal(asked[:2], []string{in.Items[0].ID, in.Items[1].ID}) {
				t.Errorf("the screening items come first: asked %v", asked)
			}
			screenTotal := tc.first[0] + tc.first[1]
			if r.Screen == tc.full || r.Total != screenTotal {
				t.Errorf("screen %v total %d, want screen %v total %d", r.Screen, r.Total, !tc.full, screenTotal)
			}
			if !tc.full && (r.Band != flows.BandNegativeScreen || r.Positive) {
				t.Errorf("a screen below the gate reads %q positive %v, want %q and not positive", r.Band, r.Positive, flows.BandNegativeScreen)
			}
		})
	}
}

// TestAUDITC checks the AUDIT-C cut-offs: positive from 4 for men and 3
// for women, and the conservative 3, noted for staff, when sex is unknown.
func TestAUDITC(t *testing.T) {
	spec := shipped(t)
	in := instrument(t, spec, "auditc")
	tests := []struct {
		sex      string // "" for not answered
		total    int
		positive bool
		note     string
	}{
		{"male", 2, false, "≥4 (men)"},
		{"male", 3, false, "≥4 (men)"},
		{"male", 4, true, "≥4 (men)"},
		{"female", 2, false, "≥3 (women)"},
		{"female", 3, true, "≥3 (women)"},
		{"female", 4, true, "≥3 (women)"},
		{"unknown", 2, false, "conservative"},
		{"unknown", 3, true, "conservative"},
		{"", 2, false, "conservative"},
		{"", 3, true, "conservative"},
		{"", 4, true, "conservative"},
		{"male", 12, true, "≥4 (men)"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%d", tc.sex, tc.total), func(t *testing.T) {
			answers := map[string]any{}
			if tc.sex != "" {
				answers["sex"] = tc.sex
			}
			e := env(answers, nil)
			r := in.Score(fill(t, in, tc.total), e)
			if r.Total != tc.total || r.Positive != tc.positive {
				t.Errorf("total %d positive %v, want %d %v", r.Total, r.Positive, tc.total, tc.positive)
			}
			wantBand := flows.BandNegative
			if tc.positive {
				wantBand = flows.BandPositive
			}
			if r.Band != wantBand {
				t.Errorf("band %q, want %q", r.Band, wantBand)
			}
			if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q do not record the cut-off used (%q)", r.Notes, tc.note)
			}
		})
	}
	t.Run("never skips the quantity questions", func(t *testing.T) {
		asked, r := run(t, in, map[string]int{"freq": 0}, env(nil, nil))
		if !slices.Equal(asked, []string{"freq"}) || r.Total != 0 || r.Positive {
			t.Errorf("asked %v, total %d positive %v; want only freq, 0, negative", asked, r.Total, r.Positive)
		}
		asked, _ = run(t, in, map[string]int{"freq": 1, "typical": 0, "six_plus": 0}, env(nil, nil))
		if !slices.Equal(asked, []string{"freq", "typical", "six_plus"}) {
			t.Errorf("a drinker is asked %v, want all three", asked)
		}
	})
}

// TestDrugScreen checks the single-question drug screen: positive from 1.
func TestDrugScreen(t *testing.T) {
	in := instrument(t, shipped(t), "drugs")
	for _, tc := range []struct {
		value    int
		positive bool
	}{{0, false}, {1, true}, {2, true}} {
		r := in.Score(map[string]int{"times": tc.value}, env(nil, nil))
		if r.Positive != tc.positive {
			t.Errorf("times=%d: positive %v, want %v", tc.value, r.Positive, tc.positive)
		}
	}
}

// TestCSSRS plays every branch of the C-SSRS screener: the items asked (2
// = no skips 3–5; behavior no skips the 3-month question; a crisis answer
// stops at once) and the published triage.
func TestCSSRS(t *testing.T) {
	in := instrument(t, shipped(t), "cssrs")
	const y, n = 1, 0
	tests := []struct {
		name   string
		script map[string]int
		asked  []string
		triage string
		rule   string
		band   string
	}{
		{"all no", map[string]int{"wish": n, "thoughts": n, "behavior": n},
			[]string{"wish", "thoughts", "behavior"}, "", "", "no risk indicated"},
		{"wish to be dead only", map[string]int{"wish": y, "thoughts": n, "behavior": n},
			[]string{"wish", "thoughts", "behavior"}, "urgent", "cssrs-wish", "low risk"},
		{"thoughts without method, intent or plan", map[string]int{"wish": y, "thoughts": y, "method": n, "intent": n, "plan": n, "behavior": n},
			[]string{"wish", "thoughts", "method", "intent", "plan", "behavior"}, "urgent", "cssrs-thoughts", "low risk"},
		{"method without intent or plan", map[string]int{"wish": y, "thoughts": y, "method": y, "intent": n, "plan": n, "behavior": n},
			[]string{"wish", "thoughts", "method", "intent", "plan", "behavior"}, "urgent", "cssrs-method", "moderate risk"},
		{"intent stops at once", map[string]int{"wish": y, "thoughts": y, "method": y, "intent": y},
			[]string{"wish", "thoughts", "method", "intent"}, "crisis", "cssrs-intent", "high risk"},
		{"intent without a method", map[string]int{"wish": n, "thoughts": y, "method": n, "intent": y},
			[]string{"wish", "thoughts", "method", "intent"}, "crisis", "cssrs-intent", "high risk"},
		{"plan without intent", map[string]int{"wish": y, "thoughts": y, "method": y, "intent": n, "plan": y},
			[]string{"wish", "thoughts", "method", "intent", "plan"}, "crisis", "cssrs-plan", "high risk"},
		{"behavior within 3 months", map[string]int{"wish": n, "thoughts": n, "behavior": y, "behavior_3mo": y},
			[]string{"wish", "thoughts", "behavior", "behavior_3mo"}, "crisis", "cssrs-behavior-3mo", "high risk"},
		{"behavior longer ago", map[string]int{"wish": n, "thoughts": n, "behavior": y, "behavior_3mo": n},
			[]string{"wish", "thoughts", "behavior", "behavior_3mo"}, "urgent", "cssrs-behavior", "moderate risk"},
		{"thoughts and old behavior", map[string]int{"wish": y, "thoughts": y, "method": n, "intent": n, "plan": n, "behavior": y, "behavior_3mo": n},
			[]string{"wish", "thoughts", "method", "intent", "plan", "behavior", "behavior_3mo"}, "urgent", "cssrs-behavior", "moderate risk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked, r := run(t, in, tc.script, env(nil, nil))
			if !slices.Equal(asked, tc.asked) {
				t.Errorf("asked %v, want %v", asked, tc.asked)
			}
			if r.Triage != tc.triage || r.TriageRule != tc.rule || r.Band != tc.band {
				t.Errorf("triage %q rule %q band %q, want %q %q %q", r.Triage, r.TriageRule, r.Band, tc.triage, tc.rule, tc.band)
			}
			if tc.triage == "crisis" && r.Category != "suicide" {
				t.Errorf("crisis category %q, want suicide", r.Category)
			}
			if tc.triage != "" && len(r.Notes) == 0 {
				t.Errorf("no reason recorded for staff")
			}
		})
	}
}

// TestPHQ9Item9 checks that the C-SSRS step follows PHQ-9 item 9 above 0
// only, and copes with a PHQ-9 that stopped at the PHQ-2 screen or never
// ran.
func TestPHQ9Item9(t *testing.T) {
	spec := shipped(t)
	st := spec.Flow("intake").Step("cssrs")
	if st == nil {
		t.Fatal("the intake flow has no cssrs step")
	}
	phq := func(items map[string]any) map[string]any {
		return map[string]any{"phq9": map[string]any{"total": 0, "items": items, "done": true}}
	}
	tests := []struct {
		name   string
		scores map[string]any
		want   bool
	}{
		{"no PHQ-9", nil, false},
		{"PHQ-2 screen only", phq(map[string]any{"i1": 1, "i2": 1}), false},
		{"item 9 is 0", phq(map[string]any{"i1": 2, "i2": 2, "i9": 0}), false},
		{"item 9 is 1", phq(map[string]any{"i1": 2, "i2": 2, "i9": 1}), true},
		{"item 9 is 3", phq(map[string]any{"i1": 2, "i2": 2, "i9": 3}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.Applies(env(nil, tc.scores))
			if err != nil || got != tc.want {
				t.Errorf("applies %v (%v), want %v", got, err, tc.want)
			}
		})
	}
	// The note for staff.
	in := instrument(t, spec, "phq9")
	r := in.Score(map[string]int{"i1": 2, "i2": 2, "i9": 1}, env(nil, nil))
	if r.Triage != "" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "item 9") {
		t.Errorf("item 9 above 0: triage %q notes %q, want a note only", r.Triage, r.Notes)
	}
}

// TestOptionByText checks typed answers to items.
func TestOptionByText(t *testing.T) {
	spec := shipped(t)
	tests := []struct {
		instrument, item, text string
		want                   string // option id, "" for not understood
	}{
		{"phq9", "i1", "several days", "several_days"},
		{"phq9", "i1", "Several days.", "several_days"},
		{"phq9", "i1", "NEARLY EVERY DAY", "nearly_every_day"},
		{"phq9", "i1", "every day", "nearly_every_day"},
		{"phq9", "i1", "more than half", "more_than_half"},
		{"phq9", "i1", "not at all really", "not_at_all"},
		{"phq9", "i1", "0", "not_at_all"},
		{"phq9", "i1", "2", "more_than_half"}, // the paper form's score
		{"phq9", "i1", "3", "nearly_every_day"},
		{"phq9", "i1", "4", ""},
		{"phq9", "i1", "day", ""},
		{"phq9", "i1", "several days, maybe nearly every day", ""},
		{"phq9", "i1", "what is IOP?", ""},
		{"gad7", "g1", "1", "several_days"},
		{"cssrs", "wish", "yes", "yes"},
		{"cssrs", "wish", "Yeah", "yes"},
		{"cssrs", "wish", "no i haven't", "no"},
		{"cssrs", "wish", "nope", "no"},
		{"cssrs", "wish", "yes and no", ""},
		{"cssrs", "wish", "maybe", ""},
		{"auditc", "freq", "2", "monthly"}, // position: the second button
		{"auditc", "freq", "never", "never"},
		{"auditc", "typical", "3 or 4", "three_four"},
		{"drugs", "times", "0", "never"},
		{"drugs", "times", "1", "once"},
		{"drugs", "times", "7", "more"},
		{"drugs", "times", "once", "once"},
	}
	for _, tc := range tests {
		t.Run(tc.instrument+"/"+tc.text, func(t *testing.T) {
			in := instrument(t, spec, tc.instrument)
			var item *flows.Item
			for i := range in.Items {
				if in.Items[i].ID == tc.item {
					item = &in.Items[i]
				}
			}
			o, ok := in.OptionByText(item, tc.text)
			got := ""
			if ok {
				got = o.ID
			}
			if got != tc.want {
				t.Errorf("%q read as %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// TestClassifyRules checks the level-of-care rules in flows.yaml: each
// rule of the guide, and conditions that cope with instruments that never
// ran.
func TestClassifyRules(t *testing.T) {
	st := shipped(t).Flow("intake").Step("level")
	if st == nil {
		t.Fatal("the intake flow has no level step")
	}
	score := func(total int, positive bool) map[string]any {
		return map[string]any{"total": total, "positive": positive, "triage": "", "done": true, "items": map[string]any{}}
	}
	fit := map[string]any{"daily": "yes", "safe_home": "yes", "medical": "no", "more_support": "yes"}
	with := func(m map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		answers map[string]any
		scores  map[string]any
		rule    string // "" for the default
		level   string
	}{
		{"C-SSRS crisis", fit, map[string]any{"phq9": score(20, true), "cssrs": map[string]any{"triage": "crisis"}}, "imminent-risk", "crisis"},
		{"needs medical monitoring", with(fit, "medical", "yes"), map[string]any{"phq9": score(14, true)}, "medical-instability", "higher_care"},
		{"not safe at home", with(fit, "safe_home", "no"), map[string]any{"phq9": score(14, true)}, "not-safe-at-home", "higher_care"},
		{"cannot care for self", with(fit, "daily", "no"), map[string]any{"gad7": score(16, true)}, "cannot-care-for-self", "higher_care"},
		{"IOP, depression", fit, map[string]any{"phq9": score(14, true), "gad7": score(4, false)}, "iop", "iop"},
		{"IOP at PHQ-9 10", fit, map[string]any{"phq9": score(10, true)}, "iop", "iop"},
		{"IOP, anxiety, not sure", with(fit, "daily", "unsure", "more_support", "unsure"), map[string]any{"phq9": score(2, false), "gad7": score(10, true)}, "iop", "iop"},
		{"IOP, dual diagnosis (alcohol)", fit, map[string]any{"phq9": score(14, true), "auditc": score(5, true)}, "iop-dual", "iop_dual"},
		{"IOP, dual diagnosis (drugs)", fit, map[string]any{"gad7": score(12, true), "drugs": score(1, true)}, "iop-dual", "iop_dual"},
		{"negative substance screens", fit, map[string]any{"gad7": score(12, true), "auditc": score(2, false), "drugs": score(0, false)}, "iop", "iop"},
		{"moderate, weekly enough", with(fit, "more_support", "no"), map[string]any{"phq9": score(12, true)}, "moderate-weekly-enough", "outpatient"},
		{"mild at PHQ-9 9", fit, map[string]any{"phq9": score(9, false), "gad7": score(9, false)}, "mild", "outpatient"},
		{"screens only", fit, map[string]any{"phq9": score(2, false), "gad7": score(1, false)}, "mild", "outpatient"},
		{"nothing answered", nil, nil, "mild", "outpatient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := st.Classify(env(tc.answers, tc.scores))
			if err != nil {
				t.Fatal(err)
			}
			got, level := "", st.Default
			if r != nil {
				got, level = r.ID, r.Level
			}
			if got != tc.rule || level != tc.level {
				t.Errorf("rule %q level %q, want %q %q", got, level, tc.rule, tc.level)
			}
		})
	}
	if got := st.RuleFields(); !slices.Equal(got, []string{"medical", "safe_home", "daily", "more_support"}) {
		t.Errorf("RuleFields = %v", got)
	}
}

// TestAssessmentValidation breaks the shipped file one way at a time and
// checks that validate names the line of the mistake.
func TestAssessmentValidation(t *testing.T) {
	base, err := os.ReadFile("../flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string // new must be unique in the broken file: its line is the expected one
		msg      string
	}{
		{"bands out of order", `{min: 15, label: "moderately severe"}`, `{min: 9, label: "moderately severe"}`, "band mins must go up"},
		{"band above the maximum", `{min: 15, label: "severe"}`, `{min: 22, label: "severe"}`, "above the highest possible total 21"},
		{"first band too high", `{min: 0, label: "minimal"}
      - {min: 5, label: "mild"}
      - {min: 10, label: "moderate"}
      - {min: 15, label: "moderately severe"}`, `{min: 1, label: "minimal"}
      - {min: 5, label: "mild"}
      - {min: 10, label: "moderate"}
      - {min: 15, label: "moderately severe"}`, "the first band must start at the lowest total"},
		{"gate never reached", `gate: {items: 2, min: 3, title: "PHQ-2"}`, `gate: {items: 2, min: 7, title: "PHQ-2"}`, "gate.min 7"},
		{"gate too long", `gate: {items: 2, min: 3, title: "GAD-2"}`, `gate: {items: 7, min: 3, title: "GAD-2"}`, "gate.items must be between 1 and 6"},
		{"cut-off out of range", `- {min: 1}`, `- {min: 3}`, "cut-off 3 is outside"},
		{"item condition on a later item", `{id: method, if: "items.thoughts == 1"`, `{id: method, if: "items.plan == 1"`, "not an earlier item"},
		{"item condition that fails when unanswered", `if: "(items.freq ?? 0) > 0"
        text: "How many standard drinks`, `if: "items.freq > 0"
        text: "How many standard drinks`, "fails when an answer or score is missing"},
		{"classify condition that fails before the PHQ-9 ran", `if: '(scores.phq9?.total ?? 0) < 10 && (scores.gad7?.total ?? 0) < 10'`, `if: 'scores.phq9.total < 10 && (scores.gad7?.total ?? 0) < 10'`, "fails when an answer or score is missing"},
		{"classify condition on a missing field", `if: 'answers.medical == "yes"'`, `if: 'answers.medicall == "yes"'`, "missing field answers.medicall"},
		{"classify condition on a missing instrument", `if: 'scores.cssrs?.triage == "crisis"'`, `if: 'scores.cssrss?.triage == "crisis"'`, "missing instrument scores.cssrss"},
		{"crisis triage with an unknown category", `result: crisis, category: suicide, band: "high risk", reason: "C-SSRS: worked`, `result: crisis, category: suicid, band: "high risk", reason: "C-SSRS: worked`, "crisis category"},
		{"unknown triage result", `result: urgent, band: "low risk", reason: "C-SSRS: wished`, `result: urgnet, band: "low risk", reason: "C-SSRS: wished`, "triage result must be"},
		{"triage without a condition", `{id: cssrs-wish, if: "items.wish == 1",`, `{id: cssrs-wish,`, "needs a condition"},
		{"duplicate triage id", `{id: cssrs-wish, if: "items.wish == 1"`, `{id: cssrs-plan, if: "items.wish == 1"`, "duplicate"},
		{"item id with a dash", `{id: i5, text:`, `{id: i-5, text:`, "no -"},
		{"negative option value", `{id: once, label: "Once", value: 1`, `{id: once, label: "Once", value: -1`, "cannot be negative"},
		{"typed_numbers typo", `typed_numbers: count`, `typed_numbers: counts`, "typed_numbers must be"},
		{"cut-off after an unconditional one", `- {min: 3, note: "AUDIT-C cut-off ≥3: sex not given`, `- {min: 3}
      - {min: 3, note: "AUDIT-C cut-off ≥3: sex not given`, "never used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(string(base), tc.old) != 1 {
				t.Fatalf("flows.yaml holds %q %d times, want once", tc.old, strings.Count(string(base), tc.old))
			}
			broken := strings.Replace(string(base), tc.old, tc.new, 1)
			line := 1 + strings.Count(broken[:strings.Index(broken, tc.new)], "\n")
			_, err := flows.Parse("broken.yaml", []byte(broken))
			var verr *flows.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("validate accepted the broken file (err %v)", err)
			}
			for _, p := range verr.Problems {
				if strings.Contains(p.Msg, tc.msg) {
					if p.Line < line || p.Line > line+strings.Count(tc.new, "\n") {
						t.Errorf("problem %q is on line %d, want %d", p.Msg, p.Line, line)
					}
					return
				}
			}
			t.Errorf("no problem mentions %q:\n%v", tc.msg, err)
		})
	}
}

// TestSubstanceScreensOptional follows the flows.yaml instructions for a
// program without a dual-diagnosis track: the substance use screens can be
// asked only of people who mention substance use, or removed altogether.
func TestSubstanceScreensOptional(t *testing.T) {
	base, err := os.ReadFile("../flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cut := func(s, from, to string) string {
		t.Helper()
		i := strings.Index(s, from)
		j := strings.Index(s[max(i, 0):], to)
		if i < 0 || j < 0 {
			t.Fatalf("flows.yaml has no %q … %q", from, to)
		}
		return s[:i] + s[i+j:]
	}
	t.Run("removed", func(t *testing.T) {
		s := string(base)
		s = cut(s, "  # Substance use, for programs", "\n# Levels of care")
		s = cut(s, "      # Substance use (optional per program", "      # Daily functioning")
		s = cut(s, "          - id: iop-dual\n", "          - id: iop\n")
		spec, err := flows.Parse("no-substance.yaml", []byte(s))
		if err != nil {
			t.Fatalf("the instructions leave an invalid file:\n%v", err)
		}
		if spec.Instrument("auditc") != nil || spec.Flow("intake").Step("sex") != nil {
			t.Error("the screens are still there")
		}
	})
	t.Run("only when substance use is mentioned", func(t *testing.T) {
		s := string(base)
		for _, id := range []string{"sex", "auditc", "drugs"} {
			old := "      - id: " + id + "\n"
			if strings.Count(s, old) != 1 {
				t.Fatalf("flows.yaml has %d steps %q", strings.Count(s, old), id)
			}
			s = strings.Replace(s, old, old+`        if: '"substance" in (answers.concerns ?? [])'`+"\n", 1)
		}
		spec, err := flows.Parse("substance-if.yaml", []byte(s))
		if err != nil {
			t.Fatalf("the instructions leave an invalid file:\n%v", err)
		}
		st := spec.Flow("intake").Step("auditc")
		for _, tc := range []struct {
			concerns any
			want     bool
		}{{[]string{"anxiety"}, false}, {[]string{"anxiety", "substance"}, true}, {nil, false}} {
			answers := map[string]any{}
			if tc.concerns != nil {
				answers["concerns"] = tc.concerns
			}
			if got, err := st.Applies(env(answers, nil)); err != nil || got != tc.want {
				t.Errorf("concerns %v: applies %v (%v), want %v", tc.concerns, got, err, tc.want)
			}
		}
	})
}

// forbidden are ways the bot must never describe itself: it is an
// automated assistant, never a therapist, counselor or clinician, never
// diagnoses and never offers therapy.
var forbidden = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bI(?:'m|’m| am)\s+(?:a|an|your)\s+(?:\w+\s+)?(?:therapist|counsel+or|clinician|psychologist|psychiatrist|doctor|nurse|social worker|coach)\b`),
	regexp.MustCompile(`(?i)\bI(?:'m|’m| am)\s+(?:a\s+)?(?:licensed|certified|trained)\b`),
	regexp.MustCompile(`(?i)\bI(?:'ll|’ll| will| can| could)\s+(?:\w+\s+)?(?:diagnose|treat you|prescribe|provide therapy|give you therapy|counsel you|be your therapist)`),
	regexp.MustCompile(`(?i)\b(?:therapy|counsel+ing|treatment)\s+(?:session\s+)?with me\b`),
	regexp.MustCompile(`(?i)\bmy\s+(?:therapy|counsel+ing|clinical)\s+(?:session|service|practice)`),
	regexp.MustCompile(`(?i)\b(?:your diagnosis is|I diagnose you|you (?:are|have been) diagnosed with|this (?:means|shows) (?:that )?you have)\b`),
}

// diagnosis finds a statement that the person has a condition ("you have
// depression"); the word before it tells a statement from a condition ("if
// you have depression, …").
var diagnosis = regexp.MustCompile(`(?i)(\w+)?\W*\byou(?:'ve| have| clearly have| probably have| likely have| suffer from| are suffering from)\s+(?:got\s+)?(?:\w+\s+)?(?:depression|anxiety|ptsd|bipolar|an? (?:\w+ )?disorder)\b`)

var conditional = map[string]bool{"if": true, "whether": true, "when": true, "while": true, "unless": true, "whatever": true}

// userSide are fields holding what people type, not what the bot says.
var userSide = map[string]bool{"Questions": true, "Keywords": true, "Phrases": true, "Patterns": true, "Benign": true,
	"Synonyms": true, "Aliases": true, "Normalize": true, "If": true, "ID": true, "Intents": true}

// TestForbiddenSelfDescriptions scans every text of flows.yaml (messages,
// FAQ answers, step texts, instruments, levels, consent, safety) for
// forbidden self-descriptions, and checks the scanner on known-bad texts.
func TestForbiddenSelfDescriptions(t *testing.T) {
	bad := []string{
		"I am a therapist and can help.", "I'm a licensed counselor.", "I’m your clinician today.",
		"I can diagnose what you have.", "Book a therapy session with me.", "I will provide therapy here.",
		"Based on your answers, you have depression.", "I am trained in CBT.", "I'm an experienced therapist",
		"You clearly have an anxiety disorder.", "Your diagnosis is PTSD.", "This means you have bipolar disorder.",
	}
	for _, s := range bad {
		if !forbiddenIn(s) {
			t.Errorf("the scanner misses %q", s)
		}
	}
	good := []string{
		"I'm an automated assistant, not a person and not a clinician.", "are you a therapist",
		"I can't give medical advice or a diagnosis.", "group therapy, individual therapy and psychiatric care",
		"The team may talk with you about weekly outpatient therapy.",
		"If you have depression or anxiety, IOP can help.", "Ask whether you have an anxiety disorder track.",
	}
	for _, s := range good {
		if forbiddenIn(s) {
			t.Errorf("the scanner flags %q", s)
		}
	}
	spec := shipped(t)
	n := 0
	eachString(reflect.ValueOf(spec).Elem(), "", func(path, s string) {
		n++
		if forbiddenIn(s) {
			t.Errorf("%s: forbidden self-description in %q", path, s)
		}
	})
	if n < 100 {
		t.Errorf("scanned only %d texts: the walker misses parts of the spec", n)
	}
	// The bot says what it is.
	for _, s := range []string{spec.Messages.Welcome, spec.Messages.BotDisclosure, spec.Messages.LongDisclosure} {
		if !strings.Contains(strings.ToLower(s), "automated assistant") {
			t.Errorf("%q does not say the bot is an automated assistant", s)
		}
	}
}

func forbiddenIn(s string) bool {
	for _, re := range forbidden {
		if re.MatchString(s) {
			return true
		}
	}
	for _, m := range diagnosis.FindAllStringSubmatch(s, -1) {
		if !conditional[strings.ToLower(m[1])] {
			return true
		}
	}
	return false
}

// eachString calls fn with every exported string in v (struct fields,
// slices, maps) that the bot says, named by its path: fields holding what
// people type (example questions, phrases, aliases) are skipped.
func eachString(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			eachString(v.Elem(), path, fn)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() && !userSide[f.Name] {
				eachString(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			eachString(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			eachString(iter.Value(), fmt.Sprintf("%s[%v]", path, iter.Key()), fn)
		}
	case reflect.String:
		fn(path, v.String())
	}
}
