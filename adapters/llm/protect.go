package llm

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"intakebot/flows"
)

// Protected spans: every fact a model could get wrong is replaced by a
// numbered token before the text leaves the service, and put back after.
// The model never sees a phone number, a link, a number or the program's
// name; it can only move tokens around, and the check rejects an output that
// drops, repeats or invents one.

// Token delimiters. They are rare in real text, survive every tokenizer
// tried, and models copy them reliably.
const (
	tokOpen  = "⟦"
	tokClose = "⟧"
)

// Span kinds, used for the reasons of a rejected output.
const (
	kindPlaceholder = "placeholder"
	kindProgram     = "program"
	kindEmail       = "email"
	kindURL         = "url"
	kindPhone       = "phone"
	kindMoney       = "money"
	kindNumber      = "number"
)

var (
	placeholderRe = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_.]*\}`)
	emailRe       = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	urlRe         = regexp.MustCompile(`\b(?:https?://|www\.)[^\s<>()"]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:org|com|net|gov|edu|io|us|info|health|care|app)\b(?:/[^\s<>()"]*)?`)
	phoneRe       = regexp.MustCompile(`(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\b\d{3})[\s.-]?\d{3}[\s.-]?\d{4}\b`)
	// moneyRe: "$200", "$1,500.00", "200 dollars", "$5k".
	moneyRe = regexp.MustCompile(`\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|thousand|million)\b)?(?:\s?(?:–|—|-|to)\s?\$?\s?\d[\d,]*(?:\.\d+)?)?|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars?|usd)\b`)
	// numberRe: digits with an optional range and unit: "6–12 weeks",
	// "9-20 hours", "3 to 5 days", "5:30 pm", "50%", "988", "2nd".
	numberRe = regexp.MustCompile(`\b\d+(?:[.,:]\d+)*(?:st|nd|rd|th)?(?:\s?%)?(?:\s?(?:–|—|-|to|or)\s?\d+(?:[.,:]\d+)*(?:\s?%)?)?(?:\s?(?:am|pm|a\.m\.|p\.m\.))?(?:[-\s](?:hours?|hrs?|weeks?|days?|months?|years?|minutes?|mins?|sessions?|times?|percent)\b)?`)
	// numberWordRe: spelled-out quantities. Bare "one" and "half" are
	// everyday words, so they only count with a unit.
	numberWordRe = regexp.MustCompile(`\b(?:(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|dozen|twice|thrice)(?:[\s-](?:to|or|and)[\s-](?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty))?(?:[\s-](?:hours?|weeks?|days?|months?|years?|minutes?|sessions?|times?))?|(?:one|an? half|half an?)[\s-](?:to[\s-](?:two|three|four|five|six)[\s-])?(?:hours?|weeks?|days?|months?|years?|minutes?|sessions?))\b`)
	// digitRunRe is any run of digits.
	digitRunRe = regexp.MustCompile(`\d+(?:[.,:]\d+)*`)
	// tokenRe finds tokens in a model's output, tolerating spaces inside.
	tokenRe = regexp.MustCompile(tokOpen + `\s*(\d+)\s*` + tokClose)
	// crisisNumberRe finds the crisis numbers; a text with one is never sent.
	crisisNumberRe = regexp.MustCompile(`(?:^|\D)(?:988|741741|911)(?:\D|$)`)
)

// detector finds one kind of span.
type detector struct {
	kind     string
	priority int
	re       *regexp.Regexp
	// may is a cheap test: false means re cannot match (skips the scan).
	may func(lower string) bool
}

func always(string) bool { return true }

func mayEmail(s string) bool { return strings.Contains(s, "@") }

func mayURL(s string) bool {
	if strings.Contains(s, "://") || strings.Contains(s, "www.") {
		return true
	}
	for _, tld := range []string{".org", ".com", ".net", ".gov", ".edu", ".io", ".us", ".info", ".health", ".care", ".app"} {
		if strings.Contains(s, tld) {
			return true
		}
	}
	return false
}

func mayPlaceholder(s string) bool { return strings.Contains(s, "{") }

// detectors in priority order; they run on asciiLower(text), so their
// patterns are written in lower case: a higher-priority span wins an overlap.
var detectors = []detector{
	{kindPlaceholder, 0, placeholderRe, mayPlaceholder},
	{kindEmail, 2, emailRe, mayEmail},
	{kindURL, 3, urlRe, mayURL},
	{kindPhone, 4, phoneRe, hasDigit},
	{kindMoney, 5, moneyRe, hasDigit},
	{kindNumber, 6, numberRe, hasDigit},
	{kindNumber, 7, numberWordRe, always},
	// Any other digits ("S56"), so that no digit of the text is left
	// outside a token: the check treats every digit outside one as new.
	{kindNumber, 8, digitRunRe, hasDigit},
}

// protector masks the protected spans of texts for one program.
type protector struct {
	// literals are program values (name, phone, hours, sites…), longest
	// first so that "Sample Harbor Adult IOP" wins over "Sample Harbor".
	literals []string
}

