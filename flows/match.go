package flows

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"
	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"
)

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

// String names the decision, for logs and test output.
func (d Decision) String() string {
	switch d {
	case Abstain:
		return "abstain"
	case Suggest:
		return "suggest"
	case Answer:
		return "answer"
	}
	return fmt.Sprintf("decision(%d)", int(d))
}

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
//
// It is a small TF-IDF retriever built for the way people type on a phone.
// A message is normalized (Unicode folding, case, apostrophes, punctuation,
// stretched letters); words the FAQ does not know are corrected to the
// closest word of its questions, keywords, synonyms, stop words and
// everyday words (Levenshtein distance, an adjacent swap counted as one
// edit), so "insurnace" finds "insurance" and "shoud" counts as the little
// word it is; words are stemmed (Snowball English); synonyms and IOP
// abbreviations are mapped onto the FAQ's own words, regardless of
// inflection ("weeks" finds a synonym written "week"); stop words are
// dropped and everyday words ("part", "help", "heard", "today") weigh less;
// adjacent words also form two-word terms, so "group therapy" weighs more
// than "group" and "therapy" apart.
//
// An entry's score blends the best cosine similarity against one of its
// example questions, keywords or title, the share of the message that the
// entry's own words cover, and the similarity against the whole entry with
// its answer counted lightly. Words the FAQ has never seen weigh in the
// message's length (everyday ones only a little), so a message about
// something else scores low and the matcher abstains instead of forcing an
// answer.
//
// A wrong answer is worse than offering two or three topics, so Match
// answers only when the best entry is clearly ahead (matching.margin), when
// the message shares more with it than a single topic word lost among words
// the FAQ has never seen, and, for a long message, when it scores well
// above matching.answer; otherwise it offers the best topics as buttons.
//
// Everything is precomputed by NewMatcher; Match only reads shared state, so
// it is safe for concurrent use.
type Matcher struct {
	ids     []string
	answer  float64
	suggest float64
	margin  float64

	// terms maps a stem, or a pair of stems (pairKey), to its term id; idf
	// is indexed by term id.
	terms      map[string]int32
	idf        []float64
	unknownIDF float64
	// light marks everyday words and numbers (lightWords): they weigh less
	// and are no evidence on their own.
	light []bool

	// stems caches the stem of every word the matcher was built from.
	stems map[string]string
	// known are words that are never "corrected": FAQ words, answer words,
	// synonym words and stop words.
	known map[string]bool
	// Typo correction: the vocabulary (words of questions, keywords, titles
	// and synonyms), each word's frequency, and the deletion index (a word
	// and its one- and, for long words, two-rune deletions -> word ids).
	vocab   []string
	freq    []int
	deletes map[string][]int32

	// synonyms by the uninflected first word of the phrase (see tok.light),
	// longest phrase first.
	synonyms map[string][]synRule

	// Documents are example questions, keywords and titles; docEntry is the
	// entry each belongs to.
	docPost  [][]posting
	docNorm  []float64
	docEntry []int32
	// coverPost lists, per term, the entries whose questions, keywords or
	// title use it.
	coverPost [][]int32
	// The entry as a whole: questions, keywords and title, plus the answer.
	bagPost [][]posting
	bagNorm []float64
}

type posting struct {
	doc int32
	w   float32
}

// tok is one word of a text on its way to terms.
type tok struct {
	raw, stem string
	// light is the word without its inflection, and lightE the same with
	// an e put back when an ending was cut ("improving" -> "improv",
	// "improve"), for synonym matching.
	light, lightE string
	stop          bool
	// fixed marks a typo correction.
	fixed bool
}

// synRule maps a phrase to the tokens it counts as.
type synRule struct {
	from []tok
	to   []tok
}

// Scoring constants, tuned on the paraphrase and out-of-scope test sets.
// The thresholds that decide answer, suggest or abstain live in flows.yaml
// (matching:); these shape the score itself.
const (
	// An entry's score blends three similarities: the best cosine against
	// one of its documents (weightBest), the share of the message's weight
	// that its questions, keywords and title cover (weightCover), and the
	// cosine against the whole entry, answer included (weightBag).
	weightBest  = 0.60
	weightCover = 0.25
	weightBag   = 0.15
	// answerWeight is how much a word found only in the answer counts in
	// the entry as a whole.
	answerWeight = 0.35
	// bigramWeight scales the weight of two-word terms.
	bigramWeight = 0.3
	// correctedWeight discounts a word that was a typo correction.
	correctedWeight = 0.85
	// lightWeight scales the weight of everyday words (lightWords), and
	// lightMaxWeight caps it: an everyday word the FAQ happens to use only
	// once ("along", "refer") must not outweigh the topic.
	lightWeight    = 0.5
	lightMaxWeight = 1.0
	// unknownWeight scales the weight of a word the FAQ has never seen,
	// relative to the rarest FAQ word.
	unknownWeight = 1.0
	// everydayUnknownWeight scales the weight of an everyday word
	// (everydayWords) the FAQ has never seen, relative to another unknown
	// word: "heard", "today" or "lol" say nothing about the topic, and at
	// full weight they would sink a real question.
	everydayUnknownWeight = 0.1
)

