package llm

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason is why a rephrasing was used or not: the label of the verdict
// counter and of eval-rephrase's report.
type Reason string

// Verdicts. ReasonOK and ReasonCacheHit mean the rephrased text went out;
// every other reason means the scripted text went out instead.
const (
	ReasonOK       Reason = "ok"        // the model's output passed every check
	ReasonCacheHit Reason = "cache_hit" // a validated output from the cache

	// Before any call.
	ReasonEmptyText   Reason = "empty_text"   // nothing to rephrase
	ReasonCrisisText  Reason = "crisis_text"  // the text names 988, 741741 or 911: never sent
	ReasonNeverText   Reason = "never_text"   // a crisis, consent, privacy or disclosure text: never sent
	ReasonBreakerOpen Reason = "breaker_open" // recent calls failed; not calling for a while

	// The call failed.
	ReasonTimeout      Reason = "timeout"       // no answer within the timeout
	ReasonAPIError     Reason = "api_error"     // the endpoint answered with an OpenAI-style error
	ReasonRequestError Reason = "request_error" // the endpoint answered with an error of another shape
	ReasonTransport    Reason = "transport"     // no answer at all (connection refused, DNS…)
	ReasonCanceled     Reason = "canceled"      // the caller gave up first
	ReasonEmptyOutput  Reason = "empty_output"  // an answer with no text
	ReasonTruncated    Reason = "truncated"     // the answer was cut by the token limit
	ReasonFiltered     Reason = "filtered"      // the endpoint's content filter stopped it

	// The output was rejected.
	ReasonRefusal       Reason = "refusal"        // a refusal, an apology or a note about the task
	ReasonPersona       Reason = "persona"        // claims to be human or a clinician, or drops "automated"
	ReasonPlaceholder   Reason = "placeholder"    // a {placeholder} the text did not have
	ReasonNewURL        Reason = "new_url"        // a link or email the text did not have
	ReasonNewPhone      Reason = "new_phone"      // a phone number the text did not have
	ReasonNewMoney      Reason = "new_money"      // an amount of money the text did not have
	ReasonNewNumber     Reason = "new_number"     // a number the text did not have
	ReasonTokenMissing  Reason = "token_missing"  // a protected span was dropped
	ReasonTokenRepeated Reason = "token_repeated" // a protected span appears twice
	ReasonTokenUnknown  Reason = "token_unknown"  // a token that was never sent
	ReasonNegation      Reason = "negation"       // a "not", "no", "never"… added or dropped
	ReasonLength        Reason = "length"         // much shorter or longer than the text
	ReasonLanguage      Reason = "language"       // not in the text's language
)

// Reasons lists every verdict, for metrics and reports.
var Reasons = []Reason{
	ReasonOK, ReasonCacheHit, ReasonEmptyText, ReasonCrisisText, ReasonNeverText, ReasonBreakerOpen,
	ReasonTimeout, ReasonAPIError, ReasonRequestError, ReasonTransport, ReasonCanceled,
	ReasonEmptyOutput, ReasonTruncated, ReasonFiltered,
	ReasonRefusal, ReasonPersona, ReasonPlaceholder, ReasonNewURL, ReasonNewPhone, ReasonNewMoney,
	ReasonNewNumber, ReasonTokenMissing, ReasonTokenRepeated, ReasonTokenUnknown, ReasonNegation,
	ReasonLength, ReasonLanguage,
}

// Used reports whether the verdict let the rephrased text go out.
func (r Reason) Used() bool { return r == ReasonOK || r == ReasonCacheHit }

// limits bound how much a rephrasing may change a text's length.
type limits struct {
	// minRatio and maxRatio bound the rephrased length over the scripted
	// length (in characters, protected values put back).
	minRatio, maxRatio float64
	// slack is added to the upper bound, so a very short text may gain a
	// few words ("Thanks! ").
	slack int
}

// limitsFor returns the length limits of a style.
func limitsFor(s Style) limits {
	switch s {
	case StyleShort:
		return limits{minRatio: 0.35, maxRatio: 1.1, slack: 10}
	case StylePlain:
		return limits{minRatio: 0.6, maxRatio: 1.5, slack: 20}
	default:
		return limits{minRatio: 0.6, maxRatio: 1.6, slack: 30}
	}
}

