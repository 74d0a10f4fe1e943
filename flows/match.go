package flows

import "strings"

// Decision is what the matcher concluded about a message.
type Decision int

// Decisions, from least to most certain.
const (
	// Abstain: no FAQ entry fits; say so, offer the menu and a person.
	Abstain Decision = iota
	// Suggest: a few entries might fit; offer them as buttons.
	Suggest
	// Answer: the best entry fits; answer it.
	Answer
)

// Candidate is one FAQ entry with its score (0..1).
type Candidate struct {
	ID    string
	Score float64
}

// MatchResult is the matcher's decision and its best candidates, best first.
type MatchResult struct {
	Decision   Decision
	Candidates []Candidate
}

// Matcher finds the FAQ entry a free-text question is about.
type Matcher struct {
	entries []FAQEntry
}

// NewMatcher builds a matcher over entries.
func NewMatcher(entries []FAQEntry, cfg Matching) (*Matcher, error) {
	return &Matcher{entries: entries}, nil
}

// Match scores text against every entry. (Temporary: keyword containment.)
func (m *Matcher) Match(text string) MatchResult {
	t := simplify(text)
	for _, e := range m.entries {
		for _, k := range e.Keywords {
			if containsWords(t, simplify(k)) {
				return MatchResult{Decision: Answer, Candidates: []Candidate{{ID: e.ID, Score: 1}}}
			}
		}
	}
	_ = strings.TrimSpace
	return MatchResult{Decision: Abstain}
}
