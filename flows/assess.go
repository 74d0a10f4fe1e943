package flows

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Instrument is a validated self-assessment questionnaire (PHQ-9, GAD-7,
// the C-SSRS screener, AUDIT-C, …) scored by fixed rules written in
// flows.yaml, never by a model. Everything a clinician may want to check (the
// gate, the severity bands, the cut-offs, the triage) is data, so the file
// reads like the published scoring table.
type Instrument struct {
	ID string `yaml:"id"`
	// Title names the instrument in the staff trace ("PHQ-9").
	Title string `yaml:"title"`
	// Source cites the published instrument and its scoring, for reviewers.
	Source string `yaml:"source"`
	// Intro is said once before the first item.
	Intro string `yaml:"intro"`
	// Hint follows the intro: how to answer (tap, or type a number).
	Hint string `yaml:"hint"`
	// TypedNumbers says how a typed number is read: "position" (the n-th
	// option, the default), "value" (the option scoring n, as on the paper
	// form: 0 = Not at all … 3 = Nearly every day) or "count" (a number of
	// times: the option with the highest value not above n).
	TypedNumbers string `yaml:"typed_numbers"`
	// HideTotal leaves the sum out of the staff trace, for instruments whose
	// items are not summed (the C-SSRS screener).
	HideTotal bool `yaml:"hide_total"`
	// Options are the answer options shared by every item unless an item
	// has its own.
	Options []Option `yaml:"options"`
	Items   []Item   `yaml:"items"`
	// Gate makes the first items a screen: the remaining items are asked
	// only when the screen's total reaches Min (PHQ-2 before the PHQ-9).
	Gate *Gate `yaml:"gate"`
	// Bands name the severity of a total: the band with the highest Min not
	// above the total applies.
	Bands []Band `yaml:"bands"`
	// Positive holds the cut-offs for a positive screen; the first whose
	// condition holds (or that has none) applies.
	Positive []Cutoff `yaml:"positive"`
	// Triage rules raise the crisis protocol, an urgent staff review or a
	// note for staff from particular answers.
	Triage []TriageRule `yaml:"triage"`
	Line   int          `yaml:"-"`
}

// Option is one answer option with its score.
type Option struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
	Value int    `yaml:"value"`
	// Aliases are other words a person may type for this option ("yeah").
	Aliases []string `yaml:"aliases"`
}

// Item is one question of an instrument.
type Item struct {
	ID   string `yaml:"id"`
	Text string `yaml:"text"`
	// If asks the item only when the condition holds; the condition sees
	// the instrument's own answers so far as items.<id>, besides answers
	// and scores. A skipped item scores 0.
	If      string   `yaml:"if"`
	Options []Option `yaml:"options"`

	cond *vm.Program
}

// Gate is the screening part of an instrument.
type Gate struct {
	// Items is how many leading items form the screen.
	Items int `yaml:"items"`
	// Min is the screen total at which the remaining items are asked.
	Min int `yaml:"min"`
	// Title names the screen in the staff trace ("PHQ-2").
	Title string `yaml:"title"`
}

// Band names a range of totals, from Min up to the next band's Min.
type Band struct {
	Min   int    `yaml:"min"`
	Label string `yaml:"label"`
}

// Cutoff is the total at or above which a screen is positive, when its
// condition holds (AUDIT-C: 4 for men, 3 for women).
type Cutoff struct {
	If  string `yaml:"if"`
	Min int    `yaml:"min"`
	// Note is added to the staff trace when this cut-off is the one used.
	Note string `yaml:"note"`

	cond *vm.Program
}

// Triage results, from the most to the least severe.
const (
	// TriageCrisis starts the crisis protocol at once.
	TriageCrisis = "crisis"
	// TriageUrgent asks staff for an urgent review.
	TriageUrgent = "urgent"
	// TriageNote only adds the rule's reason to the staff trace.
	TriageNote = "note"
)

var triageRank = map[string]int{TriageCrisis: 3, TriageUrgent: 2, TriageNote: 1}