// Decision constants: when a good score is still not an answer.
const (
	// minEvidence is how much weight of words that are not everyday words
	// the best entry must share with a message to be answered outright;
	// "not sure" or "after 12" alone is no question about a topic.
	minEvidence = 1.0
	// weakUnknown is the share of a message's weight in words the FAQ has
	// never seen above which a match on a single topic word is weak ("is
	// it going to rain this weekend" shares only "weekend"); weakSuggest is
	// how far above matching.suggest a weak match must score to be offered.
	weakUnknown = 0.4
	weakSuggest = 0.2
	// longMessageWords is how many content words make a message long (the
	// FAQ's questions have fewer than 10); longMessageBar is how much higher
	// than matching.answer a long message must score to be answered.
	longMessageWords = 10
	longMessageBar   = 0.1
	// disagreeMargin is the lead the best entry needs over the runner-up
	// (instead of matching.margin, when that is smaller) when the entry
	// with the closest example question is not the entry closest as a
	// whole.
	disagreeMargin = 0.08
	// maxQueryWords bounds the work on very long messages.
	maxQueryWords = 400
	// maxCandidates is how many candidates a result carries.
	maxCandidates = 3
)

var builtinSynonyms = map[string][]string{
	"intensive outpatient program":      {"iop"},
	"intensive outpatient programs":     {"iop"},
	"intensive outpatient programme":    {"iop"},
	"intensive outpatient treatment":    {"iop"},
	"intensive outpatient":              {"iop"},
	"intensive out patient":             {"iop"},
	"iops":                              {"iop"},
	"partial hospitalization program":   {"php"},
	"partial hospitalisation programme": {"php"},
	"partial hospitalization":           {"php"},
	"partial hospitalisation":           {"php"},
	"partial hospital program":          {"php"},
	"partial hospital":                  {"php"},
	"partial program":                   {"php"},
	"phps":                              {"php"},
	"post traumatic stress disorder":    {"ptsd"},
	"posttraumatic stress disorder":     {"ptsd"},
	"post traumatic stress":             {"ptsd"},
	"c ptsd":                            {"ptsd"},
	"cptsd":                             {"ptsd"},
	"cognitive behavioral therapy":      {"cbt"},
	"cognitive behavioural therapy":     {"cbt"},
	"cognitive behavior therapy":        {"cbt"},
	"cognitive behaviour therapy":       {"cbt"},
	"dialectical behavior therapy":      {"dbt"},
	"dialectical behaviour therapy":     {"dbt"},
	"dialectical behavioral therapy":    {"dbt"},
	"medication assisted treatment":     {"mat"},
	"medication assisted therapy":       {"mat"},
	"eye movement desensitization":      {"emdr"},
	"substance use disorder":            {"substance", "use"},
	"substance use disorders":           {"substance", "use"},
	"sud":                               {"substance", "use"},
	"suds":                              {"substance", "use"},
	"aod":                               {"substance", "use"},
	"mh":                                {"mental", "health"},
	"tx":                                {"treatment"},
	"dx":                                {"diagnosis"},
	"rx":                                {"medication"},
	"er":                                {"emergency"},
	"ed visit":                          {"emergency"},
	"pcp":                               {"primary", "care"},
	"np":                                {"nurse", "practitioner"},
	"pmhnp":                             {"psychiatric", "nurse", "practitioner"},
	"oop":                               {"out", "of", "pocket"},
	"prior auth":                        {"prior", "authorization"},
	"pre auth":                          {"prior", "authorization"},
	"preauth":                           {"prior", "authorization"},
	"vs":                                {"difference"},
	"versus":                            {"difference"},
	"v s":                               {"difference"},
	"diff":                              {"difference"},
	"bi polar":                          {"bipolar"},
	"in network":                        {"innetwork"},
	"out of network":                    {"outofnetwork"},
	"out of pocket":                     {"outofpocket"},
	"step down":                         {"stepdown"},
	"stepdown":                          {"stepdown"},
	"after care":                        {"aftercare"},
	"in person":                         {"inperson"},
	"tele health":                       {"telehealth"},
	"co occurring":                      {"cooccurring"},
	"dual dx":                           {"dual", "diagnosis"},
	"sliding scale":                     {"slidingscale"},
	"sliding fee":                       {"slidingscale"},
	"payment plan":                      {"paymentplan"},
	"payment plans":                     {"paymentplan"},
	"one on one":                        {"individual"},
	"1 on 1":                            {"individual"},
	"1 1":                               {"individual"},
	"eating disorder":                   {"eatingdisorder"},
	"eating disorders":                  {"eatingdisorder"},
	"behavioral activation":             {"behavioralactivation"},
	"behavioural activation":            {"behavioralactivation"},
	"relapse prevention":                {"relapseprevention"},
	"dual diagnosis":                    {"dualdiagnosis"},
	"red flag":                          {"redflag"},
	"red flags":                         {"redflag"},
	"level of care":                     {"levelofcare"},
	"levels of care":                    {"levelofcare"},
	"higher level of care":              {"higher", "levelofcare"},
	"continuum of care":                 {"levelofcare"},
	"nurse practitioner":                {"nurse", "practitioner"},
	"psych":                             {"psychiatric"},
	"psych meds":                        {"psychiatric", "medication"},
	"trauma informed":                   {"traumainformed"},
	"trauma focused":                    {"traumafocused"},
	"peer support":                      {"peersupport"},
	"primary care":                      {"primarycare"},
	"symptom scales":                    {"symptomscale"},
	"symptom scale":                     {"symptomscale"},
	"success rate":                      {"outcomes"},
}

