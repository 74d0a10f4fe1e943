package flows

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// FAQEntry returns the FAQ entry with id, or nil.
func (s *Spec) FAQEntry(id string) *FAQEntry { return s.faqByID[id] }

// Flow returns the flow with id, or nil.
func (s *Spec) Flow(id string) *Flow { return s.flowByID[id] }

// Instrument returns the instrument with id, or nil.
func (s *Spec) Instrument(id string) *Instrument { return s.instrByID[id] }

// Level returns the level of care with id, or nil.
func (s *Spec) Level(id string) *Level { return s.levelByID[id] }

// Matcher returns the FAQ matcher built from the spec's FAQ.
func (s *Spec) Matcher() *Matcher { return s.matcher }

// Screen returns the crisis screen built from the spec's safety section.
func (s *Spec) Screen() *Screen { return s.screen }

// Channel returns the channel declaration with id, or a secure default when
// the file declares none (a local terminal, say).
func (s *Spec) Channel(id string) Channel {
	for _, c := range s.Channels {
		if c.ID == id {
			return c
		}
	}
	return Channel{ID: id, Secure: true}
}

// Step returns the step with id, or nil.
func (f *Flow) Step(id string) *Step { return f.stepByID[id] }

// StartStep returns the flow's first step.
func (f *Flow) StartStep() *Step { return f.stepByID[f.Start] }

// After returns the id of the step that follows st when nothing overrides
// it: its next, or the next listed step. It is "" after the last step.
func (f *Flow) After(st *Step) string {
	if st.Next != "" {
		return st.Next
	}
	for i := range f.Steps {
		if f.Steps[i].ID == st.ID && i+1 < len(f.Steps) {
			return f.Steps[i+1].ID
		}
	}
	return ""
}

// FieldStep returns the step that asks for field, or nil.
func (f *Flow) FieldStep(field string) *Step {
	for i := range f.Steps {
		if f.Steps[i].Field == field {
			return &f.Steps[i]
		}
	}
	return nil
}

// Env is what conditions see: answers by field, instrument scores, the
// channel and the suggested level.
type Env map[string]any

func eval(p *vm.Program, env Env) (bool, error) {
	if p == nil {
		return true, nil
	}
	out, err := expr.Run(p, map[string]any(env))
	if err != nil {
		return false, fmt.Errorf("evaluate condition: %w", err)
	}
	b, _ := out.(bool)
	return b, nil
}

// Applies reports whether the step should be taken: true when it has no
// condition or its condition holds.
func (st *Step) Applies(env Env) (bool, error) { return eval(st.cond, env) }

// NextStep picks the step after st given the choice made ("" for none): the
// choice's next, then the first branch whose condition holds, then After.
func (f *Flow) NextStep(st *Step, choice string, env Env) (string, error) {
	for _, c := range st.Choices {
		if c.ID == choice && c.Next != "" {
			return c.Next, nil
		}
	}
	for _, b := range st.Branches {
		ok, err := eval(b.cond, env)
		if err != nil {
			return "", fmt.Errorf("step %s: %w", st.ID, err)
		}
		if ok {
			return b.Next, nil
		}
	}
	return f.After(st), nil
}

// Classify runs a classify step's rules in order and returns the first
// matching rule, or nil when the default level applies.
func (st *Step) Classify(env Env) (*ClassRule, error) {
	for i := range st.Rules {
		r := &st.Rules[i]
		ok, err := eval(r.cond, env)
		if err != nil {
			return nil, fmt.Errorf("classify %s rule %s: %w", st.ID, r.ID, err)
		}
		if ok {
			return r, nil
		}
	}
	return nil, nil
}

// Choice returns the step's choice with id, or nil.
func (st *Step) Choice(id string) *Choice {
	for i := range st.Choices {
		if st.Choices[i].ID == id {
			return &st.Choices[i]
		}
	}
	return nil
}

// ChoiceByText returns the step's choice whose label or id the text names,
// ignoring case, punctuation and surrounding words ("yes", "2", "Evenings").
func (st *Step) ChoiceByText(text string) *Choice {
	t := simplify(text)
	if t == "" {
		return nil
	}
	for i := range st.Choices {
		c := &st.Choices[i]
		if simplify(c.Label) == t || simplify(c.ID) == t {
			return c
		}
	}
	// A number picks the n-th choice.
	var n int
	if _, err := fmt.Sscanf(t, "%d", &n); err == nil && fmt.Sprint(n) == t && n >= 1 && n <= len(st.Choices) {
		return &st.Choices[n-1]
	}
	// A unique choice whose label contains the text, or is contained in it.
	var found *Choice
	for i := range st.Choices {
		c := &st.Choices[i]
		l := simplify(c.Label)
		if len(t) >= 3 && (strings.Contains(l, t) || containsWords(t, l)) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

func containsWords(text, phrase string) bool {
	return phrase != "" && strings.Contains(" "+text+" ", " "+phrase+" ")
}

// simplify lower-cases s and keeps letters, digits and single spaces.
func simplify(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r > 127 && unicode.IsLetter(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}