var (
	// refusalRe, personaRe and automatedRe run on lower-cased text (faster
	// than case folding in the regexp).
	//
	// refusalRe: a refusal, an apology, or talk about the task instead of
	// the text.
	refusalRe = regexp.MustCompile(`\b(?:i(?:'m|’m| am) (?:sorry|unable|not able|afraid)|i (?:can(?:not|'t|’t)|won(?:'t|’t)|will not) (?:help|assist|do|provide|comply|rephrase|rewrite|fulfil)|as an ai\b|as a language model|language model|against (?:my|the) (?:guidelines|polic)|here(?:'s|’s| is| are) (?:a |the |your )?(?:rephras|rewrit|reword|revised|updated|warmer|plainer|shorter)|rephrased (?:text|version|message)|(?:rewritten|reworded|revised) (?:text|version|message)|^\s*(?:sure|certainly|of course)[,!.])`)
	// personaRe: a claim to be a person or a clinician.
	personaRe = regexp.MustCompile(`\b(?:i(?:'m|’m| am) (?:a |an |your )?(?:real |actual |live |licensed |trained )?(?:human|person|therapist|counsel+or|clinician|psychiatrist|psychologist|doctor|physician|nurse|social worker|psychotherapist|mental[- ]health professional|staff member|team member)\b|as (?:a|an|your) (?:licensed |trained )?(?:therapist|counsel+or|clinician|psychiatrist|psychologist|doctor|physician|nurse|social worker|psychotherapist|mental[- ]health professional)\b|i(?:'m|’m| am) not (?:a |an )?(?:bot|robot|ai|machine|computer|automated)\b|i(?:'m|’m| am) (?:a )?real\b|(?:my|our) (?:patients|clients)\b|in my (?:clinical )?(?:experience|practice)\b|speaking as a\b)`)
	// automatedRe finds the disclosure a rephrasing must keep.
	automatedRe = regexp.MustCompile(`\b(?:automated|bot|virtual assistant|ai assistant)\b`)
	// strayTokenRe finds token delimiters that are not a well-formed token.
	strayTokenRe = regexp.MustCompile(tokOpen + `|` + tokClose)
)

// check decides whether out, the model's answer for m (the masked form of
// orig), may replace orig. It returns ReasonOK and the text to send, or the
// reason it was rejected.
func check(orig string, m masked, out string, lim limits) (Reason, string) {
	out = cleanOutput(out, orig)
	if strings.TrimSpace(out) == "" {
		return ReasonEmptyOutput, ""
	}
	lout, lorig := strings.ToLower(out), strings.ToLower(orig)
	if more(refusalRe, lout, lorig) {
		return ReasonRefusal, ""
	}
	if more(personaRe, lout, lorig) {
		return ReasonPersona, ""
	}
	if automatedRe.MatchString(lorig) && !automatedRe.MatchString(lout) {
		return ReasonPersona, ""
	}
	// Tokens: each exactly once, none invented.
	seen := make([]int, len(m.Values))
	for _, sm := range tokenRe.FindAllStringSubmatch(out, -1) {
		n, err := strconv.Atoi(sm[1])
		if err != nil || n < 1 || n > len(m.Values) {
			return ReasonTokenUnknown, ""
		}
		seen[n-1]++
	}
	// Anything factual outside the tokens is new: the scripted text's
	// facts are all inside tokens.
	rest := tokenRe.ReplaceAllString(out, " ")
	if strayTokenRe.MatchString(rest) {
		return ReasonTokenUnknown, ""
	}
	if placeholderRe.MatchString(rest) || strings.ContainsAny(rest, "{}") {
		return ReasonPlaceholder, ""
	}
	lrest := asciiLower(rest)
	switch {
	case mayEmail(lrest) && emailRe.MatchString(lrest), mayURL(lrest) && urlRe.MatchString(lrest):
		return ReasonNewURL, ""
	case hasDigit(rest) && phoneRe.MatchString(lrest):
		return ReasonNewPhone, ""
	case strings.ContainsAny(rest, "$€£"), hasDigit(rest) && moneyRe.MatchString(lrest):
		return ReasonNewMoney, ""
	case hasDigit(rest), numberWordRe.MatchString(lrest):
		return ReasonNewNumber, ""
	}
	for _, n := range seen {
		if n == 0 {
			return ReasonTokenMissing, ""
		}
	}
	for _, n := range seen {
		if n > 1 {
			return ReasonTokenRepeated, ""
		}
	}
	// A negation added or dropped flips a fact ("is covered" / "is not
	// covered"); a rewording that keeps the meaning keeps their number.
	if negations(lrest) != negations(asciiLower(tokenRe.ReplaceAllString(m.Text, " "))) {
		return ReasonNegation, ""
	}
	final := unmask(out, m.Values)
	lo, ln := utf8.RuneCountInString(orig), utf8.RuneCountInString(final)
	if float64(ln) < lim.minRatio*float64(lo) || float64(ln) > lim.maxRatio*float64(lo)+float64(lim.slack) {
		return ReasonLength, ""
	}
	if !sameLanguage(tokenRe.ReplaceAllString(m.Text, " "), rest) {
		return ReasonLanguage, ""
	}
	return ReasonOK, final
}