var usStates = []string{"alabama", "alaska", "arizona", "arkansas", "california", "colorado",
	"connecticut", "delaware", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
	"kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota",
	"mississippi", "missouri", "montana", "nebraska", "nevada", "new hampshire", "new jersey",
	"new mexico", "new york", "north carolina", "north dakota", "ohio", "oklahoma", "oregon",
	"pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah",
	"vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming", "district of columbia"}

// lightWords are everyday words that do carry some meaning but say little
// about which topic a question is on ("part", "best", "help", "work"). In a
// FAQ of a few dozen entries such a word can look rare, and a short example
// question made of it would then capture any message that uses it; their
// weight is scaled by lightWeight. They are listed as stems.
var lightWords = map[string]bool{}

// stopWords are function words that carry no topic. Words that do matter
// for this FAQ (after, before, during, long, much, many, not) are kept.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the i me my mine myself you yours yourself we us our ours
	it its itself he him his she her they them their this that these those there here
	is am are was were be been being do does did doing done have has had having
	of to in on at for with by from as into about and or but if so than then
	what whats which who whom whose how hows why when where whens wheres
	can could would should will shall may might must
	just also any some very really pretty quite please pls plz thanks thank thx ty
	hi hello hey hiya yo ok okay oh um uh hmm well
	im ive id ill youre youve youll theyre thats theres heres whos
	youd itd itll thatll theyd theyll theyve weve whatd howd whered wouldve couldve shouldve aint yall
	lol lmao haha omg idk tbh btw fyi imo ngl yeah yep yup nope nah yes alright whether
	dont doesnt didnt cant couldnt wont wouldnt shouldnt isnt arent wasnt werent havent hasnt
	all think thinking thought guess while whole anyway anyways exactly though
	get gets getting got gotten gonna wanna gotta like liked know knows knowing let lets tell
	making thinks guessed
	wondering wonder wondered curious question questions
	one thing things something anything stuff kind sort lot lots bit
	y u r ur ya
	even still ever always never anymore already yet too again
	actually basically literally honestly seriously totally definitely probably maybe perhaps
	kinda sorta super pretty bad badly good great nice okay fine sure
	someone somebody anyone anybody everyone everybody people guys folks person
	thing things stuff way lot lots make makes made option options another diagnosed`) {
		stopWords[w] = true
	}
	for _, w := range strings.Fields(`part type way best help peopl talk work use need take keep find look call after befor
	feel see come go give put tell mean kind thing time new first next right sure abl possibl also
	realli want like get ok lot other your not enough most mostli`) {
		lightWords[w] = true
	}
	for _, w := range strings.Fields(everydayWords) {
		lightWords[english.Stem(w, true)] = true
		everyday[w] = true
	}
}

// everyday marks the words of everydayWords as written: they are never
// "corrected" to a FAQ word as if they were typos.
var everyday = map[string]bool{}

// everydayWords are common English words that say nothing about which FAQ
// topic a message is on: everyday verbs, adverbs, adjectives and nouns, and
// the concept "define" that "what is" maps to. Their stems are light words; one the FAQ does not use weighs
// little in a message instead of as much as the rarest word, so "my doc
// mentioned it today, what is it" is still about what IOP is. Words that do
// carry a topic here (week, night, home, job, group, cost, stay, start, ...)
// are deliberately absent.
const everydayWords = `define join joining
	heard hear hearing mentioned mention mentions
	referred refer understand understood nodded explained explaining try trying tried
	seem seems seemed sound sounds sounded happen happens happened happening
	figure figured decide deciding decided wonder
	today tonight yesterday tomorrow lately recently currently now sometime sometimes
	later earlier ago year years
	whole entire overall general generally usually normally typically specifically
	said actual roughly approximately approx exact main basic simple simply real truly certain certainly clearly obviously
	only mainly mostly especially particular particularly
	over under around across along through throughout within without outside inside
	own same such other others else besides either neither each every
	little small big bigger huge tiny major minor
	place places version versions side sides idea ideas situation case cases point points
	reason reasons example examples piece pieces bunch couple few
	moment moments minute minutes second seconds
	word words language terms sense detail details info information list lists
	guy guys gal dude man woman lady ppl doctor doctors kid kids child children childhood teen teenager adult adults
	nervous scared afraid worried shy uncomfortable
	normal usual regular standard average
	totally fully completely partly
	stuff things thing something anything everything nothing
	back down up off out away along forward
	set sets follow follows following based base open`

// NewMatcher builds a matcher over entries. cfg's thresholds decide when the
// matcher answers, suggests or abstains; cfg.Synonyms add to (and override)
// the built-in IOP abbreviations. It returns an error when a threshold is
// out of range, a synonym has no words, or no entry has text to match.
func NewMatcher(entries []FAQEntry, cfg Matching) (*Matcher, error) {
	if cfg.Answer <= 0 || cfg.Answer > 1 {
		return nil, fmt.Errorf("matching.answer must be in (0, 1], got %v", cfg.Answer)
	}
	if cfg.Suggest <= 0 || cfg.Suggest > cfg.Answer {
		return nil, fmt.Errorf("matching.suggest must be in (0, answer], got %v", cfg.Suggest)
	}
	if cfg.Margin < 0 || cfg.Margin >= 1 {
		return nil, fmt.Errorf("matching.margin must be in [0, 1), got %v", cfg.Margin)
	}
	m := &Matcher{
		answer: cfg.Answer, suggest: cfg.Suggest, margin: cfg.Margin,
		terms: map[string]int32{}, stems: map[string]string{}, known: map[string]bool{},
		deletes: map[string][]int32{}, synonyms: map[string][]synRule{},
	}
	for w := range stopWords {
		m.known[w] = true
	}
	for w := range everyday {
		m.known[w] = true
	}
	if err := m.buildSynonyms(cfg.Synonyms); err != nil {
		return nil, err
	}

	// The vocabulary typos are corrected to: the words of questions,
	// keywords, titles and synonym phrases.
	strong := map[string]int{}
	for _, e := range entries {
		for _, t := range entryTexts(e) {
			for _, w := range normalizeWords(t, nil) {
				strong[w]++
				m.known[w] = true
			}
		}
		for _, w := range normalizeWords(e.Answer, nil) {
			m.known[w] = true
		}
	}
	states := map[string]bool{}
	for _, st := range usStates {
		for _, w := range strings.Fields(st) {
			states[w] = true
		}
	}
	for _, rules := range m.synonyms {
		for _, r := range rules {
			for _, t := range r.from {
				// A state name is a poor correction ("main" is not "maine").
				if !states[t.raw] {
					strong[t.raw]++
				}
			}
		}
	}
	m.buildTypoIndex(strong)

	type doc struct {
		entry int32
		terms []int32
	}
	var docs []doc
	strongBags := make([]map[int32]int, len(entries))
	answerBags := make([]map[int32]bool, len(entries))
	df := map[int32]int{}
	for i, e := range entries {
		m.ids = append(m.ids, e.ID)
		strongBags[i] = map[int32]int{}
		answerBags[i] = map[int32]bool{}
		for _, t := range entryTexts(e) {
			ts := m.buildTerms(t, true)
			if len(ts) == 0 {
				continue
			}
			docs = append(docs, doc{entry: int32(i), terms: ts})
			for _, id := range ts {
				strongBags[i][id]++
			}
		}
		for _, id := range m.buildTerms(e.Answer, false) {
			answerBags[i][id] = true
		}
		// Document frequency counts an entry's own words twice and words
		// only in its answer once, so topic words stay distinctive.
		for id := range strongBags[i] {
			df[id] += 2
		}
		for id := range answerBags[i] {
			if _, ok := strongBags[i][id]; !ok {
				df[id]++
			}
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("matching: no FAQ entry has questions, keywords or a title to match")
	}
	n := float64(len(entries))
	m.idf = make([]float64, len(m.terms))
	m.light = make([]bool, len(m.terms))
	isLight := func(w string) bool { return lightWords[w] || isNumber(w) }
	for key, id := range m.terms {
		m.idf[id] = math.Log(1 + 2*n/float64(max(df[id], 1)))
		if a, b, ok := strings.Cut(key, " "); ok {
			m.idf[id] *= bigramWeight
			m.light[id] = isLight(a) && isLight(b)
		} else {
			m.light[id] = isLight(key)
		}
		if m.light[id] {
			m.idf[id] = min(m.idf[id]*lightWeight, lightMaxWeight)
		}
	}
	m.unknownIDF = unknownWeight * math.Log(1+2*n)

	m.docPost = make([][]posting, len(m.terms))
	m.docNorm = make([]float64, len(docs))
	m.docEntry = make([]int32, len(docs))
	for d, dc := range docs {
		m.docEntry[d] = dc.entry
		var sum float64
		for _, id := range dc.terms {
			w := m.idf[id]
			sum += w * w
			m.docPost[id] = append(m.docPost[id], posting{doc: int32(d), w: float32(w)})
		}
		m.docNorm[d] = math.Sqrt(sum)
	}
	m.coverPost = make([][]int32, len(m.terms))
	m.bagPost = make([][]posting, len(m.terms))
	m.bagNorm = make([]float64, len(entries))
	for i := range entries {
		weights := map[int32]float64{}
		for id, c := range strongBags[i] {
			weights[id] = m.idf[id] * (1 + 0.25*math.Log(float64(c)))
			m.coverPost[id] = append(m.coverPost[id], int32(i))
		}
		for id := range answerBags[i] {
			if _, ok := weights[id]; !ok {
				weights[id] = answerWeight * m.idf[id]
			}
		}
		ids := make([]int32, 0, len(weights))
		for id := range weights {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		var sum float64
		for _, id := range ids {
			w := weights[id]
			sum += w * w
			m.bagPost[id] = append(m.bagPost[id], posting{doc: int32(i), w: float32(w)})
		}
		m.bagNorm[i] = math.Sqrt(sum)
	}
	return m, nil
}

// entryTexts are the texts an entry is matched on: title, example
// questions and keywords.
func entryTexts(e FAQEntry) []string {
	out := make([]string, 0, 1+len(e.Questions)+len(e.Keywords))
	out = append(out, e.Title)
	out = append(out, e.Questions...)
	return append(out, e.Keywords...)
}

// buildSynonyms merges the built-in abbreviations with the file's synonyms.
func (m *Matcher) buildSynonyms(extra map[string][]string) error {
	all := map[string][]string{}
	for k, v := range builtinSynonyms {
		all[k] = v
	}
	for _, st := range usStates {
		all[st] = []string{"state"}
	}
	for k, v := range extra {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		from := m.tokens(normalizeWords(k, nil))
		if len(from) == 0 {
			return fmt.Errorf("matching.synonyms: %q has no words", k)
		}
		var to []tok
		for _, v := range all[k] {
			to = append(to, m.tokens(normalizeWords(v, nil))...)
		}
		if len(to) == 0 {
			return fmt.Errorf("matching.synonyms: %q maps to no words", k)
		}
		for _, t := range from {
			m.known[t.raw] = true
		}
		for _, t := range to {
			m.known[t.raw] = true
		}
		r := synRule{from: from, to: to}
		m.synonyms[from[0].light] = append(m.synonyms[from[0].light], r)
		if from[0].lightE != "" {
			m.synonyms[from[0].lightE] = append(m.synonyms[from[0].lightE], r)
		}
	}
	for _, rules := range m.synonyms {
		sort.SliceStable(rules, func(a, b int) bool { return len(rules[a].from) > len(rules[b].from) })
	}
	// A synonym may map to a phrase that is itself a synonym ("face to
	// face" -> "in person" -> "inperson"): resolve up to three levels. Each
	// pass reads the previous pass's targets only, so the result does not
	// depend on map order.
	var rules []*synRule
	for _, rs := range m.synonyms {
		for i := range rs {
			rules = append(rules, &rs[i])
		}
	}
	next := make([][]tok, len(rules))
	for pass := 0; pass < 3; pass++ {
		for i, r := range rules {
			next[i] = m.synonymize(r.to)
		}
		for i, r := range rules {
			r.to = next[i]
		}
	}
	return nil
}

// buildTypoIndex indexes the vocabulary for typo correction.
//
// Stop words and everyday words are in the vocabulary too, with the lowest
// frequency so that a FAQ word wins a tie: a misspelled "shoud" or "peopel"
// then counts as the little word it is, instead of as a word the FAQ has
// never seen that would weigh the message down.
func (m *Matcher) buildTypoIndex(strong map[string]int) {
	freq := map[string]int{}
	for w, f := range strong {
		freq[w] = f
	}
	for w := range stopWords {
		freq[w] = 0
	}
	for w := range everyday {
		freq[w] = 0
	}
	words := make([]string, 0, len(freq))
	for w := range freq {
		if utf8.RuneCountInString(w) >= 4 && !isNumber(w) {
			words = append(words, w)
		}
	}
	sort.Strings(words)
	for i, w := range words {
		m.vocab = append(m.vocab, w)
		m.freq = append(m.freq, freq[w])
		for _, k := range deletions(w, utf8.RuneCountInString(w) >= 8) {
			if l := m.deletes[k]; len(l) == 0 || l[len(l)-1] != int32(i) {
				m.deletes[k] = append(l, int32(i))
			}
		}
	}
}

// tokens stems words and marks stop words.
func (m *Matcher) tokens(words []string) []tok {
	out := make([]tok, len(words))
	for i, w := range words {
		t := tok{raw: w, stem: w, light: w, stop: stopWords[w]}
		if !t.stop {
			t.stem = m.stem(w)
			t.light, t.lightE = lightStem(w)
		}
		out[i] = t
	}
	return out
}

func (m *Matcher) stem(w string) string {
	if s, ok := m.stems[w]; ok {
		return s
	}
	if isNumber(w) {
		return w
	}
	return english.Stem(w, true)
}

// synonymize replaces synonym phrases with the tokens they count as. A word
// of a phrase matches a token with the same word or, when neither is a stop
// word, the same word without its inflection ("weeks" for "week",
// "improving" for "improve"); the full Snowball stem would be too eager
// ("weekly" and "week", "universe" and "university" share one).
func (m *Matcher) synonymize(toks []tok) []tok {
	var out []tok
	changed := false
	for i := 0; i < len(toks); i++ {
		var hit *synRule
		for _, key := range [2]string{toks[i].light, toks[i].lightE} {
			rules := m.synonyms[key]
			for j := range rules {
				if i+len(rules[j].from) <= len(toks) && phraseAt(toks[i:], rules[j].from) {
					hit = &rules[j]
					break
				}
			}
			if hit != nil || key == "" {
				break
			}
		}
		if hit == nil {
			if changed {
				out = append(out, toks[i])
			}
			continue
		}
		if !changed {
			out = append(make([]tok, 0, len(toks)+4), toks[:i]...)
			changed = true
		}
		fixed := false
		for _, t := range toks[i : i+len(hit.from)] {
			fixed = fixed || t.fixed
		}
		for _, t := range hit.to {
			t.fixed = fixed
			out = append(out, t)
		}
		i += len(hit.from) - 1
	}
	if !changed {
		return toks
	}
	return out
}

// pairKey is the key of a two-word term; word order does not matter, so
// "therapy group" and "group therapy" meet.
func pairKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + " " + b
}

// lightStem strips an English inflection: plural -s/-es/-ies, -ing, -ed or
// -ful. When an ending was cut it also returns the stem with an e put back,
// so "improving", "improved" and "improve" meet, while "main" and "maine"
// (nothing cut) do not.
func lightStem(w string) (light, withE string) {
	if len(w) <= 3 {
		return w, ""
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y", ""
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2], ""
	case strings.HasSuffix(w, "ful") && len(w) > 6:
		return w[:len(w)-3], ""
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		return w[:len(w)-3], w[:len(w)-3] + "e"
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		return w[:len(w)-2], w[:len(w)-1]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1], ""
	}
	return w, ""
}

// sameLight reports whether two words are the same but for inflection.
func sameLight(a, b tok) bool {
	return a.light == b.light || (a.lightE != "" && a.lightE == b.light) ||
		(b.lightE != "" && b.lightE == a.light) || (a.lightE != "" && a.lightE == b.lightE)
}

func phraseAt(toks, phrase []tok) bool {
	for j, w := range phrase {
		t := toks[j]
		if t.raw != w.raw && (t.stop || w.stop || !sameLight(t, w)) {
			return false
		}
	}
	return true
}

// content keeps the tokens that are not stop words, in place.
func content(toks []tok) []tok {
	out := toks[:0]
	for _, t := range toks {
		if !t.stop {
			out = append(out, t)
		}
	}
	return out
}

// buildTerms turns text into distinct term ids, creating ids for new terms;
// with bigrams it adds the two-word terms too.
func (m *Matcher) buildTerms(text string, bigrams bool) []int32 {
	words := normalizeWords(text, nil)
	for _, w := range words {
		if !stopWords[w] {
			m.stems[w] = m.stem(w)
		}
	}
	toks := content(m.synonymize(m.tokens(words)))
	var out []int32
	add := func(key string) {
		id, ok := m.terms[key]
		if !ok {
			id = int32(len(m.terms))
			m.terms[key] = id
		}
		if !containsID(out, id) {
			out = append(out, id)
		}
	}
	for i, t := range toks {
		add(t.stem)
		if bigrams && i > 0 && toks[i-1].stem != t.stem {
			add(pairKey(toks[i-1].stem, t.stem))
		}
	}
	return out
}

// qterm is one distinct term of a message with its weight; id is -1 for a
// word the FAQ does not know.
type qterm struct {
	id int32
	w  float64
}

// analyze turns a message into weighted terms; it also returns how many
// content words (not stop words) the message has.
func (m *Matcher) analyze(text string) ([]qterm, int) {
	words := normalizeWords(text, make([]string, 0, 16))
	if len(words) > maxQueryWords {
		words = words[:maxQueryWords]
	}
	toks := m.tokens(words)
	for i := range toks {
		t := &toks[i]
		if t.stop || m.known[t.raw] || isNumber(t.raw) {
			continue
		}
		if _, ok := m.terms[t.stem]; ok {
			continue
		}
		if c, ok := m.correct(t.raw); ok {
			*t = m.tokens([]string{c})[0]
			t.fixed = true
		} else if swappedStop(t.raw) {
			// "hte", "waht": a stop word with two letters swapped.
			t.stop = true
		}
	}
	toks = content(m.synonymize(toks))
	out := make([]qterm, 0, 2*len(toks))
	var unknown []string
	add := func(key string, fixed bool) {
		id, ok := m.terms[key]
		if !ok {
			if !strings.Contains(key, " ") && !containsString(unknown, key) {
				unknown = append(unknown, key)
				w := m.unknownIDF
				if lightWords[key] || isNumber(key) {
					w *= everydayUnknownWeight
				}
				out = append(out, qterm{id: -1, w: w})
			}
			return
		}
		for _, q := range out {
			if q.id == id {
				return
			}
		}
		w := m.idf[id]
		if fixed {
			w *= correctedWeight
		}
		out = append(out, qterm{id: id, w: w})
	}
	for i, t := range toks {
		add(t.stem, t.fixed)
		if i > 0 && toks[i-1].stem != t.stem {
			add(pairKey(toks[i-1].stem, t.stem), t.fixed || toks[i-1].fixed)
		}
	}
	return out, len(toks)
}

// swappedStop reports whether a short word is a stop word with two
// adjacent letters swapped.
func swappedStop(w string) bool {
	if len(w) < 3 || len(w) > 6 || !isASCII(w) {
		return false
	}
	var arr [6]byte
	b := arr[:len(w)]
	for i := 0; i+1 < len(w); i++ {
		copy(b, w)
		b[i], b[i+1] = b[i+1], b[i]
		if stopWords[string(b)] {
			return true
		}
	}
	return false
}

// correct returns the vocabulary word closest to a misspelled word, if one
// is close enough: one edit for words of 4–7 letters (an adjacent swap
// counts as one), two for longer words; the first letter must match (or be
// swapped with the second).
func (m *Matcher) correct(w string) (string, bool) {
	n := utf8.RuneCountInString(w)
	if n < 4 || n > 30 {
		return "", false
	}
	limit := 1
	if n >= 8 {
		limit = 2
	}
	// Among candidates at the same distance, two swapped letters ("waht"
	// for "what") beat another edit ("want"), then the more frequent word
	// wins, then the first in alphabetical order.
	best, bestD, bestF, bestSwap := -1, limit+1, 0, false
	m.deletionHits(w, n >= 8, func(ids []int32) {
		for _, i := range ids {
			v := m.vocab[i]
			swap := isAdjacentSwap(w, v)
			// People rarely mistype the first letter; requiring it keeps
			// unrelated words ("iphone") from becoming FAQ words ("phone").
			if !sameFirst(v, w) && !swap {
				continue
			}
			d := typoDistance(w, v)
			if d > limit {
				continue
			}
			better := d < bestD
			if d == bestD {
				switch {
				case swap != bestSwap:
					better = swap
				case m.freq[i] != bestF:
					better = m.freq[i] > bestF
				default:
					better = v < m.vocab[best]
				}
			}
			if better {
				best, bestD, bestF, bestSwap = int(i), d, m.freq[i], swap
			}
		}
	})
	if best < 0 {
		return "", false
	}
	return m.vocab[best], true
}

// Match scores text against every entry and decides: Answer when the best
// entry scores at least matching.answer (plus longMessageBar for a message
// of longMessageWords content words or more), leads the runner-up by at
// least matching.margin (disagreeMargin when the closest example question
// and the closest entry as a whole are different entries), shares a topic word with the text (not only
// everyday words or numbers) and is not a weak match (a single shared topic
// word while weakUnknown or more of the text is words the FAQ has never
// seen); Suggest (the best one to three, those within half of the best
// score) when it scores at least matching.suggest (plus weakSuggest for a
// weak match); Abstain otherwise, or when the text has no word the FAQ
// knows. Candidates are best first, with scores in 0..1.
func (m *Matcher) Match(text string) MatchResult {
	sc := m.score(text)
	if sc.n == 0 {
		return MatchResult{Decision: Abstain}
	}
	top := sc.top[:sc.n]
	res := MatchResult{Candidates: make([]Candidate, sc.n)}
	for i, c := range top {
		res.Candidates[i] = Candidate{ID: m.ids[c.entry], Score: c.score}
	}
	first, second := top[0].score, 0.0
	if sc.n > 1 {
		second = top[1].score
	}
	// A message that shares a single topic word with the best entry while
	// most of its weight is words the FAQ has never seen ("is it going to
	// rain this weekend") is about something else: it is never answered,
	// and offered as a topic only when it scores well above the bar.
	weak := top[0].topics <= 1 && sc.unknown >= weakUnknown
	// A long message (a story, several questions at once) is rarely one
	// FAQ question: it must score higher to be answered.
	bar := m.answer
	if sc.words >= longMessageWords {
		bar += longMessageBar
	}
	// When one entry has the closest example but another fits better as a
	// whole, the message is between topics: the lead must be wider.
	margin := m.margin
	if !sc.agree {
		margin = max(margin, disagreeMargin)
	}
	switch {
	case first >= bar && first-second >= margin && top[0].evidence >= minEvidence && !weak:
		res.Decision = Answer
	case first >= m.suggest && (!weak || first >= m.suggest+weakSuggest):
		res.Decision = Suggest
		// Offer only topics in the same league as the best one.
		keep := 1
		for keep < sc.n && top[keep].score >= max(m.suggest*0.6, first*0.5) {
			keep++
		}
		res.Candidates = res.Candidates[:keep]
	default:
		res.Decision = Abstain
	}
	return res
}

// scored is one entry's score and the parts it was made of.
type scored struct {
	entry int
	score float64
	// best is the best cosine against one of the entry's documents, cover
	// the share of the message's weight its own words cover, bag the
	// cosine against the whole entry.
	best, cover, bag float64
	// evidence is the weight of topic words (not everyday words) the
	// message shares with the entry; topics counts them.
	evidence float64
	topics   int
}

// scoring is what score found: the best entries, best first, and how much
// of the message's weight is words the FAQ has never seen.
type scoring struct {
	top [maxCandidates]scored
	n   int
	// unknown is the share of the message's squared weight carried by
	// words the FAQ does not know.
	unknown float64
	// words is how many content words the message has.
	words int
	// agree reports whether the entry with the closest example question or
	// keyword is also the entry closest as a whole.
	agree bool
}

// score scores text against every entry and keeps the best few.
func (m *Matcher) score(text string) scoring {
	var sc scoring
	q, words := m.analyze(text)
	sc.words = words
	var qn, unknown float64
	known := false
	for _, t := range q {
		qn += t.w * t.w
		if t.id >= 0 {
			known = true
		} else {
			unknown += t.w * t.w
		}
	}
	if !known {
		return sc
	}
	sc.unknown = unknown / qn
	qn = math.Sqrt(qn)

	ne := len(m.ids)
	acc := make([]float64, len(m.docNorm)+4*ne)
	topics := make([]int32, ne)
	docAcc, rest := acc[:len(m.docNorm)], acc[len(m.docNorm):]
	bagAcc, coverAcc, evidence, best := rest[:ne], rest[ne:2*ne], rest[2*ne:3*ne], rest[3*ne:]
	for _, t := range q {
		if t.id < 0 {
			continue
		}
		for _, p := range m.docPost[t.id] {
			docAcc[p.doc] += t.w * float64(p.w)
		}
		for _, p := range m.bagPost[t.id] {
			bagAcc[p.doc] += t.w * float64(p.w)
		}
		for _, e := range m.coverPost[t.id] {
			coverAcc[e] += t.w * t.w
			if !m.light[t.id] {
				// Any topic word counts, however common ("iop").
				evidence[e] += max(t.w*t.w, 1)
				topics[e]++
			}
		}
	}
	for d, dot := range docAcc {
		if dot == 0 {
			continue
		}
		if c := dot / (qn * m.docNorm[d]); c > best[m.docEntry[d]] {
			best[m.docEntry[d]] = c
		}
	}
	// Do the two views agree on the best entry: the closest single example
	// question or keyword, and the entry as a whole (its own words and its
	// answer)?
	byExample, byEntry := -1, -1
	var exampleTop, entryTop float64
	for e := range m.ids {
		if best[e] > exampleTop {
			byExample, exampleTop = e, best[e]
		}
		if x := weightCover*coverAcc[e]/(qn*qn) + weightBag*bagAcc[e]/(qn*m.bagNorm[e]); x > entryTop {
			byEntry, entryTop = e, x
		}
	}
	sc.agree = byExample == byEntry
	for e := range m.ids {
		c := scored{entry: e, best: best[e], cover: coverAcc[e] / (qn * qn), bag: bagAcc[e] / (qn * m.bagNorm[e]),
			evidence: evidence[e], topics: int(topics[e])}
		c.score = min(weightBest*c.best+weightCover*c.cover+weightBag*c.bag, 1)
		if c.score <= 0 {
			continue
		}
		pos := sc.n
		for pos > 0 && sc.top[pos-1].score < c.score {
			pos--
		}
		if pos >= maxCandidates {
			continue
		}
		if sc.n < maxCandidates {
			sc.n++
		}
		copy(sc.top[pos+1:sc.n], sc.top[pos:sc.n-1])
		sc.top[pos] = c
	}
	return sc
}

// normalizeWords splits text into lower-case words and appends them to buf:
// Unicode is folded to base letters (é -> e, full-width -> ASCII),
// apostrophes inside words are dropped (don't -> dont), any other character
// that is not a letter or digit separates words, and runs of three or more
// of the same letter shrink to one (sooo -> so).
func normalizeWords(text string, buf []string) []string {
	if !isASCII(text) {
		text = norm.NFKD.String(text)
	}
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			w := b.String()
			if hasRun3(w) {
				w = shrinkRuns(w)
			}
			buf = append(buf, w)
			b.Reset()
		}
	}
	for _, r := range text {
		switch {
		case r == '\'' || r == '’' || r == '‘' || r == 'ʼ' || r == '`' || r == '´':
			continue
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return buf
}