// newProtector protects the program's values: every {program.*} value
// except the time zone, and each site's name, address and hours, and each
// state where virtual care is offered.
func newProtector(spec *flows.Spec) *protector {
	seen := map[string]bool{}
	var lits []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len([]rune(v)) < 3 || seen[v] {
			return
		}
		seen[v] = true
		lits = append(lits, v)
	}
	if spec != nil {
		for k, v := range spec.ProgramValues() {
			if k == "timezone" {
				continue
			}
			add(v)
		}
		for _, s := range spec.Program.Sites {
			add(s.Name)
			add(s.Address)
			add(s.Hours)
		}
		for _, s := range spec.Program.VirtualStates {
			add(s)
		}
	}
	sort.Slice(lits, func(i, j int) bool {
		if len(lits[i]) != len(lits[j]) {
			return len(lits[i]) > len(lits[j])
		}
		return lits[i] < lits[j]
	})
	return &protector{literals: lits}
}

// masked is a text with its protected spans replaced by tokens.
type masked struct {
	// Text holds tokens ⟦1⟧…⟦n⟧ in place of the protected spans.
	Text string
	// Values[i] is the original text of token i+1; Kinds[i] its kind.
	Values []string
	Kinds  []string
}

// span is a protected part of a text, by byte offsets.
type span struct {
	start, end int
	kind       string
	priority   int
}

// mask replaces every protected span of s by a token. Each occurrence gets
// its own token, so each token must come back exactly once.
func (p *protector) mask(s string) masked {
	var cands []span
	for _, lit := range p.literals {
		for off := 0; ; {
			i := strings.Index(s[off:], lit)
			if i < 0 {
				break
			}
			cands = append(cands, span{off + i, off + i + len(lit), kindProgram, 1})
			off += i + len(lit)
		}
	}
	lower := asciiLower(s)
	for _, d := range detectors {
		if !d.may(lower) {
			continue
		}
		for _, loc := range d.re.FindAllStringIndex(lower, -1) {
			start, end := loc[0], trimURLEnd(s, loc[0], loc[1], d.kind)
			if end > start {
				cands = append(cands, span{start, end, d.kind, d.priority})
			}
		}
	}
	// Highest priority first, then longest, then leftmost; keep what does
	// not overlap what was kept.
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		if la, lb := a.end-a.start, b.end-b.start; la != lb {
			return la > lb
		}
		return a.start < b.start
	})
	var kept []span
	for _, c := range cands {
		ok := true
		for _, k := range kept {
			if c.start < k.end && k.start < c.end {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].start < kept[j].start })
	var b strings.Builder
	m := masked{Values: make([]string, 0, len(kept)), Kinds: make([]string, 0, len(kept))}
	last := 0
	for i, k := range kept {
		b.WriteString(s[last:k.start])
		b.WriteString(token(i + 1))
		m.Values = append(m.Values, s[k.start:k.end])
		m.Kinds = append(m.Kinds, k.kind)
		last = k.end
	}
	b.WriteString(s[last:])
	m.Text = b.String()
	return m
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay those of
// s (faster than case folding in every regexp).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// trimURLEnd drops trailing punctuation from a URL match ("see x.org.").
func trimURLEnd(s string, start, end int, kind string) int {
	if kind != kindURL {
		return end
	}
	for end > start && strings.ContainsRune(".,;:!?'’", rune(s[end-1])) {
		end--
	}
	return end
}

// token returns the token for index i (1-based).
func token(i int) string { return tokOpen + strconv.Itoa(i) + tokClose }

// unmask puts the protected values back in place of their tokens. Call it
// only on an output that passed the check.
func unmask(out string, values []string) string {
	return tokenRe.ReplaceAllStringFunc(out, func(t string) string {
		n, err := strconv.Atoi(tokenRe.FindStringSubmatch(t)[1])
		if err != nil || n < 1 || n > len(values) {
			return t
		}
		return values[n-1]
	})
}

// hasCrisisNumber reports whether s mentions 988, 741741 or 911.
func hasCrisisNumber(s string) bool { return crisisNumberRe.MatchString(s) }

// redactQuestion removes what could identify a participant or carry a fact
// from their message before it may leave the service: emails, links, phone
// numbers, every number, a name after "my name is" / "call me" / "I'm",
// and token delimiters.
func redactQuestion(q string) string {
	q = strings.NewReplacer(tokOpen, "", tokClose, "").Replace(q)
	q = replaceFolded(emailRe, q, "[email]")
	q = replaceFolded(urlRe, q, "[link]")
	q = replaceFolded(phoneRe, q, "[phone]")
	q = digitsRe.ReplaceAllString(q, "[number]")
	q = nameRe.ReplaceAllString(q, "${1}[name]")
	q = nameIntroRe.ReplaceAllString(q, "${1}[name]")
	return q
}

// replaceFolded replaces every match of re (a lower-case pattern) in
// asciiLower(s) by repl, in s.
func replaceFolded(re *regexp.Regexp, s, repl string) string {
	locs := re.FindAllStringIndex(asciiLower(s), -1)
	if len(locs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		b.WriteString(repl)
		last = l[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

var (
	digitsRe = regexp.MustCompile(`\d[\d\s.,:/()-]*\d|\d`)
	// nameRe: "my name is jordan lee" in any case (up to three words).
	nameRe = regexp.MustCompile(`(?i)\b((?:my|first|last|full) name(?: is|'s|:)\s*)\p{L}[\p{L}'-]*(?:\s+\p{L}[\p{L}'-]*){0,2}`)
	// nameIntroRe: "I'm Jordan Lee", "this is Jordan": capitalized words
	// after an introduction.
	nameIntroRe = regexp.MustCompile(`\b((?i:this is|i am|i'm|i’m|im|call me|it's|it’s)\s+)\p{Lu}[\p{L}'-]*(?:\s+\p{Lu}[\p{L}'-]*)*`)
)
