package flows

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// IntakeFlow is the id of the flow the "intake" intent starts.
const IntakeFlow = "intake"

// KnownIntents are the intents the engine implements.
var knownIntents = map[string]bool{
	"human": true, "bot": true, "menu": true, "help": true, "greeting": true,
	"thanks": true, "delete": true, "stop": true, "restart": true, "intake": true,
}

var stepKinds = map[string]bool{
	KindSay: true, KindAsk: true, KindChoose: true, KindConsent: true, KindAssess: true,
	KindClassify: true, KindSummary: true, KindHandoff: true, KindGoto: true, KindEnd: true,
}

var validators = map[string]bool{
	ValidateName: true, ValidatePhone: true, ValidateEmail: true, ValidateZIP: true,
	ValidateDate: true, ValidateText: true,
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_\-]*$`)

// reservedSteps and reservedChoices are ids the engine uses for its own
// buttons ("crisis.safe", "<step>.skip"); a flow may not reuse them.
var (
	reservedSteps   = map[string]bool{"crisis": true, "delete": true, "notice": true, "edit": true, "faq": true, "flow": true}
	reservedChoices = map[string]bool{"skip": true, "done": true, "confirm": true, "edit": true}
)

type validator struct {
	spec     *Spec
	src      *source
	problems []Problem
	// fields are the answer fields declared by steps, across flows.
	fields map[string]bool
	// started are the flows some action starts.
	started map[string]string
}

func (v *validator) errf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.src.file, Line: v.src.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) require(path, value, what string) {
	if strings.TrimSpace(value) == "" {
		v.errf(path, "%s is missing", what)
	}
}

func (v *validator) run() {
	s := v.spec
	if s.Version != 1 {
		v.errf("version", "version must be 1, got %d", s.Version)
	}
	v.fields = map[string]bool{}
	v.started = map[string]string{}
	v.checkProgram()
	v.checkChannels()
	v.checkSafety()
	v.checkConsent()
	v.checkMessages()
	v.checkLabels()
	v.indexFAQ()
	v.indexInstruments()
	v.indexLevels()
	v.indexFlows()
	v.checkIntents()
	for i, c := range s.Menu {
		v.checkChoiceAction(fmt.Sprintf("menu[%d]", i), c)
	}
	for i, e := range s.FAQ {
		for j, f := range e.Followups {
			v.checkAction(fmt.Sprintf("faq[%d].followups[%d]", i, j), f)
		}
	}
	v.checkFlows()
	v.checkAssessment()
	v.checkPlaceholders()
	if len(v.problems) > 0 {
		return
	}
	v.render()
	m, err := NewMatcher(s.FAQ, s.Matching)
	if err != nil {
		v.errf("matching", "%v", err)
		return
	}
	s.matcher = m
	scr, err := NewScreen(s.Safety)
	if err != nil {
		v.errf("safety", "%v", err)
		return
	}
	s.screen = scr
}

func (v *validator) checkProgram() {
	p := v.spec.Program
	v.require("program.name", p.Name, "program.name")
	v.require("program.phone", p.Phone, "program.phone")
	v.require("program.hours", p.Hours, "program.hours")
	seen := map[string]bool{}
	for i, site := range p.Sites {
		path := fmt.Sprintf("program.sites[%d]", i)
		v.checkID(path+".id", site.ID, seen, "site")
		v.require(path+".address", site.Address, "site address")
	}
}

func (v *validator) checkChannels() {
	seen := map[string]bool{}
	for i, c := range v.spec.Channels {
		path := fmt.Sprintf("channels[%d]", i)
		v.checkID(path+".id", c.ID, seen, "channel")
		if !c.Secure && strings.TrimSpace(c.Notice) == "" {
			v.errf(path, "channel %q is not secure, so it needs a notice", c.ID)
		}
	}
}

func (v *validator) checkSafety() {
	sf := v.spec.Safety
	if strings.TrimSpace(sf.Reply) == "" {
		v.errf("safety", "safety.reply (the crisis reply) is missing")
	}
	v.require("safety.paused", sf.Paused, "safety.paused")
	v.require("safety.safe", sf.Safe, "safety.safe")
	v.require("safety.staff", sf.Staff, "safety.staff")
	v.require("safety.buttons.staff", sf.Buttons.Staff, "safety.buttons.staff")
	v.require("safety.buttons.safe", sf.Buttons.Safe, "safety.buttons.safe")
	v.require("safety.buttons.resources", sf.Buttons.Resources, "safety.buttons.resources")
	for _, loc := range sortedMapKeys(sf.Replies) {
		r := sf.Replies[loc]
		if !strings.Contains(r, "988") || !strings.Contains(r, "911") {
			v.errf("safety.replies."+loc, "safety.replies.%s must name 988 and 911, like safety.reply", loc)
		}
	}
	if strings.TrimSpace(sf.Resources["en"]) == "" {
		v.errf("safety.resources", "safety.resources.en is missing")
	}
	if len(sf.Categories) == 0 {
		v.errf("safety", "safety.categories is empty: the crisis screen would match nothing")
	}
	cats := map[string]bool{}
	rules := map[string]bool{}
	for i, c := range sf.Categories {
		path := fmt.Sprintf("safety.categories[%d]", i)
		v.checkID(path+".id", c.ID, cats, "crisis category")
		if len(c.Rules) == 0 {
			v.errf(path, "crisis category %q has no rules", c.ID)
		}
		for j, r := range c.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, j)
			v.checkID(rp+".id", r.ID, rules, "crisis rule")
			// A rule matches by phrases, "together" combinations or
			// patterns; any one of the three is enough.
			if len(r.Phrases) == 0 && len(r.Together) == 0 && len(r.Patterns) == 0 {
				v.errf(rp, "crisis rule %q has no phrases, together combinations or patterns: it would match nothing", r.ID)
			}
			for k, pat := range r.Patterns {
				if _, err := regexp.Compile(pat); err != nil {
					v.errf(fmt.Sprintf("%s.patterns[%d]", rp, k), "pattern %q: %v", pat, err)
				}
			}
		}
	}
}

func (v *validator) checkConsent() {
	c := v.spec.Consent
	v.require("consent.version", c.Version, "consent.version")
	v.require("consent.text", c.Text, "consent.text")
	v.require("consent.agree", c.Agree, "consent.agree")
	v.require("consent.decline", c.Decline, "consent.decline")
	v.require("consent.declined", c.Declined, "consent.declined")
	v.require("consent.granted", c.Granted, "consent.granted")
}

// checkMessages requires every engine message: a blank one would leave a
// person with no answer.
func (v *validator) checkMessages() {
	v.requireAll("messages", reflect.ValueOf(v.spec.Messages))
}

func (v *validator) checkLabels() {
	v.requireAll("labels", reflect.ValueOf(v.spec.Labels))
}

func (v *validator) requireAll(prefix string, rv reflect.Value) {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if strings.TrimSpace(rv.Field(i).String()) == "" {
			v.errf(prefix, "%s.%s is missing", prefix, tag)
		}
	}
}

func (v *validator) checkID(path, id string, seen map[string]bool, what string) {
	switch {
	case id == "":
		v.errf(path, "%s id is missing", what)
	case !idPattern.MatchString(id):
		v.errf(path, "%s id %q: use lower-case letters, digits, _ and -", what, id)
	case seen[id]:
		v.errf(path, "duplicate %s id %q", what, id)
	}
	seen[id] = true
}

func (v *validator) indexFAQ() {
	s := v.spec
	s.faqByID = map[string]*FAQEntry{}
	seen := map[string]bool{}
	for i := range s.FAQ {
		e := &s.FAQ[i]
		path := fmt.Sprintf("faq[%d]", i)
		v.checkID(path+".id", e.ID, seen, "FAQ")
		v.require(path+".title", e.Title, "FAQ title")
		v.require(path+".answer", e.Answer, "FAQ answer")
		if len(e.Questions) == 0 {
			v.errf(path, "FAQ %q has no example questions", e.ID)
		}
		if len(e.Followups) == 0 {
			v.errf(path, "FAQ %q has no follow-ups", e.ID)
		}
		s.faqByID[e.ID] = e
	}
}

func (v *validator) indexInstruments() {
	s := v.spec
	s.instrByID = map[string]*Instrument{}
	seen := map[string]bool{}
	for i := range s.Instruments {
		in := &s.Instruments[i]
		v.checkID(fmt.Sprintf("instruments[%d].id", i), in.ID, seen, "instrument")
		s.instrByID[in.ID] = in
	}
}

func (v *validator) indexLevels() {
	s := v.spec
	s.levelByID = map[string]*Level{}
	seen := map[string]bool{}
	for i := range s.Levels {
		l := &s.Levels[i]
		path := fmt.Sprintf("levels[%d]", i)
		v.checkID(path+".id", l.ID, seen, "level")
		v.require(path+".participant", l.Participant, "level participant text")
		if l.Urgency != "" && l.Urgency != "routine" && l.Urgency != "urgent" {
			v.errf(path+".urgency", "urgency must be routine or urgent, got %q", l.Urgency)
		}
		s.levelByID[l.ID] = l
	}
}

func (v *validator) indexFlows() {
	s := v.spec
	s.flowByID = map[string]*Flow{}
	seen := map[string]bool{}
	for i := range s.Flows {
		f := &s.Flows[i]
		v.checkID(fmt.Sprintf("flows[%d].id", i), f.ID, seen, "flow")
		s.flowByID[f.ID] = f
		f.stepByID = map[string]*Step{}
		steps := map[string]bool{}
		for j := range f.Steps {
			st := &f.Steps[j]
			v.checkID(fmt.Sprintf("flows[%d].steps[%d].id", i, j), st.ID, steps, "step")
			if reservedSteps[st.ID] {
				v.errf(fmt.Sprintf("flows[%d].steps[%d].id", i, j), "step id %q is reserved for the engine's own buttons", st.ID)
			}
			f.stepByID[st.ID] = st
			if st.Field != "" {
				v.fields[st.Field] = true
			}
		}
	}
}

func (v *validator) checkIntents() {
	seen := map[string]bool{}
	for i, in := range v.spec.Intents {
		path := fmt.Sprintf("intents[%d]", i)
		if !knownIntents[in.ID] {
			v.errf(path+".id", "unknown intent %q (known: %s)", in.ID, strings.Join(sortedKeys(knownIntents), ", "))
		}
		if seen[in.ID] {
			v.errf(path+".id", "duplicate intent %q", in.ID)
		}
		seen[in.ID] = true
		if len(in.Phrases) == 0 {
			v.errf(path, "intent %q has no phrases", in.ID)
		}
		if in.ID == "intake" {
			v.started[IntakeFlow] = path
			if v.spec.flowByID[IntakeFlow] == nil {
				v.errf(path, "intent intake needs a flow with id %q", IntakeFlow)
			}
		}
	}
}

func (v *validator) checkChoiceAction(path string, c Choice) {
	v.require(path+".label", c.Label, "choice label")
	v.checkID(path+".id", c.ID, map[string]bool{}, "choice")
	if c.Action == "" {
		v.errf(path, "menu choice %q has no action", c.ID)
		return
	}
	v.checkAction(path+".action", c.Action)
}

// checkAction checks a button action: faq:<id>, flow:<id>, human or menu.
func (v *validator) checkAction(path, action string) {
	kind, id, _ := strings.Cut(action, ":")
	switch kind {
	case "human", "menu":
		if id != "" {
			v.errf(path, "action %q takes no id", kind)
		}
	case "faq":
		if v.spec.faqByID[id] == nil {
			v.errf(path, "reference to missing FAQ entry %q", id)
		}
	case "flow":
		if v.spec.flowByID[id] == nil {
			v.errf(path, "reference to missing flow %q", id)
		}
		v.started[id] = path
	default:
		v.errf(path, "unknown action %q (use faq:<id>, flow:<id>, human or menu)", action)
	}
}

var envShape = map[string]any{
	"answers": map[string]any{},
	"scores":  map[string]any{},
	"channel": "",
	"level":   "",
}

// compileCond compiles a condition; conditions are expr-lang expressions
// over answers, scores, channel and level that must yield a boolean.
func (v *validator) compileCond(path, src string) *vm.Program {
	if strings.TrimSpace(src) == "" {
		return nil
	}
	p, err := expr.Compile(src, expr.Env(envShape), expr.AsBool())
	if err != nil {
		v.errf(path, "condition %q: %s", src, firstLine(err.Error()))
		return nil
	}
	return p
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (v *validator) checkFlows() {
	s := v.spec
	for i := range s.Flows {
		f := &s.Flows[i]
		fp := fmt.Sprintf("flows[%d]", i)
		if len(f.Steps) == 0 {
			v.errf(fp, "flow %q has no steps", f.ID)
			continue
		}
		if _, ok := v.started[f.ID]; !ok {
			v.errf(fp, "flow %q is never started: no menu choice, follow-up or intent leads to it", f.ID)
		}
		if f.Start == "" {
			f.Start = f.Steps[0].ID
		} else if f.stepByID[f.Start] == nil {
			v.errf(fp+".start", "reference to missing step %q", f.Start)
			continue
		}
		for j := range f.Steps {
			v.checkStep(f, j, fmt.Sprintf("%s.steps[%d]", fp, j))
		}
		v.checkGraph(f, fp)
	}
}

func (v *validator) checkStep(f *Flow, j int, path string) {
	st := &f.Steps[j]
	if !stepKinds[st.Kind] {
		v.errf(path+".kind", "unknown step kind %q", st.Kind)
		return
	}
	st.cond = v.compileCond(path+".if", st.If)
	for k := range st.Branches {
		b := &st.Branches[k]
		bp := fmt.Sprintf("%s.branches[%d]", path, k)
		b.cond = v.compileCond(bp+".if", b.If)
		if b.cond == nil {
			v.errf(bp, "branch needs a condition (if:)")
		}
		v.checkStepRef(f, bp+".next", b.Next)
	}
	if st.Next != "" {
		v.checkStepRef(f, path+".next", st.Next)
	}
	seen := map[string]bool{}
	for k, c := range st.Choices {
		cp := fmt.Sprintf("%s.choices[%d]", path, k)
		v.checkID(cp+".id", c.ID, seen, "choice")
		if reservedChoices[c.ID] {
			v.errf(cp+".id", "choice id %q is reserved for the engine's own buttons", c.ID)
		}
		v.require(cp+".label", c.Label, "choice label")
		if c.Next != "" {
			v.checkStepRef(f, cp+".next", c.Next)
		}
		if c.Action != "" {
			v.checkAction(cp+".action", c.Action)
		}
	}
	needText := func() { v.require(path+".text", st.Text, "text of "+st.Kind+" step "+strconv.Quote(st.ID)) }
	needField := func() {
		if st.Field == "" {
			v.errf(path, "%s step %q needs a field", st.Kind, st.ID)
		}
	}
	switch st.Kind {
	case KindSay:
		needText()
	case KindAsk:
		needText()
		needField()
		if !validators[st.Validate] {
			v.errf(path+".validate", "unknown validator %q (known: %s)", st.Validate, strings.Join(sortedKeys(validators), ", "))
		}
	case KindChoose:
		needText()
		needField()
		if len(st.Choices) < 1 {
			v.errf(path, "choose step %q has no choices", st.ID)
		}
		if st.Other != "" && !seen[st.Other] {
			v.errf(path+".other", "other refers to missing choice %q", st.Other)
		}
	case KindConsent:
		// The consent text comes from the consent section.
	case KindAssess:
		needField()
		if st.Instrument == "" {
			v.errf(path, "assess step %q needs an instrument", st.ID)
		} else if v.spec.instrByID[st.Instrument] == nil {
			v.errf(path+".instrument", "reference to missing instrument %q", st.Instrument)
		}
	case KindClassify:
		needField()
		if st.Default == "" {
			v.errf(path, "classify step %q needs a default level", st.ID)
		} else if v.spec.levelByID[st.Default] == nil {
			v.errf(path+".default", "reference to missing level %q", st.Default)
		}
		for k := range st.Rules {
			r := &st.Rules[k]
			rp := fmt.Sprintf("%s.rules[%d]", path, k)
			r.cond = v.compileCond(rp+".if", r.If)
			if r.cond == nil {
				v.errf(rp, "rule needs a condition (if:)")
			}
			if v.spec.levelByID[r.Level] == nil {
				v.errf(rp+".level", "reference to missing level %q", r.Level)
			}
			v.require(rp+".reason", r.Reason, "rule reason")
		}
	case KindSummary:
		needText()
		if len(st.Fields) == 0 {
			v.errf(path, "summary step %q lists no fields", st.ID)
		}
		for k, fld := range st.Fields {
			if !v.fields[fld] {
				v.errf(fmt.Sprintf("%s.fields[%d]", path, k), "summary refers to missing field %q", fld)
			}
		}
	case KindHandoff:
		if st.Urgency != "" && st.Urgency != "routine" && st.Urgency != "urgent" {
			v.errf(path+".urgency", "urgency must be routine or urgent, got %q", st.Urgency)
		}
	case KindGoto:
		if st.Goto == "" {
			v.errf(path, "goto step %q has no target", st.ID)
		} else if id, ok := strings.CutPrefix(st.Goto, "flow:"); ok {
			if v.spec.flowByID[id] == nil {
				v.errf(path+".goto", "reference to missing flow %q", id)
			}
			v.started[id] = path
		} else {
			v.checkStepRef(f, path+".goto", st.Goto)
		}
	case KindEnd:
	}
}

func (v *validator) checkStepRef(f *Flow, path, id string) {
	if f.stepByID[id] == nil {
		v.errf(path, "reference to missing step %q in flow %q", id, f.ID)
	}
}

// edges returns the steps a step can lead to within its flow, and whether it
// leaves the flow (end, or goto another flow).
func (f *Flow) edges(i int) (next []string, exits bool) {
	st := &f.Steps[i]
	switch st.Kind {
	case KindEnd:
		return nil, true
	case KindGoto:
		if strings.HasPrefix(st.Goto, "flow:") {
			return nil, true
		}
		return []string{st.Goto}, false
	}
	if st.Next != "" {
		next = append(next, st.Next)
	} else if i+1 < len(f.Steps) {
		next = append(next, f.Steps[i+1].ID)
	}
	for _, b := range st.Branches {
		next = append(next, b.Next)
	}
	for _, c := range st.Choices {
		if c.Next != "" {
			next = append(next, c.Next)
		}
	}
	if st.Kind == KindConsent {
		// Declining consent leaves the flow.
		exits = true
	}
	return next, exits
}

// checkGraph reports steps no path reaches and steps with no way out.
func (v *validator) checkGraph(f *Flow, fp string) {
	index := map[string]int{}
	for i, st := range f.Steps {
		index[st.ID] = i
	}
	reached := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		i, ok := index[id]
		if !ok {
			continue
		}
		next, _ := f.edges(i)
		for _, n := range next {
			if !reached[n] {
				reached[n] = true
				queue = append(queue, n)
			}
		}
	}
	// canExit[id]: some path from the step leaves the flow.
	canExit := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for i, st := range f.Steps {
			if canExit[st.ID] {
				continue
			}
			next, exits := f.edges(i)
			ok := exits
			for _, n := range next {
				ok = ok || canExit[n]
			}
			if ok {
				canExit[st.ID] = true
				changed = true
			}
		}
	}
	for i, st := range f.Steps {
		path := fmt.Sprintf("%s.steps[%d]", fp, i)
		if !reached[st.ID] {
			v.errf(path, "step %q is unreachable: no path from %q leads to it", st.ID, f.Start)
			continue
		}
		next, exits := f.edges(i)
		if len(next) == 0 && !exits {
			v.errf(path, "step %q has no way out: give it next: or end the flow with an end step", st.ID)
		} else if !canExit[st.ID] {
			v.errf(path, "step %q has no way out: every path from it loops without reaching an end", st.ID)
		}
	}
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