// TriageRule acts on particular answers of an instrument.
type TriageRule struct {
	// ID is reported in the crisis event as its rule ("cssrs-intent").
	ID string `yaml:"id"`
	// If is the condition over items.<id>, answers and scores.
	If string `yaml:"if"`
	// Result is crisis, urgent or note.
	Result string `yaml:"result"`
	// Category is the crisis category a crisis result reports ("suicide").
	Category string `yaml:"category"`
	// Band, when given, names the result instead of the total's band
	// ("high risk").
	Band string `yaml:"band"`
	// Reason is what staff read in the trace.
	Reason string `yaml:"reason"`

	cond *vm.Program
}

// Typed-number modes of an instrument.
const (
	NumbersPosition = "position"
	NumbersValue    = "value"
	NumbersCount    = "count"
)

// Band words used when an instrument has no bands of its own.
const (
	BandPositive       = "positive"
	BandNegative       = "negative"
	BandNegativeScreen = "negative screen"
)

// Level is a level of care a classify step can suggest.
type Level struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
	// Participant is the gentle, non-diagnostic sentence the person sees.
	Participant string `yaml:"participant"`
	// Urgency of the handoff for this level: routine or urgent.
	Urgency string `yaml:"urgency"`
	Line    int    `yaml:"-"`
}

// Result is the score of an instrument.
type Result struct {
	Total int
	Band  string
	// Screen is true when only the screening items were asked.
	Screen   bool
	Positive bool
	// Triage is "crisis" (start the crisis protocol now), "urgent" (urgent
	// staff review) or "".
	Triage string
	// TriageRule is the id of the rule that set Triage; Category is its
	// crisis category.
	TriageRule string
	Category   string
	// Notes are the reasons of every triage rule that matched and the note
	// of the cut-off used, in the file's order, for the staff trace.
	Notes []string
}

// Next returns the next item to ask given the answers so far, or nil when
// the instrument is complete: every item answered or skipped, the screen
// below its gate, or a crisis triage (the crisis protocol must not wait for
// more questions).
func (in *Instrument) Next(answers map[string]int, env Env) *Item {
	if in.Score(answers, env).Triage == TriageCrisis {
		return nil
	}
	ienv := in.itemEnv(answers, env)
	for i := range in.Items {
		it := &in.Items[i]
		if _, ok := answers[it.ID]; ok {
			continue
		}
		if in.Gate != nil && i >= in.Gate.Items && in.gateTotal(answers) < in.Gate.Min {
			return nil
		}
		if ok, err := eval(it.cond, ienv); err == nil && !ok {
			// A skipped item scores 0. An item whose condition cannot be
			// evaluated is asked: asking too much is safer than too little.
			continue
		}
		return it
	}
	return nil
}

// gateTotal sums the screening items.
func (in *Instrument) gateTotal(answers map[string]int) int {
	total := 0
	for i := 0; i < in.Gate.Items && i < len(in.Items); i++ {
		total += answers[in.Items[i].ID]
	}
	return total
}

func (in *Instrument) gateAnswered(answers map[string]int) bool {
	for i := 0; i < in.Gate.Items && i < len(in.Items); i++ {
		if _, ok := answers[in.Items[i].ID]; !ok {
			return false
		}
	}
	return true
}

