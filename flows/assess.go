package flows

// Instrument is a validated self-assessment questionnaire (PHQ-9, GAD-7, …)
// scored by fixed rules, never by a model.
type Instrument struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Intro is said once before the first item.
	Intro string `yaml:"intro"`
	// Options are the answer options shared by every item unless an item
	// has its own.
	Options []Option `yaml:"options"`
	Items   []Item   `yaml:"items"`
	Line    int      `yaml:"-"`
}

// Option is one answer option with its score.
type Option struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
	Value int    `yaml:"value"`
}

// Item is one question of an instrument.
type Item struct {
	ID      string   `yaml:"id"`
	Text    string   `yaml:"text"`
	Options []Option `yaml:"options"`
}

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

// checkAssessment validates instruments (items, options, scoring).
func (v *validator) checkAssessment() {}

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
}

// Next returns the next item to ask given the answers so far, or nil when
// the instrument is complete.
func (in *Instrument) Next(answers map[string]int, env Env) *Item {
	for i := range in.Items {
		if _, ok := answers[in.Items[i].ID]; !ok {
			return &in.Items[i]
		}
	}
	return nil
}

// Score scores the answers given.
func (in *Instrument) Score(answers map[string]int, env Env) Result {
	var r Result
	for _, v := range answers {
		r.Total += v
	}
	return r
}

// ItemOptions returns the options of an item: its own or the instrument's.
func (in *Instrument) ItemOptions(it *Item) []Option {
	if len(it.Options) > 0 {
		return it.Options
	}
	return in.Options
}
