package flows

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The crisis screen reads every message before anything else happens to it.
//
// How a message is read (the same steps apply to every phrase in the safety
// section, so an admin writes phrases the way people write them):
//
//  1. Accents and compatibility forms are folded ("é" → "e", full-width
//     letters → ASCII), and the text is lower-cased.
//  2. It is cut into words of letters and digits. A contraction is spelled
//     out ("don't" → "do not", "I’m" → "i am", "he'll" → "he will"); any
//     other apostrophe inside a word joins it ("mom's" → "moms"). The end of
//     a sentence (". ", "! ", "? ", a new line) becomes the word ".", which
//     no phrase crosses. Everything else separates words. Inside a word,
//     "@" and "$" read as "a" and "s", "!" between letters as "i", and "*"
//     is kept as a wildcard letter ("s*icide").
//  3. Leetspeak: in a word that starts with a letter, 0 1 3 4 5 7 read as
//     o i e a s t ("k1ll", "d13"). Numbers ("988", "30") stay numbers.
//  4. Runs of one repeated letter become one letter ("diiiie" → "die",
//     "kill" → "kil"): people stretch words, and typing one "l" too few is
//     a common slip, so doubled letters never matter.
//  5. Spellings (normalize.spellings) rewrite slang, shorthand and common
//     misspellings to one spelling ("wanna" → "want to", "sucide" →
//     "suicide", "kms" → "kill myself"); fillers (normalize.fillers) such as
//     "just", "really" or swear-word intensifiers are dropped, so "I just
//     really want to die" reads "i want to die".
//  6. Typos: a long word listed in normalize.typos also matches its one-slip
//     misspellings (a letter missing, added, wrong, or two swapped); a word
//     with "*" matches the listed or phrase word it could stand for.
//  7. Benign idioms ("killing time", "my feet are killing me") are blanked
//     out; a match can neither sit inside nor span a blanked idiom. A benign
//     /regular expression/ with a group named blank, (?P<blank>…), blanks
//     only that group: the rest of the match is context it requires (a
//     past attempt is blanked only when the message places it years ago
//     and says the person has been well since).
//
// Phrases then match whole words. A phrase may offer alternatives, "(a|b)",
// optional parts, "[a|b]" (nothing, a or b), gaps: "..." stands for up to
// three words, and named lists from the safety section: <someone_close>
// stands for the alternatives of lists.someone_close. Lists are also the
// screen's concept lexicons (<means>, <intent>, <emergency_sign>, …), which
// rules combine with "together": "<means> + <intent> within 8 words"
// matches when each part is found, in any order and without overlapping,
// in one sentence (the default), within 8 words of one sentence, or, for
// "within 2 sentences", in at most two consecutive sentences. Combinations
// are what lets the screen catch wordings nobody wrote a phrase for: a
// method next to an intention, a farewell next to a lost future, a person
// next to an emergency sign. Patterns are regular
// expressions for what phrases cannot say; they see the normalized text
// (words separated by one space, blanked idioms as "_", sentence ends as
// "."), and repeated letters in a pattern are read as one, like the text. A
// pattern that uses a word the normalizer rewrites ("dont") is rejected.
//
// When several rules match, the first category in the file wins, and within
// it the first rule: the order of the safety section is its priority.

// maxGap is how many words "..." in a phrase stands for, at most.
const maxGap = 3

// minTypoLen is the shortest word normalize.typos accepts: a one-letter slip
// of a shorter word is too often another real word.
const minTypoLen = 6

// Hit is a crisis screen match: the category and the rule that matched,
// never the person's words.
type Hit struct {
	Category string
	Rule     string
}

// Screen is the crisis screen compiled from the safety section. It is
// immutable once built, so Check is safe for concurrent use.
type Screen struct {
	rules []screenRule
	// starts are the phrases of the rules and the parts of their
	// combinations, by the words they can begin with: the states each is
	// in once that first word is read. benign the same for benign idioms.
	starts map[string][]*state
	benign map[string][]*state
	// benignRe are benign idioms written as /regular expressions/.
	benignRe []pattern
	// variants holds spellings and fillers by their first word.
	variants map[string][]variant
	typos    []string
	// lists are the named alternatives phrases use as <name>.
	lists map[string]string
	// needIdx numbers the words that patterns need (see pattern.need).
	needIdx map[string]int
	// combos are the rules' "together" combinations, in rule order; terms
	// counts the distinct parts they use.
	combos []combo
	terms  int
	// vocab is every word of every phrase, for words with "*".
	vocab []string
	known map[string]bool
}

type screenRule struct {
	category, id string
	patterns     []pattern
}

// combo is a compiled "together" combination of a rule: the parts are
// term ids, matched by the automata in starts like phrases.
type combo struct {
	rule  int
	terms []int
	// words is the most words the parts may span (0: no limit), within
	// one sentence; sentences is how many consecutive sentences they may
	// spread over (1: the same sentence).
	words, sentences int
}