// itemEnv is env with the instrument's answers so far as items.
func (in *Instrument) itemEnv(answers map[string]int, env Env) Env {
	items := make(map[string]any, len(answers))
	for _, it := range in.Items {
		if v, ok := answers[it.ID]; ok {
			items[it.ID] = v
		}
	}
	out := make(Env, len(env)+1)
	maps.Copy(out, env)
	for k, v := range envShape {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	out["items"] = items
	return out
}

// Score scores the answers given (so far): the total of the instrument's
// items, its band, whether the screen is positive, and the triage. It
// works on partial answers too, so the engine can act on a crisis answer
// at once.
func (in *Instrument) Score(answers map[string]int, env Env) Result {
	var r Result
	for _, it := range in.Items {
		r.Total += answers[it.ID]
	}
	ienv := in.itemEnv(answers, env)
	if in.Gate != nil && in.gateAnswered(answers) && in.gateTotal(answers) < in.Gate.Min {
		r.Screen = true
		r.Band = BandNegativeScreen
	} else {
		r.Band = in.band(r.Total)
		for _, c := range in.Positive {
			if ok, err := eval(c.cond, ienv); err == nil && ok {
				r.Positive = r.Total >= c.Min
				if c.Note != "" {
					r.Notes = append(r.Notes, c.Note)
				}
				if len(in.Bands) == 0 {
					r.Band = BandNegative
					if r.Positive {
						r.Band = BandPositive
					}
				}
				break
			}
		}
	}
	rank := 0
	for _, t := range in.Triage {
		ok, err := eval(t.cond, ienv)
		if err != nil || !ok {
			continue
		}
		r.Notes = append(r.Notes, t.Reason)
		if triageRank[t.Result] > rank {
			rank = triageRank[t.Result]
			if t.Result != TriageNote {
				r.Triage, r.TriageRule, r.Category = t.Result, t.ID, t.Category
			}
			if t.Band != "" {
				r.Band = t.Band
			}
		}
	}
	return r
}

// band returns the label of the band total falls in, or "".
func (in *Instrument) band(total int) string {
	label := ""
	for _, b := range in.Bands {
		if total >= b.Min {
			label = b.Label
		}
	}
	return label
}

// ItemOptions returns the options of an item: its own or the instrument's.
func (in *Instrument) ItemOptions(it *Item) []Option {
	if len(it.Options) > 0 {
		return it.Options
	}
	return in.Options
}

// OptionByText reads a typed answer to an item: an option's label, id or
// alias ("several days", "yeah"), a number read as the instrument's
// TypedNumbers says, or text that names exactly one option ("every day",
// "no, never"). It reports false when the text names no option or more than
// one.
func (in *Instrument) OptionByText(it *Item, text string) (Option, bool) {
	opts := in.ItemOptions(it)
	t := simplify(text)
	if t == "" {
		return Option{}, false
	}
	for _, o := range opts {
		if t == simplify(o.Label) || t == simplify(o.ID) {
			return o, true
		}
		for _, a := range o.Aliases {
			if t == simplify(a) {
				return o, true
			}
		}
	}
	if n, err := strconv.Atoi(t); err == nil {
		return in.optionByNumber(opts, n)
	}
	// Text that names exactly one option, by its label or an alias.
	found := -1
	for i, o := range opts {
		names := append([]string{o.Label}, o.Aliases...)
		for _, name := range names {
			l := simplify(name)
			if containsWords(t, l) || (len(t) >= 4 && strings.Contains(l, t)) {
				if found >= 0 && found != i {
					return Option{}, false
				}
				found = i
			}
		}
	}
	if found >= 0 {
		return opts[found], true
	}
	return Option{}, false
}

func (in *Instrument) optionByNumber(opts []Option, n int) (Option, bool) {
	switch in.TypedNumbers {
	case NumbersValue:
		for _, o := range opts {
			if o.Value == n {
				return o, true
			}
		}
	case NumbersCount:
		best := -1
		for i, o := range opts {
			if o.Value <= n && (best < 0 || o.Value > opts[best].Value) {
				best = i
			}
		}
		if n >= 0 && best >= 0 {
			return opts[best], true
		}
	default:
		if n >= 1 && n <= len(opts) {
			return opts[n-1], true
		}
	}
	return Option{}, false
}

// Range returns the lowest and highest total the instrument can score.
func (in *Instrument) Range() (lo, hi int) {
	for i := range in.Items {
		opts := in.ItemOptions(&in.Items[i])
		if len(opts) == 0 {
			continue
		}
		mn, mx := valueRange(opts)
		if in.Items[i].If != "" {
			mn = 0 // a skipped item scores 0
		}
		lo += mn
		hi += mx
	}
	return lo, hi
}

// RuleFields returns the answer fields a classify step's rules look at, in
// the order they first appear, so the staff trace can show the answers the
// suggestion was based on.
func (st *Step) RuleFields() []string {
	var out []string
	for _, r := range st.Rules {
		for _, ref := range condRefs(r.If) {
			if ref.scope == "answers" && !slices.Contains(out, ref.name) {
				out = append(out, ref.name)
			}
		}
	}
	return out
}

// ref is one "<scope>.<name>" a condition mentions (answers.daily,
// scores.phq9, items.q2).
type ref struct{ scope, name string }

type refVisitor struct{ refs []ref }

func (v *refVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok {
		v.refs = append(v.refs, ref{scope: id.Value, name: s.Value})
	}
}

// condRefs lists the answers, scores and items a condition mentions; a
// condition that does not parse mentions nothing (compiling reports it).
func condRefs(src string) []ref {
	if strings.TrimSpace(src) == "" {
		return nil
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	v := &refVisitor{}
	ast.Walk(&tree.Node, v)
	return v.refs
}

// ---- validation ----

// itemIDPattern keeps "-" out of item and option ids: the engine's button
// ids are "<step>.<item>-<option>".
var itemIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

var triageResults = map[string]bool{TriageCrisis: true, TriageUrgent: true, TriageNote: true}

var typedNumbers = map[string]bool{"": true, NumbersPosition: true, NumbersValue: true, NumbersCount: true}

// checkAssessment validates the instruments (items, options, gate, bands,
// cut-offs, triage), the levels of care, the assess and classify steps'
// conditions (each is tried with no answers and no scores, so a condition
// that fails before an instrument has run is caught here rather than in a
// conversation), and, for a Part 2 program, the consent's 42 CFR 2.31(a)
// elements.
func (v *validator) checkAssessment() {
	s := v.spec
	triageIDs := map[string]bool{}
	crisisCats := map[string]bool{}
	for _, c := range s.Safety.Categories {
		crisisCats[c.ID] = true
		for _, r := range c.Rules {
			triageIDs[r.ID] = true
		}
	}
	for i := range s.Instruments {
		v.checkInstrument(&s.Instruments[i], fmt.Sprintf("instruments[%d]", i), triageIDs, crisisCats)
	}
	for i, l := range s.Levels {
		v.require(fmt.Sprintf("levels[%d].label", i), l.Label, "level label")
	}
	for i := range s.Flows {
		f := &s.Flows[i]
		for j := range f.Steps {
			st := &f.Steps[j]
			path := fmt.Sprintf("flows[%d].steps[%d]", i, j)
			switch st.Kind {
			case KindAssess:
				v.tryCond(path+".if", st.If, st.cond, nil)
				v.checkRefs(path+".if", st.If, nil)
			case KindClassify:
				for k := range st.Rules {
					rp := fmt.Sprintf("%s.rules[%d].if", path, k)
					v.tryCond(rp, st.Rules[k].If, st.Rules[k].cond, nil)
					v.checkRefs(rp, st.Rules[k].If, nil)
				}
			}
		}
	}
	v.checkPart2()
}

func (v *validator) checkInstrument(in *Instrument, path string, triageIDs, crisisCats map[string]bool) {
	v.require(path+".title", in.Title, "instrument title")
	if !typedNumbers[in.TypedNumbers] {
		v.errf(path+".typed_numbers", "typed_numbers must be position, value or count, got %q", in.TypedNumbers)
	}
	if len(in.Items) == 0 {
		v.errf(path, "instrument %q has no items", in.ID)
		return
	}
	if len(in.Options) > 0 {
		v.checkOptions(path+".options", in.Options)
	}
	items := map[string]bool{}
	for j := range in.Items {
		it := &in.Items[j]
		ip := fmt.Sprintf("%s.items[%d]", path, j)
		v.checkItemID(ip+".id", it.ID, items, "item")
		v.require(ip+".text", it.Text, "item text")
		if len(it.Options) > 0 {
			v.checkOptions(ip+".options", it.Options)
		} else if len(in.Options) == 0 {
			v.errf(ip, "item %q has no options, and the instrument has none to share", it.ID)
		}
		if it.If != "" {
			if in.Gate != nil && j < in.Gate.Items {
				v.errf(ip+".if", "item %q is part of the screen (gate), which is always asked: it cannot have a condition", it.ID)
			}
			it.cond = v.compileItemCond(ip+".if", it.If)
			v.tryCond(ip+".if", it.If, it.cond, map[string]any{})
			// An item's condition may only look at the items before it.
			before := map[string]bool{}
			for _, prev := range in.Items[:j] {
				before[prev.ID] = true
			}
			v.checkRefs(ip+".if", it.If, before)
		}
	}
	lo, hi := in.Range()
	if g := in.Gate; g != nil {
		gp := path + ".gate"
		if g.Items < 1 || g.Items >= len(in.Items) {
			v.errf(gp+".items", "gate.items must be between 1 and %d (the items before the rest), got %d", len(in.Items)-1, g.Items)
		} else {
			glo, ghi := 0, 0
			for k := 0; k < g.Items; k++ {
				mn, mx := valueRange(in.ItemOptions(&in.Items[k]))
				glo += mn
				ghi += mx
			}
			if g.Min <= glo || g.Min > ghi {
				v.errf(gp+".min", "gate.min %d can never be reached or is always reached: the screen scores %d to %d", g.Min, glo, ghi)
			}
		}
		v.require(gp+".title", g.Title, "gate title")
	}
	for k, b := range in.Bands {
		bp := fmt.Sprintf("%s.bands[%d]", path, k)
		v.require(bp+".label", b.Label, "band label")
		switch {
		case k == 0 && b.Min > lo:
			v.errf(bp+".min", "the first band must start at the lowest total, %d: totals from %d to %d would have no band", lo, lo, b.Min-1)
		case k > 0 && b.Min <= in.Bands[k-1].Min:
			v.errf(bp+".min", "band mins must go up: %d follows %d", b.Min, in.Bands[k-1].Min)
		case b.Min > hi:
			v.errf(bp+".min", "band %q starts at %d, above the highest possible total %d", b.Label, b.Min, hi)
		}
	}
	for k := range in.Positive {
		c := &in.Positive[k]
		cp := fmt.Sprintf("%s.positive[%d]", path, k)
		if c.Min <= lo || c.Min > hi {
			v.errf(cp+".min", "cut-off %d is outside the possible totals (%d to %d)", c.Min, lo, hi)
		}
		if k > 0 && in.Positive[k-1].If == "" {
			v.errf(cp, "this cut-off is never used: the one before it has no condition")
		}
		if c.If != "" {
			c.cond = v.compileItemCond(cp+".if", c.If)
			v.tryCond(cp+".if", c.If, c.cond, map[string]any{})
			v.checkRefs(cp+".if", c.If, items)
		}
	}
	if len(in.Positive) > 0 && in.Positive[len(in.Positive)-1].If != "" {
		v.errf(fmt.Sprintf("%s.positive[%d]", path, len(in.Positive)-1), "the last cut-off needs no condition, so that one always applies (use the conservative one)")
	}
	for k := range in.Triage {
		t := &in.Triage[k]
		tp := fmt.Sprintf("%s.triage[%d]", path, k)
		v.checkID(tp+".id", t.ID, triageIDs, "triage or crisis rule")
		if !triageResults[t.Result] {
			v.errf(tp+".result", "triage result must be crisis, urgent or note, got %q", t.Result)
		}
		if t.Result == TriageCrisis {
			if !crisisCats[t.Category] {
				v.errf(tp+".category", "a crisis triage needs the crisis category it reports, one of safety.categories; got %q", t.Category)
			}
		} else if t.Category != "" {
			v.errf(tp+".category", "only a crisis triage reports a category")
		}
		v.require(tp+".reason", t.Reason, "triage reason")
		if strings.TrimSpace(t.If) == "" {
			v.errf(tp, "triage rule %q needs a condition (if:)", t.ID)
			continue
		}
		t.cond = v.compileItemCond(tp+".if", t.If)
		v.tryCond(tp+".if", t.If, t.cond, map[string]any{})
		v.checkRefs(tp+".if", t.If, items)
	}
}

func valueRange(opts []Option) (lo, hi int) {
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

func (v *validator) checkItemID(path, id string, seen map[string]bool, what string) {
	switch {
	case id == "":
		v.errf(path, "%s id is missing", what)
	case !itemIDPattern.MatchString(id):
		v.errf(path, "%s id %q: use lower-case letters, digits and _ (no -)", what, id)
	case seen[id]:
		v.errf(path, "duplicate %s id %q", what, id)
	}
	seen[id] = true
}

func (v *validator) checkOptions(path string, opts []Option) {
	if len(opts) < 2 {
		v.errf(path, "an item needs at least two options")
	}
	seen := map[string]bool{}
	for k, o := range opts {
		op := fmt.Sprintf("%s[%d]", path, k)
		v.checkItemID(op+".id", o.ID, seen, "option")
		v.require(op+".label", o.Label, "option label")
		if o.Value < 0 {
			v.errf(op+".value", "option values are scores and cannot be negative, got %d", o.Value)
		}
	}
}

// itemShape is what item, cut-off and triage conditions see: the flow's
// env plus the instrument's own answers as items.<id>.
var itemShape = func() map[string]any {
	m := maps.Clone(envShape)
	m["items"] = map[string]any{}
	return m
}()

func (v *validator) compileItemCond(path, src string) *vm.Program {
	p, err := expr.Compile(src, expr.Env(itemShape), expr.AsBool())
	if err != nil {
		v.errf(path, "condition %q: %s", src, firstLine(err.Error()))
		return nil
	}
	return p
}

// tryCond runs a compiled condition with no answers and no scores, then
// with every instrument scored but no item answered (a screen only): a
// condition must cope with both, as `(scores.phq9?.total ?? 0) >= 10` does.
func (v *validator) tryCond(path, src string, p *vm.Program, items map[string]any) {
	if p == nil {
		return
	}
	empty := Env{"answers": map[string]any{}, "scores": map[string]any{}, "channel": "", "level": ""}
	scored := map[string]any{}
	for _, in := range v.spec.Instruments {
		scored[in.ID] = map[string]any{"total": 0, "band": "", "items": map[string]any{}, "screen": true,
			"positive": false, "triage": "", "done": true}
	}
	full := Env{"answers": map[string]any{}, "scores": scored, "channel": "", "level": ""}
	for _, env := range []Env{empty, full} {
		if items != nil {
			env["items"] = items
		}
		if _, err := eval(p, env); err != nil {
			v.errf(path, "condition %q fails when an answer or score is missing (%s); write it so it copes, e.g. (scores.phq9?.total ?? 0) >= 10 or (items.q2 ?? 0) > 0",
				src, firstLine(strings.TrimPrefix(err.Error(), "evaluate condition: ")))
			return
		}
	}
}

// checkRefs reports answers, scores and items a condition names that do
// not exist. items is nil where items.<id> cannot be used.
func (v *validator) checkRefs(path, src string, items map[string]bool) {
	for _, r := range condRefs(src) {
		switch r.scope {
		case "answers":
			if !v.fields[r.name] {
				v.errf(path, "condition refers to missing field answers.%s", r.name)
			}
		case "scores":
			if v.spec.instrByID[r.name] == nil {
				v.errf(path, "condition refers to missing instrument scores.%s", r.name)
			}
		case "items":
			if items == nil {
				v.errf(path, "items.%s can only be used in an instrument's own conditions", r.name)
			} else if !items[r.name] {
				v.errf(path, "condition refers to items.%s, which is not an earlier item of this instrument", r.name)
			}
		}
	}
}