// cleanOutput removes wrapping a model may add around its answer: code
// fences, quotes the scripted text did not have, spaces inside tokens.
func cleanOutput(out, orig string) string {
	out = strings.TrimSpace(out)
	if strings.HasPrefix(out, "```") {
		out = strings.TrimPrefix(out, "```")
		if i := strings.IndexByte(out, '\n'); i >= 0 && !strings.ContainsAny(out[:i], " ⟦") {
			out = out[i+1:] // a language tag line ("```text")
		}
		out = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(out), "```"))
	}
	for _, q := range [][2]string{{`"`, `"`}, {"“", "”"}, {"'", "'"}} {
		if len(out) >= 2 && strings.HasPrefix(out, q[0]) && strings.HasSuffix(out, q[1]) && !strings.HasPrefix(strings.TrimSpace(orig), q[0]) {
			out = strings.TrimSpace(out[len(q[0]) : len(out)-len(q[1])])
		}
	}
	return tokenRe.ReplaceAllStringFunc(out, func(t string) string {
		return token(atoi(tokenRe.FindStringSubmatch(t)[1]))
	})
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// more reports whether re matches more often in out than in orig, so a
// phrase the scripted text already had does not count against the output.
func more(re *regexp.Regexp, out, orig string) bool {
	n := len(re.FindAllStringIndex(out, -1))
	return n > 0 && n > len(re.FindAllStringIndex(orig, -1))
}

func hasDigit(s string) bool {
	for _, r := range s {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// negationRe finds English negations, on lower-cased text.
var negationRe = regexp.MustCompile(`\b(?:not|no|never|none|nothing|nobody|neither|nor|without|cannot)\b|n['’]t\b`)

// negations counts the negations of a lower-cased text.
func negations(lower string) int { return len(negationRe.FindAllStringIndex(lower, -1)) }

// Language check: a cheap guess from stop words and script, enough to catch
// a translation or a reply in another language; not a language detector.

// stopWords are frequent function words of the languages a program is
// likely to use; words shared between languages are left out.
var stopWords = map[string]map[string]bool{
	"en": set("the and to of you your is are in for with that it we our can be this or on will if as at have not an do what how from by us they their about when who would like so there was were has been which"),
	"es": set("el la los las del que y en un una es por para con su sus se al como más pero usted nuestro nuestra nuestros puede le lo este esta tiene hay muy también"),
	"fr": set("le les des du et est pour que qui dans vous votre vos nous notre pas sur avec ce au aux une un il elle sont peut être"),
	"de": set("der die das und ist zu den mit sie ein eine nicht für auf wir ihr ihre von im dem es sich auch oder wenn können sind"),
	"pt": set("os as do da dos das em um uma que para com não você seu sua nós nosso nossa por mais pode são também"),
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// sameLanguage reports whether b reads as the same language as a: the same
// writing system, and the same best stop-word language when a has enough
// words to tell.
func sameLanguage(a, b string) bool {
	if latinShare(a) >= 0.9 && latinShare(b) < 0.8 {
		return false
	}
	la, na := guessLanguage(a)
	if la == "" {
		return true
	}
	lb, nb := guessLanguage(b)
	if lb == "" {
		// A text of some length with none of the language's function
		// words is in another language.
		return nb < 6 || na < 6
	}
	return la == lb
}

// guessLanguage returns the language whose stop words are the largest share
// of s's words (at least 12%), or "", and the number of words.
func guessLanguage(s string) (string, int) {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' })
	if len(words) < 3 {
		return "", len(words)
	}
	best, bestN := "", 0
	for _, lang := range []string{"en", "es", "fr", "de", "pt"} {
		n := 0
		for _, w := range words {
			if stopWords[lang][w] {
				n++
			}
		}
		if n > bestN {
			best, bestN = lang, n
		}
	}
	if float64(bestN) < 0.12*float64(len(words)) {
		return "", len(words)
	}
	return best, len(words)
}

// latinShare is the share of s's letters written in the Latin script.
func latinShare(s string) float64 {
	letters, latin := 0, 0
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		if unicode.Is(unicode.Latin, r) {
			latin++
		}
	}
	if letters == 0 {
		return 1
	}
	return float64(latin) / float64(letters)
}
