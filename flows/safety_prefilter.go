package flows

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// maxLiterals bounds how many strings the prefilter spells out for one part
// of a pattern; beyond it the part is treated as unknown.
const maxLiterals = 256

// pattern is a compiled regular expression with a prefilter: the regular
// expression can only match when, for every set in need, the text has at
// least one of its words. Go's regular expressions are linear but not fast
// on long texts; the prefilter skips nearly all of them.
type pattern struct {
	re   *regexp.Regexp
	need [][]string
	// needIdx is need with each word replaced by its number in the
	// screen's index of needed words (Screen.needIdx), so that Check tests
	// a bit rather than hashing the word.
	needIdx [][]int
}

// compileWithPrefilter compiles src (already in normalized form) and works
// out the words any match must contain.
func compileWithPrefilter(src string) (pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return pattern{}, err
	}
	p := pattern{re: re}
	if tree, err := syntax.Parse(src, syntax.Perl); err == nil {
		p.need = requiredWords(tree.Simplify())
	}
	return p, nil
}

// possibleIn reports whether a text can match whose needed words are the
// bits set in present (numbered as in needIdx): every set of need must have
// one of its words there.
func (p pattern) possibleIn(present []uint64) bool {
	for _, set := range p.needIdx {
		ok := false
		for _, i := range set {
			if present[i/64]&(1<<(i%64)) != 0 {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// indexNeeds numbers the needed words of p in index (adding new ones) and
// fills p.needIdx.
func (p *pattern) indexNeeds(index map[string]int) {
	p.needIdx = make([][]int, len(p.need))
	for k, set := range p.need {
		for _, w := range set {
			i, ok := index[w]
			if !ok {
				i = len(index)
				index[w] = i
			}
			p.needIdx[k] = append(p.needIdx[k], i)
		}
	}
}

// sep marks a word boundary (\b, ^ or $) inside spelled-out strings.
const sep = "\x00"

// requiredWords returns, for a regular expression, sets of words such that
// every match contains at least one word of each set as a whole word. It
// returns nil when it cannot tell, which only means no prefilter.
func requiredWords(re *syntax.Regexp) [][]string {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	elems := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		elems = re.Sub
	}
	var need [][]string
	for i, e := range elems {
		strs := finite(e)
		if strs == nil {
			continue
		}
		left, right := wholeBefore(elems, i), wholeAfter(elems, i)
		var set []string
		for _, str := range strs {
			w := longestWhole(str, left, right)
			if w == "" {
				set = nil
				break
			}
			if !slices.Contains(set, w) {
				set = append(set, w)
			}
		}
		if set != nil {
			need = append(need, set)
		}
	}
	return need
}

// longestWhole returns the longest word of str that is surely a whole word
// of the text: inside str, or at an edge that the neighbours close.
func longestWhole(str string, left, right bool) string {
	parts := strings.FieldsFunc(str, func(r rune) bool { return r == ' ' || r == 0 })
	if len(parts) == 0 {
		return ""
	}
	startsOpen := !strings.HasPrefix(str, " ") && !strings.HasPrefix(str, sep)
	endsOpen := !strings.HasSuffix(str, " ") && !strings.HasSuffix(str, sep)
	best := ""
	for k, w := range parts {
		if k == 0 && startsOpen && !left {
			continue
		}
		if k == len(parts)-1 && endsOpen && !right {
			continue
		}
		if len(w) > len(best) {
			best = w
		}
	}
	return best
}

// wholeBefore reports whether whatever precedes elems[i] in a match ends
// with a space or a word boundary.
func wholeBefore(elems []*syntax.Regexp, i int) bool {
	for j := i - 1; j >= 0; j-- {
		isSep, empty := edge(elems[j], false)
		if !isSep {
			return false
		}
		if !empty {
			return true
		}
	}
	return false
}

// wholeAfter reports whether whatever follows elems[i] in a match starts
// with a space or a word boundary.
func wholeAfter(elems []*syntax.Regexp, i int) bool {
	for j := i + 1; j < len(elems); j++ {
		isSep, empty := edge(elems[j], true)
		if !isSep {
			return false
		}
		if !empty {
			return true
		}
	}
	return false
}

// edge reports whether every non-empty match of re starts (first) or ends
// with a space or a word boundary, and whether re can match nothing.
func edge(re *syntax.Regexp, first bool) (isSep, empty bool) {
	switch re.Op {
	case syntax.OpLiteral:
		r := re.Rune[len(re.Rune)-1]
		if first {
			r = re.Rune[0]
		}
		return r == ' ', false
	case syntax.OpWordBoundary, syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine:
		return true, false
	case syntax.OpEmptyMatch:
		return true, true
	case syntax.OpCapture:
		return edge(re.Sub[0], first)
	case syntax.OpQuest, syntax.OpStar:
		s, _ := edge(re.Sub[0], first)
		return s, true
	case syntax.OpPlus:
		return edge(re.Sub[0], first)
	case syntax.OpRepeat:
		s, e := edge(re.Sub[0], first)
		return s, e || re.Min == 0
	case syntax.OpConcat:
		subs := re.Sub
		for k := range subs {
			sub := subs[k]
			if !first {
				sub = subs[len(subs)-1-k]
			}
			s, e := edge(sub, first)
			if !s {
				return false, false
			}
			if !e {
				return true, false
			}
		}
		return true, true
	case syntax.OpAlternate:
		anyEmpty := false
		for _, sub := range re.Sub {
			s, e := edge(sub, first)
			if !s {
				return false, false
			}
			anyEmpty = anyEmpty || e
		}
		return true, anyEmpty
	}
	return false, false
}

// finite spells out the strings re matches when they are few, lower-cased;
// nil when they are many or unbounded.
func finite(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpEmptyMatch:
		return []string{""}
	case syntax.OpWordBoundary, syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine:
		return []string{sep}
	case syntax.OpCapture:
		return finite(re.Sub[0])
	case syntax.OpCharClass:
		var out []string
		for k := 0; k+1 < len(re.Rune); k += 2 {
			for r := re.Rune[k]; r <= re.Rune[k+1]; r++ {
				out = append(out, strings.ToLower(string(r)))
				if len(out) > 16 {
					return nil
				}
			}
		}
		return dedupe(out)
	case syntax.OpQuest:
		s := finite(re.Sub[0])
		if s == nil {
			return nil
		}
		return dedupe(append(s, ""))
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			s := finite(sub)
			if s == nil {
				return nil
			}
			if out = cross(out, s); out == nil {
				return nil
			}
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			s := finite(sub)
			if s == nil {
				return nil
			}
			out = append(out, s...)
			if len(out) > maxLiterals {
				return nil
			}
		}
		return dedupe(out)
	}
	return nil
}

func cross(a, b []string) []string {
	if len(a)*len(b) > maxLiterals {
		return nil
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return dedupe(out)
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