func hasRun3(w string) bool {
	var a, c rune
	for i, r := range w {
		if i > 0 && r == a && r == c {
			return true
		}
		c, a = a, r
	}
	return false
}

func shrinkRuns(w string) string {
	rs := []rune(w)
	var out []rune
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		if j-i >= 3 {
			out = append(out, rs[i])
		} else {
			out = append(out, rs[i:j]...)
		}
		i = j
	}
	return string(out)
}

// deletions returns w and every string made by deleting one rune of it
// (and, with two, two runes).
// deletionHits calls visit with the vocabulary ids indexed under w and
// under each of its deletions, without building the deleted strings for an
// ASCII word (a map lookup with string(bytes) does not allocate).
func (m *Matcher) deletionHits(w string, two bool, visit func(ids []int32)) {
	if !isASCII(w) {
		for _, k := range deletions(w, two) {
			visit(m.deletes[k])
		}
		return
	}
	var arr [64]byte
	buf := arr[:0]
	visit(m.deletes[w])
	for i := 0; i < len(w); i++ {
		buf = append(append(buf[:0], w[:i]...), w[i+1:]...)
		visit(m.deletes[string(buf)])
		if !two {
			continue
		}
		one := len(buf)
		for j := i; j < one; j++ {
			buf = append(append(buf[:one], buf[:j]...), buf[j+1:one]...)
			visit(m.deletes[string(buf[one:])])
		}
		buf = buf[:one]
	}
}

func deletions(w string, two bool) []string {
	rs := []rune(w)
	out := []string{w}
	for i := range rs {
		d := string(rs[:i]) + string(rs[i+1:])
		out = append(out, d)
		if two {
			drs := []rune(d)
			for j := i; j < len(drs); j++ {
				out = append(out, string(drs[:j])+string(drs[j+1:]))
			}
		}
	}
	return out
}

// typoDistance is the Levenshtein distance, with one adjacent swap
// ("teh" for "the") counted as a single edit.
func typoDistance(a, b string) int {
	d := levenshtein.ComputeDistance(a, b)
	if d == 2 && isAdjacentSwap(a, b) {
		return 1
	}
	return d
}

func isAdjacentSwap(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	if i+1 >= len(ra) || ra[i] != rb[i+1] || ra[i+1] != rb[i] {
		return false
	}
	return string(ra[i+2:]) == string(rb[i+2:])
}

func sameFirst(a, b string) bool {
	ra, _ := utf8.DecodeRuneInString(a)
	rb, _ := utf8.DecodeRuneInString(b)
	return ra == rb
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isNumber(w string) bool {
	for _, r := range w {
		if r < '0' || r > '9' {
			return false
		}
	}
	return w != ""
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
