package flows

// Hit is a crisis screen match: the category and the rule that matched,
// never the person's words.
type Hit struct {
	Category string
	Rule     string
}

// Screen is the crisis screen built from the safety section.
type Screen struct {
	safety Safety
}

// NewScreen compiles the safety section's rules.
func NewScreen(s Safety) (*Screen, error) {
	return &Screen{safety: s}, nil
}

// Check reports whether text signals a crisis. (Temporary: phrase containment.)
func (s *Screen) Check(text string) (Hit, bool) {
	t := simplify(text)
	for _, c := range s.safety.Categories {
		for _, r := range c.Rules {
			for _, p := range r.Phrases {
				if containsWords(t, simplify(p)) {
					return Hit{Category: c.ID, Rule: r.ID}, true
				}
			}
		}
	}
	return Hit{}, false
}