// span is where a term matched: words [start, end) of the normalized text.
type span struct{ start, end int }

// maxTogetherParts bounds the parts of a combination, and maxTermHits the
// matches of terms Check keeps, so that no message can make the search for
// a combination slow.
const (
	maxTogetherParts = 4
	maxTermHits      = 1024
)

// state is a state of a phrase's word automaton. Alternatives join again
// after their group, so a phrase with several lists of alternatives stays
// as small as the phrase itself.
type state struct {
	// next holds the moves over one word while the phrase is built;
	// freeze moves them to edges when there are few (a short list is
	// faster to scan than a map is to hash), else leaves them in next.
	next  map[string][]*state
	edges []wordEdge
	eps   []*state
	// any moves over one word (part of a "..." gap).
	any *state
	// rule is the rule a phrase ending here belongs to, or -1; term the
	// part of a "together" combination that ends here, or -1.
	rule, term int
}

func newState() *state { return &state{rule: -1, term: -1} }

// wordEdge is a move over one word.
type wordEdge struct {
	word string
	to   []*state
}

// maxEdges is the most moves a state keeps as a list rather than a map.
const maxEdges = 8

// freeze prepares the automata reachable from the roots in index for
// matching; seen is shared across calls.
func freeze(index map[string][]*state, seen map[*state]bool) {
	var walk func(st *state)
	walk = func(st *state) {
		if st == nil || seen[st] {
			return
		}
		seen[st] = true
		if len(st.next) <= maxEdges {
			for _, w := range slices.Sorted(maps.Keys(st.next)) {
				st.edges = append(st.edges, wordEdge{word: w, to: st.next[w]})
			}
			st.next = nil
		}
		for _, e := range st.edges {
			for _, t := range e.to {
				walk(t)
			}
		}
		for _, ts := range st.next {
			for _, t := range ts {
				walk(t)
			}
		}
		for _, t := range st.eps {
			walk(t)
		}
		walk(st.any)
	}
	for _, roots := range index {
		for _, r := range roots {
			walk(r)
		}
	}
}

type variant struct {
	from, to []string
}

// NewScreen compiles the safety section's rules: every phrase is parsed and
// normalized, every pattern compiled, so Check does no parsing. It returns
// an error naming the category, rule and phrase or pattern at fault.
func NewScreen(s Safety) (*Screen, error) {
	sc := &Screen{starts: map[string][]*state{}, benign: map[string][]*state{},
		variants: map[string][]variant{}, known: map[string]bool{}, lists: map[string]string{}}
	if err := sc.compileNormalization(s.Normalize); err != nil {
		return nil, err
	}
	for name, alts := range s.Lists {
		if !listName.MatchString(name) || len(alts) == 0 {
			return nil, fmt.Errorf("safety: lists: %q must be a name of a-z, 0-9 and _ with alternatives", name)
		}
		for _, a := range alts {
			if strings.TrimSpace(a) == "" {
				return nil, fmt.Errorf("safety: lists: %s has an empty alternative", name)
			}
		}
		sc.lists[name] = alts.String()
	}
	var errs []error
	vocab := map[string]bool{}
	termIDs := map[string]int{}
	for _, c := range s.Categories {
		for _, r := range c.Rules {
			idx := len(sc.rules)
			rule := screenRule{category: c.ID, id: r.ID}
			for _, p := range r.Phrases {
				if err := sc.addPhrase(sc.starts, p, idx, -1, vocab); err != nil {
					errs = append(errs, fmt.Errorf("safety: category %s, rule %s: phrase %q: %w", c.ID, r.ID, p, err))
				}
			}
			for _, t := range r.Together {
				if err := sc.addTogether(t, idx, termIDs, vocab); err != nil {
					errs = append(errs, fmt.Errorf("safety: category %s, rule %s: together %q: %w", c.ID, r.ID, t, err))
				}
			}
			for _, p := range r.Patterns {
				re, err := sc.compilePattern(p)
				if err != nil {
					errs = append(errs, fmt.Errorf("safety: category %s, rule %s: pattern %q: %w", c.ID, r.ID, p, err))
					continue
				}
				rule.patterns = append(rule.patterns, re)
			}
			sc.rules = append(sc.rules, rule)
		}
	}
	for _, b := range s.Benign {
		if len(b) > 2 && strings.HasPrefix(b, "/") && strings.HasSuffix(b, "/") {
			re, err := sc.compilePattern(b[1 : len(b)-1])
			if err != nil {
				errs = append(errs, fmt.Errorf("safety: benign %q: %w", b, err))
				continue
			}
			sc.benignRe = append(sc.benignRe, re)
			continue
		}
		if err := sc.addPhrase(sc.benign, b, 0, -1, vocab); err != nil {
			errs = append(errs, fmt.Errorf("safety: benign %q: %w", b, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seen := map[*state]bool{}
	freeze(sc.starts, seen)
	freeze(sc.benign, seen)
	sc.needIdx = map[string]int{}
	for r := range sc.rules {
		for k := range sc.rules[r].patterns {
			sc.rules[r].patterns[k].indexNeeds(sc.needIdx)
		}
	}
	for k := range sc.benignRe {
		sc.benignRe[k].indexNeeds(sc.needIdx)
	}
	for w := range vocab {
		if !strings.Contains(w, "*") {
			sc.vocab = append(sc.vocab, w)
		}
	}
	sort.Strings(sc.vocab)
	for _, w := range sc.vocab {
		sc.known[w] = true
	}
	return sc, nil
}

// compileNormalization builds the spelling and filler variants and the typo
// words. A variant that two spellings claim is an error: the screen could
// not know which one is meant.
func (sc *Screen) compileNormalization(n Normalization) error {
	owner := map[string]string{}
	add := func(from, to []string, canon string) error {
		key := strings.Join(from, " ")
		if prev, ok := owner[key]; ok {
			if prev != canon {
				return fmt.Errorf("safety: normalize: %q is listed for both %q and %q", key, prev, canon)
			}
			return nil
		}
		owner[key] = canon
		sc.variants[from[0]] = append(sc.variants[from[0]], variant{from: from, to: to})
		return nil
	}
	keys := make([]string, 0, len(n.Spellings))
	for k := range n.Spellings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, canon := range keys {
		to := tokens(canon)
		if len(to) == 0 {
			return fmt.Errorf("safety: normalize.spellings: %q has no words", canon)
		}
		for _, v := range n.Spellings[canon] {
			from := tokens(v)
			if len(from) == 0 {
				return fmt.Errorf("safety: normalize.spellings.%s: %q has no words", canon, v)
			}
			if slices.Equal(from, to) {
				continue
			}
			if err := add(from, to, canon); err != nil {
				return err
			}
		}
	}
	for _, f := range n.Fillers {
		from := tokens(f)
		if len(from) == 0 {
			return fmt.Errorf("safety: normalize.fillers: %q has no words", f)
		}
		if err := add(from, nil, "(filler)"); err != nil {
			return err
		}
	}
	// Longest variant first, so "u r" wins over "u".
	for k := range sc.variants {
		slices.SortStableFunc(sc.variants[k], func(a, b variant) int { return len(b.from) - len(a.from) })
	}
	for _, t := range n.Typos {
		w := tokens(t)
		if len(w) != 1 || utf8.RuneCountInString(w[0]) < minTypoLen {
			return fmt.Errorf("safety: normalize.typos: %q must be one word of at least %d letters", t, minTypoLen)
		}
		sc.typos = append(sc.typos, w[0])
	}
	return nil
}

// part is one element of a parsed phrase: words, a group of alternatives
// (optional for "[...]"), or a "..." gap.
type part struct {
	words    []string
	alts     [][]part
	optional bool
	gap      bool
}

// listName and listRef are a list's name and a phrase's use of it.
var (
	listName = regexp.MustCompile(`^[a-z0-9_]+$`)
	listRef  = regexp.MustCompile(`<([^<>]*)>`)
)

// maxListDepth bounds lists that use lists, so that a list that uses itself
// is an error rather than a hang.
const maxListDepth = 8

// expandLists replaces every <name> in p with the named list's alternatives.
func (sc *Screen) expandLists(p string) (string, error) {
	for depth := 0; strings.Contains(p, "<"); depth++ {
		if depth == maxListDepth {
			return "", fmt.Errorf("lists nest more than %d deep (does a list use itself?)", maxListDepth)
		}
		var err error
		p = listRef.ReplaceAllStringFunc(p, func(m string) string {
			name := m[1 : len(m)-1]
			alts, ok := sc.lists[name]
			if !ok {
				err = fmt.Errorf("unknown list <%s> (lists: %s)", name, strings.Join(slices.Sorted(maps.Keys(sc.lists)), ", "))
				return m
			}
			return "(" + alts + ")"
		})
		if err != nil {
			return "", err
		}
	}
	return p, nil
}

// parsePhrase parses the phrase syntax: words, "(a|b)", "[a|b]", "..." and
// <list>.
func (sc *Screen) parsePhrase(p string) ([]part, error) {
	p, err := sc.expandLists(strings.ReplaceAll(p, "…", "..."))
	if err != nil {
		return nil, err
	}
	seq, rest, err := sc.parseSeq(p, 0)
	if err != nil {
		return nil, err
	}
	if rest != len(p) {
		return nil, fmt.Errorf("unexpected %q", p[rest])
	}
	return seq, nil
}

// parseSeq reads parts from p[i:] up to a "|", ")", "]" or the end, and
// returns them with the index where it stopped.
func (sc *Screen) parseSeq(p string, i int) ([]part, int, error) {
	var seq []part
	text := func(s string) {
		for j, chunk := range strings.Split(s, "...") {
			if j > 0 {
				seq = append(seq, part{gap: true})
			}
			if w := sc.rewrite(tokens(chunk), false); len(w) > 0 {
				seq = append(seq, part{words: w})
			}
		}
	}
	start := i
	for i < len(p) {
		switch c := p[i]; c {
		case '(', '[':
			text(p[start:i])
			closer := byte(')')
			if c == '[' {
				closer = ']'
			}
			g := part{optional: c == '['}
			j := i + 1
			for {
				alt, k, err := sc.parseSeq(p, j)
				if err != nil {
					return nil, 0, err
				}
				if k >= len(p) {
					return nil, 0, fmt.Errorf("%q is never closed", c)
				}
				g.alts = append(g.alts, alt)
				if p[k] == '|' {
					j = k + 1
					continue
				}
				if p[k] != closer {
					return nil, 0, fmt.Errorf("%q closed by %q", c, p[k])
				}
				i = k + 1
				break
			}
			for _, a := range g.alts {
				if !g.optional && minWords(a) == 0 {
					return nil, 0, errors.New(`an alternative in "( )" has no words once normalized (only fillers?): make the group optional with "[ ]" instead`)
				}
			}
			seq = append(seq, g)
			start = i
		case '|', ')', ']':
			text(p[start:i])
			return seq, i, nil
		default:
			i++
		}
	}
	text(p[start:])
	return seq, i, nil
}

// minWords is the fewest words a sequence of parts can match.
func minWords(seq []part) int {
	n := 0
	for _, pt := range seq {
		switch {
		case pt.gap || pt.optional:
		case pt.alts != nil:
			m := -1
			for _, a := range pt.alts {
				if k := minWords(a); m < 0 || k < m {
					m = k
				}
			}
			n += m
		default:
			n += len(pt.words)
		}
	}
	return n
}

// togetherRe splits a combination into its parts and its distance.
var togetherRe = regexp.MustCompile(`^(.*?)(?:\s+within\s+(\d+)\s+(words?|sentences?))?\s*$`)

// addTogether compiles a "together" combination of rule: each part is
// compiled once as a term (parts shared by several combinations, such as
// "<intent>", are matched once per message).
func (sc *Screen) addTogether(text string, rule int, termIDs map[string]int, vocab map[string]bool) error {
	m := togetherRe.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil || strings.Contains(m[1], " within ") {
		return errors.New(`write "part + part", optionally followed by "within N words" or "within N sentences"`)
	}
	c := combo{rule: rule, sentences: 1}
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a distance", m[2])
		}
		if strings.HasPrefix(m[3], "word") {
			if n > 50 {
				return errors.New("within more than 50 words: use sentences")
			}
			c.words = n
		} else {
			if n > 10 {
				return errors.New("within more than 10 sentences")
			}
			c.sentences = n
		}
	}
	parts := strings.Split(m[1], "+")
	if len(parts) < 2 || len(parts) > maxTogetherParts {
		return fmt.Errorf("needs 2 to %d parts joined by \"+\" (one part is a phrase)", maxTogetherParts)
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return errors.New(`a part between "+" is empty`)
		}
		id, ok := termIDs[p]
		if !ok {
			id = sc.terms
			if err := sc.addPhrase(sc.starts, p, -1, id, vocab); err != nil {
				return fmt.Errorf("part %q: %w", p, err)
			}
			termIDs[p] = id
			sc.terms++
		}
		c.terms = append(c.terms, id)
	}
	sc.combos = append(sc.combos, c)
	return nil
}

// addPhrase parses phrase, builds its automaton and indexes it by the words
// it can begin with: index holds, for a first word, the states the phrase
// is in once that word is read, so that matching never explores the
// alternatives of a phrase's start that the word rules out. A phrase
// ending is reported as rule, or as term when rule is -1.
func (sc *Screen) addPhrase(index map[string][]*state, phrase string, rule, term int, vocab map[string]bool) error {
	seq, err := sc.parsePhrase(phrase)
	if err != nil {
		return err
	}
	if minWords(seq) == 0 {
		return errors.New("has no words once normalized (is it only fillers?)")
	}
	start, end := newState(), newState()
	end.rule, end.term = rule, term
	build(seq, start, end, vocab)
	firsts := map[string]bool{}
	if err := firstWords(start, firsts, map[*state]bool{}); err != nil {
		return err
	}
	if gapAtEnd(seq) {
		return errors.New(`"..." must stand between words`)
	}
	var closure []*state
	epsClosure(start, &closure, map[*state]bool{})
	for w := range firsts {
		seen := map[*state]bool{}
		for _, c := range closure {
			for _, t := range c.next[w] {
				if !seen[t] {
					seen[t] = true
					index[w] = append(index[w], t)
				}
			}
		}
	}
	return nil
}

// epsClosure appends to out the states reachable from s without reading a
// word.
func epsClosure(s *state, out *[]*state, seen map[*state]bool) {
	if seen[s] {
		return
	}
	seen[s] = true
	*out = append(*out, s)
	for _, e := range s.eps {
		epsClosure(e, out, seen)
	}
}

// build adds the automaton of seq from state from to state to.
func build(seq []part, from, to *state, vocab map[string]bool) {
	if len(seq) == 0 {
		from.eps = append(from.eps, to)
		return
	}
	cur := from
	for i, pt := range seq {
		next := to
		if i < len(seq)-1 {
			next = newState()
		}
		switch {
		case pt.gap:
			g := newState()
			cur.eps = append(cur.eps, g)
			g.eps = append(g.eps, next)
			for range maxGap {
				s := newState()
				g.any = s
				s.eps = append(s.eps, next)
				g = s
			}
		case pt.alts != nil:
			for _, a := range pt.alts {
				build(a, cur, next, vocab)
			}
			if pt.optional {
				cur.eps = append(cur.eps, next)
			}
		default:
			s := cur
			for j, w := range pt.words {
				vocab[w] = true
				t := next
				if j < len(pt.words)-1 {
					t = newState()
				}
				if s.next == nil {
					s.next = map[string][]*state{}
				}
				s.next[w] = append(s.next[w], t)
				s = t
			}
		}
		cur = next
	}
}

// firstWords collects the words a phrase can begin with; a phrase that can
// begin with a gap is an error.
func firstWords(s *state, out map[string]bool, seen map[*state]bool) error {
	if seen[s] {
		return nil
	}
	seen[s] = true
	if s.any != nil {
		return errors.New(`"..." must stand between words`)
	}
	for w := range s.next {
		out[w] = true
	}
	for _, e := range s.eps {
		if err := firstWords(e, out, seen); err != nil {
			return err
		}
	}
	return nil
}

// gapAtEnd reports whether the last part that can match words is a gap.
func gapAtEnd(seq []part) bool {
	for i := len(seq) - 1; i >= 0; i-- {
		pt := seq[i]
		switch {
		case pt.gap:
			return true
		case pt.alts != nil:
			for _, a := range pt.alts {
				if gapAtEnd(a) {
					return true
				}
			}
			if !pt.optional {
				return false
			}
		case len(pt.words) > 0:
			return false
		}
	}
	return false
}

// compilePattern compiles a regular expression for the normalized text:
// case-insensitive, with repeated literal letters read as one.
func (sc *Screen) compilePattern(p string) (pattern, error) {
	src := collapsePattern(p)
	re, err := compileWithPrefilter("(?i)" + src)
	if err != nil {
		return pattern{}, err
	}
	// A word the normalizer rewrites never reaches a pattern: "dont" is
	// read as "do not". Say so rather than let the pattern silently fail.
	for _, w := range patternWords(src) {
		if vs, ok := sc.variants[w]; ok {
			for _, v := range vs {
				if len(v.from) == 1 {
					return pattern{}, fmt.Errorf("uses %q, which the screen reads as %q: write that instead", w, strings.Join(v.to, " "))
				}
			}
		}
	}
	return re, nil
}

// collapsePattern writes each run of one repeated literal letter of a
// regular expression once, as the normalizer does with text, unless a
// quantifier follows the run ("ss?" stays).
func collapsePattern(p string) string {
	rs := []rune(p)
	var b strings.Builder
	escaped := false
	var prev rune = -1
	for i, r := range rs {
		switch {
		case escaped:
			escaped = false
			prev = -1
		case r == '\\':
			escaped = true
			prev = -1
		case unicode.IsLetter(r) && unicode.ToLower(r) == prev:
			if i+1 < len(rs) && strings.ContainsRune("?*+{", rs[i+1]) {
				break
			}
			continue
		case unicode.IsLetter(r):
			prev = unicode.ToLower(r)
		default:
			prev = -1
		}
		b.WriteRune(r)
	}
	return b.String()
}

// patternWords returns the literal words (two letters or more) of a
// regular expression, skipping escapes such as \b and \w.
func patternWords(p string) []string {
	var words []string
	var cur []rune
	escaped, inClass := false, false
	flush := func() {
		if len(cur) >= 2 {
			words = append(words, strings.ToLower(string(cur)))
		}
		cur = cur[:0]
	}
	for _, r := range p {
		switch {
		case escaped:
			escaped = false
			flush()
		case r == '\\':
			escaped = true
			flush()
		case r == '[':
			inClass = true
			flush()
		case r == ']':
			inClass = false
			flush()
		case !inClass && unicode.IsLetter(r):
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return words
}

// Check reports whether text signals a crisis, and which category and rule
// matched. It never fails: a message it cannot read is not a crisis. It is
// safe for concurrent use.
func (s *Screen) Check(text string) (Hit, bool) {
	w := s.normalize(tokens(text))
	if len(w) == 0 {
		return Hit{}, false
	}
	masked := s.mask(w)
	best := len(s.rules)
	var hits []termHit // in order of start
	var found []uint64 // the terms in hits, as a bit set
	for i := range w {
		if masked[i] {
			continue
		}
		fromI := len(hits) // hits starting at i: only these can repeat
		for _, st := range s.starts[w[i]] {
			run(st, w, masked, i+1, func(st *state, end int) {
				if st.rule >= 0 && st.rule < best {
					best = st.rule
				}
				if st.term >= 0 && len(hits) < maxTermHits {
					h := termHit{st.term, span{i, end}}
					if !slices.Contains(hits[fromI:], h) {
						if found == nil {
							found = make([]uint64, (s.terms+63)/64)
						}
						found[st.term/64] |= 1 << (st.term % 64)
						hits = append(hits, h)
					}
				}
			})
		}
		if best == 0 {
			break
		}
	}
	if hits != nil {
		best = s.together(w, hits, found, best)
	}
	var joined string
	var present []uint64
	for r := 0; r < best; r++ {
		if len(s.rules[r].patterns) == 0 {
			continue
		}
		if present == nil {
			present = s.present(w, masked)
		}
		for _, p := range s.rules[r].patterns {
			if !p.possibleIn(present) {
				continue
			}
			if joined == "" {
				joined = joinMasked(w, masked)
			}
			if p.re.MatchString(joined) {
				best = r
				break
			}
		}
	}
	if best == len(s.rules) {
		return Hit{}, false
	}
	return Hit{Category: s.rules[best].category, Rule: s.rules[best].id}, true
}

// run follows the automaton from st at word i and calls found for every
// accepting state it reaches, with the index after the last word matched.
// Blanked words match nothing, and a gap cannot cross them.
func run(st *state, w []string, masked []bool, i int, found func(*state, int)) {
	if st.rule >= 0 || st.term >= 0 {
		found(st, i)
	}
	for _, e := range st.eps {
		run(e, w, masked, i, found)
	}
	if i >= len(w) || masked[i] {
		return
	}
	if st.next != nil {
		for _, t := range st.next[w[i]] {
			run(t, w, masked, i+1, found)
		}
	} else {
		for _, e := range st.edges {
			if e.word == w[i] {
				for _, t := range e.to {
					run(t, w, masked, i+1, found)
				}
				break
			}
		}
	}
	if st.any != nil && w[i] != boundaryWord {
		run(st.any, w, masked, i+1, found)
	}
}

// termHit is a match of a term of a combination.
type termHit struct {
	term int
	span
}

// together returns the first rule, before best, that has a combination
// whose parts all matched as it asks; best when there is none. hits are in
// order of start; found has the bit of every term in hits.
func (s *Screen) together(w []string, hits []termHit, found []uint64, best int) int {
	var sent []int // sentence number of each word, built when needed
	for _, c := range s.combos {
		if c.rule >= best {
			continue
		}
		ok := true
		for _, t := range c.terms {
			if found[t/64]&(1<<(t%64)) == 0 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if sent == nil {
			sent = make([]int, len(w))
			n := 0
			for i, x := range w {
				if x == boundaryWord {
					n++
				}
				sent[i] = n
			}
		}
		if c.find(hits, sent, make([]span, 0, len(c.terms))) {
			best = c.rule
		}
	}
	return best
}

// find reports whether the parts of c after those already chosen can
// match without overlapping them, within c's distance.
func (c combo) find(hits []termHit, sent []int, chosen []span) bool {
	k := len(chosen)
	if k == len(c.terms) {
		return true
	}
	lo, hi := 0, len(sent) // the range of words a next part may use
	first, last := len(sent), 0
	if k > 0 {
		for _, sp := range chosen {
			first, last = min(first, sp.start), max(last, sp.end)
		}
		if c.words > 0 {
			lo, hi = max(lo, last-c.words), min(hi, first+c.words)
		}
		// The sentences the parts may spread over.
		s0, s1 := sent[first], sent[last-1]
		from, to := s1-(c.sentences-1), s0+(c.sentences-1)
		for lo < hi && sent[lo] < from {
			lo++
		}
		for hi > lo && sent[hi-1] > to {
			hi--
		}
	}
	term := c.terms[k]
	next := sort.Search(len(hits), func(i int) bool { return hits[i].start >= lo })
	for _, h := range hits[next:] {
		sp := h.span
		if sp.start >= hi {
			break
		}
		if h.term != term || sp.end > hi || overlaps(sp, chosen) || c.words > 0 && max(last, sp.end)-min(first, sp.start) > c.words {
			continue
		}
		if c.find(hits, sent, append(chosen, sp)) {
			return true
		}
	}
	return false
}

func overlaps(sp span, chosen []span) bool {
	for _, o := range chosen {
		if sp.start < o.end && o.start < sp.end {
			return true
		}
	}
	return false
}

// present returns the bit set of the words patterns need that w has
// (leaving out masked words, when masked is not nil).
func (s *Screen) present(w []string, masked []bool) []uint64 {
	bits := make([]uint64, (len(s.needIdx)+63)/64+1)
	for i, x := range w {
		if masked != nil && masked[i] {
			continue
		}
		if k, ok := s.needIdx[x]; ok {
			bits[k/64] |= 1 << (k % 64)
		}
	}
	return bits
}

// mask marks the words that belong to a benign idiom.
func (s *Screen) mask(w []string) []bool {
	masked := make([]bool, len(w))
	none := make([]bool, len(w))
	for i := range w {
		for _, st := range s.benign[w[i]] {
			run(st, w, none, i+1, func(_ *state, end int) {
				for k := i; k < end; k++ {
					masked[k] = true
				}
			})
		}
	}
	if len(s.benignRe) > 0 {
		present := s.present(w, nil)
		var joined string
		var starts []int
		for _, p := range s.benignRe {
			if !p.possibleIn(present) {
				continue
			}
			if starts == nil {
				joined = strings.Join(w, " ")
				starts = make([]int, len(w))
				off := 0
				for i, x := range w {
					starts[i] = off
					off += len(x) + 1
				}
			}
			if !p.re.MatchString(joined) {
				continue
			}
			blank := p.re.SubexpIndex("blank")
			for _, m := range p.re.FindAllStringSubmatchIndex(joined, -1) {
				from, to := m[0], m[1]
				if blank > 0 {
					if m[2*blank] < 0 {
						continue
					}
					from, to = m[2*blank], m[2*blank+1]
				}
				for i := range w {
					if starts[i] < to && starts[i]+len(w[i]) > from {
						masked[i] = true
					}
				}
			}
		}
	}
	return masked
}

func joinMasked(w []string, masked []bool) string {
	var b strings.Builder
	for i, x := range w {
		if i > 0 {
			b.WriteByte(' ')
		}
		if masked[i] {
			b.WriteByte('_')
		} else {
			b.WriteString(x)
		}
	}
	return b.String()
}

// normalize applies spellings, fillers and typos to words from tokens.
func (s *Screen) normalize(w []string) []string { return s.rewrite(w, true) }

// rewrite applies spellings and fillers to words, and typos when fixTypos:
// the words of phrases are the vocabulary, so they are never "corrected".
func (s *Screen) rewrite(w []string, fixTypos bool) []string {
	out := make([]string, 0, len(w)+4)
	for i := 0; i < len(w); {
		if vs, ok := s.variants[w[i]]; ok {
			matched := false
			for _, v := range vs {
				if i+len(v.from) <= len(w) && slices.Equal(w[i:i+len(v.from)], v.from) {
					out = append(out, v.to...)
					i += len(v.from)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		if fixTypos {
			out = append(out, s.fix(w[i]))
		} else {
			out = append(out, w[i])
		}
		i++
	}
	return out
}

// fix rewrites a word with a one-slip typo of a typo word, or a word with
// "*" that can stand for a known word.
func (s *Screen) fix(x string) string {
	if s.known[x] {
		return x
	}
	if strings.Contains(x, "*") {
		n := utf8.RuneCountInString(x)
		for _, v := range s.typos {
			if wildEqual(x, v, n) {
				return v
			}
		}
		for _, v := range s.vocab {
			if wildEqual(x, v, n) {
				return v
			}
		}
	}
	n := len(x)
	if n < minTypoLen-1 {
		return x
	}
	for _, v := range s.typos {
		if d := n - len(v); d > 1 || d < -1 {
			continue
		}
		// One slip leaves the first letter, or moves it by one place.
		if x[0] != v[0] && x[1] != v[0] && x[0] != v[1] && x[0] != '*' {
			continue
		}
		if osa1(x, v) {
			return v
		}
	}
	return x
}

// wildEqual reports whether x, n runes long with "*" as any letter, can be v.
func wildEqual(x, v string, n int) bool {
	if utf8.RuneCountInString(v) != n || !strings.ContainsFunc(x, unicode.IsLetter) {
		return false
	}
	vr := []rune(v)
	i := 0
	for _, r := range x {
		if r != '*' && r != vr[i] {
			return false
		}
		i++
	}
	return true
}

// osa1 reports whether a and b are at most one edit apart: a letter
// missing, added or wrong, or two neighbours swapped ("*" matches any
// letter).
func osa1(a, b string) bool {
	if asciiOnly(a) && asciiOnly(b) {
		return osa1Of([]byte(a), []byte(b))
	}
	return osa1Of([]rune(a), []rune(b))
}

func osa1Of[T byte | rune](ar, br []T) bool {
	eq := func(x, y T) bool { return x == y || x == '*' || y == '*' }
	// Skip the common prefix and suffix; what is left must be one edit.
	i := 0
	for i < len(ar) && i < len(br) && eq(ar[i], br[i]) {
		i++
	}
	ja, jb := len(ar), len(br)
	for ja > i && jb > i && eq(ar[ja-1], br[jb-1]) {
		ja--
		jb--
	}
	da, db := ja-i, jb-i
	switch {
	case da <= 1 && db <= 1:
		return true // identical, one substitution, one insertion or deletion
	case da == 2 && db == 2:
		return eq(ar[i], br[i+1]) && eq(ar[i+1], br[i]) // swapped neighbours
	}
	return false
}

// tokens cuts text into normalized words: accents folded, lower case,
// apostrophes joined, leetspeak read, repeated letters collapsed (steps 1–4
// of the package comment).
func tokens(text string) []string {
	if !asciiOnly(text) {
		text = foldMarks(text)
	}
	var out []string
	var cur []rune
	rs := []rune(text)
	letterAt := func(i int) bool { return i >= 0 && i < len(rs) && unicode.IsLetter(rs[i]) }
	flush := func() {
		if len(cur) > 0 {
			if w := finishWord(cur); w != "" {
				out = append(out, w)
			}
			cur = cur[:0]
		}
	}
	boundary := func() {
		flush()
		if len(out) > 0 && out[len(out)-1] != boundaryWord {
			out = append(out, boundaryWord)
		}
	}
	for i := 0; i < len(rs); i++ {
		r := unicode.ToLower(rs[i])
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*':
			cur = append(cur, r)
		case isApostrophe(r) && len(cur) > 0 && letterAt(i+1):
			j := i + 1
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			if words, ok := contraction(cur, strings.ToLower(string(rs[i+1:j]))); ok {
				cur = cur[:0]
				out = append(out, words...)
				i = j - 1
			}
			// Otherwise the word goes on: "mom's" → "moms".
		case (r == '@' || r == '$') && (letterAt(i+1) || letterAt(i-1) && len(cur) > 0):
			if r == '@' {
				cur = append(cur, 'a')
			} else {
				cur = append(cur, 's')
			}
		case r == '!' && len(cur) > 0 && letterAt(i-1) && letterAt(i+1):
			cur = append(cur, 'i')
		case r == '\n' || (r == '.' || r == '!' || r == '?' || r == ';' || r == '…') && (i+1 == len(rs) || unicode.IsSpace(rs[i+1]) || rs[i+1] == '"' || rs[i+1] == '”' || rs[i+1] == ')'):
			boundary()
		default:
			flush()
		}
	}
	flush()
	if len(out) > 0 && out[len(out)-1] == boundaryWord {
		out = out[:len(out)-1]
	}
	return out
}

// boundaryWord is the word that stands for the end of a sentence in the
// normalized text: phrases never match across it, and patterns can anchor
// on it (`( \.|$)`).
const boundaryWord = "."

// contraction spells out a word with an apostrophe: "he'll" → "he will",
// "can't" → "can not". It reports false for a possessive or an unknown
// ending, which stays one word ("mom's" → "moms").
func contraction(word []rune, suffix string) ([]string, bool) {
	w := finishWord(slices.Clone(word))
	switch suffix {
	case "ll":
		return []string{w, "wil"}, w != "" // "will", with its letters collapsed
	case "re":
		return []string{w, "are"}, w != ""
	case "ve":
		return []string{w, "have"}, w != ""
	case "m":
		return []string{w, "am"}, w != ""
	case "d":
		return []string{w, "would"}, w != ""
	case "t":
		base := string(word)
		if !strings.HasSuffix(base, "n") {
			return nil, false
		}
		base = strings.TrimSuffix(base, "n")
		switch base {
		case "ca":
			base = "can"
		case "wo":
			base = "will"
		case "ai":
			base = "is"
		case "sha":
			base = "shall"
		case "":
			return nil, false
		}
		return []string{finishWord([]rune(base)), "not"}, true
	}
	return nil, false
}

var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't'}

// finishWord reads leetspeak in a word that starts with a letter, collapses
// runs of one repeated letter, and drops a word that is only "*".
func finishWord(cur []rune) string {
	if unicode.IsLetter(cur[0]) {
		for i, r := range cur {
			if l, ok := leet[r]; ok {
				cur[i] = l
			}
		}
	}
	var b strings.Builder
	var prev rune = -1
	content := false
	for _, r := range cur {
		if r == prev && unicode.IsLetter(r) {
			continue
		}
		if r != '*' {
			content = true
		}
		b.WriteRune(r)
		prev = r
	}
	if !content {
		return ""
	}
	return b.String()
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', 'ʼ', '`', '´', '′':
		return true
	}
	return false
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldMarks decomposes text (NFKD) and drops the combining marks, so "é"
// reads "e" and full-width or styled letters read as plain ones.
func foldMarks(s string) string {
	d := norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
