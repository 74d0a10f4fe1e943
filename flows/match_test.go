package flows_test

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"

	"intakebot/flows"
	"intakebot/internal/evaldata"
)

// matchSpec loads the shipped flows.yaml once per test binary.
func matchSpec(tb testing.TB) *flows.Spec {
	tb.Helper()
	matchSpecOnce.Do(func() {
		matchSpecV, matchSpecErr = flows.Load("../flows.yaml")
	})
	if matchSpecErr != nil {
		tb.Fatal(matchSpecErr)
	}
	return matchSpecV
}

var (
	matchSpecOnce sync.Once
	matchSpecV    *flows.Spec
	matchSpecErr  error
)

// faqLines returns the non-empty, non-comment lines of a testdata file.
func faqLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func candIDs(cs []flows.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %.2f", c.ID, c.Score))
	}
	return out
}

// TestFAQParaphrases measures top-1 accuracy on questions written in
// people's own words (testdata/faq_paraphrases.tsv). Only an Answer with the
// right entry counts as correct; a Suggest with the right entry among the
// buttons is reported separately. The bars: at least 90% answered right, and
// at most 5% answered with the wrong entry.
func TestFAQParaphrases(t *testing.T) {
	s := matchSpec(t)
	m := s.Matcher()
	lines := faqLines(t, "testdata/faq_paraphrases.tsv")
	if len(lines) < 150 {
		t.Fatalf("only %d paraphrases; want at least 150", len(lines))
	}
	// The set must test generalization: no paraphrase may be one of the
	// FAQ's own example questions or keywords.
	own := map[string]string{}
	for _, e := range s.FAQ {
		for _, x := range append(append([]string{}, e.Questions...), e.Keywords...) {
			own[plain(x)] = e.ID
		}
	}
	covered := map[string]int{}
	var correct, suggested, suggestedOther, wrong, abstained int
	for _, line := range lines {
		want, q, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("line %q: want expected_id<TAB>question", line)
		}
		if s.FAQEntry(want) == nil {
			t.Fatalf("line %q: no FAQ entry %q", line, want)
		}
		if id, ok := own[plain(q)]; ok {
			t.Errorf("paraphrase %q is an example question or keyword of FAQ %q", q, id)
		}
		covered[want]++
		r := m.Match(q)
		switch {
		case r.Decision == flows.Answer && r.Candidates[0].ID == want:
			correct++
			continue
		case r.Decision == flows.Suggest && hasCandidate(r.Candidates, want):
			suggested++
		case r.Decision == flows.Suggest:
			suggestedOther++
		case r.Decision == flows.Abstain:
			abstained++
		default:
			wrong++
		}
		t.Logf("miss %-22s %-8s %v  | %s", want, r.Decision, candIDs(r.Candidates), q)
	}
	for _, e := range s.FAQ {
		if covered[e.ID] == 0 {
			t.Errorf("FAQ entry %q has no paraphrase in the test set", e.ID)
		}
	}
	n := len(lines)
	acc := float64(correct) / float64(n)
	wrongRate := float64(wrong) / float64(n)
	t.Logf("paraphrases: %d; answered correctly %d (top-1 accuracy %.1f%%); suggested with the right entry among the buttons %d; suggested other entries %d; answered wrong %d (%.1f%%); abstained %d",
		n, correct, 100*acc, suggested, suggestedOther, wrong, 100*wrongRate, abstained)
	fmt.Printf("FAQ paraphrases: %d, top-1 accuracy %.1f%% (%d answered right), %d suggested with the right entry, %d suggested others, %d answered wrong (%.1f%%), %d abstained\n",
		n, 100*acc, correct, suggested, suggestedOther, wrong, 100*wrongRate, abstained)
	if acc < 0.90 {
		t.Errorf("top-1 accuracy %.1f%% is below 90%%", 100*acc)
	}
	// A wrong answer is worse than offering two or three topics: the
	// person reads an answer to a question they did not ask.
	if wrongRate > 0.05 {
		t.Errorf("%d wrong answers (%.1f%%) is above 5%%", wrong, 100*wrongRate)
	}
}

// plain lower-cases s and keeps only letters and digits, to compare texts
// regardless of punctuation and spacing.
func plain(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hasCandidate(cs []flows.Candidate, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

// TestFAQOutOfScope measures how often the matcher abstains on messages the
// FAQ does not cover (testdata/faq_out_of_scope.txt). The bar is 80%.
func TestFAQOutOfScope(t *testing.T) {
	m := matchSpec(t).Matcher()
	lines := faqLines(t, "testdata/faq_out_of_scope.txt")
	if len(lines) < 50 {
		t.Fatalf("only %d out-of-scope messages; want at least 50", len(lines))
	}
	var abstained, suggested, answered int
	for _, q := range lines {
		r := m.Match(q)
		switch r.Decision {
		case flows.Abstain:
			abstained++
			continue
		case flows.Suggest:
			suggested++
		case flows.Answer:
			answered++
		}
		t.Logf("not abstained: %-8s %v  | %s", r.Decision, candIDs(r.Candidates), q)
	}
	rate := float64(abstained) / float64(len(lines))
	fmt.Printf("FAQ out of scope: %d, abstain rate %.1f%% (%d abstained, %d suggested, %d answered)\n",
		len(lines), 100*rate, abstained, suggested, answered)
	if rate < 0.80 {
		t.Errorf("abstain rate %.1f%% is below 80%%", 100*rate)
	}
}

// TestMatchNormalization checks that case, punctuation, apostrophes,
// Unicode forms, stretched letters, typos, slang and abbreviations reach the
// same entry as the plain question.
func TestMatchNormalization(t *testing.T) {
	m := matchSpec(t).Matcher()
	tests := []struct {
		name, text, want string
	}{
		{"plain", "what is iop", "what_is_iop"},
		{"upper case and punctuation", "WHAT IS IOP?!?!", "what_is_iop"},
		{"accents and full-width", "Ｗhát ís ÎOP", "what_is_iop"},
		{"spelled out", "what is an intensive outpatient program", "what_is_iop"},
		{"curly apostrophe", "I don’t have insurance", "cost_help"},
		{"straight apostrophe", "I don't have insurance", "cost_help"},
		{"no apostrophe", "i dont have insurance", "cost_help"},
		{"stretched letters", "how loooong is iop", "length"},
		{"typo insurnace", "does my insurnace cover iop", "insurance_check"},
		{"typo virtaul", "is there a virtaul option", "virtual"},
		{"typo outpatinet", "why is it called outpatinet", "why_outpatient"},
		{"typo depresion", "iop for depresion", "depression"},
		{"typo anxeity", "help with anxeity", "anxiety"},
		{"typo psychiatrst", "will i see a psychiatrst", "medication"},
		{"swap hte", "what is hte cost", "program_cost"},
		{"slang meds", "can they adjust my meds", "medication"},
		{"slang online", "can i do it online", "virtual"},
		{"abbreviation php", "iop vs php", "iop_vs_php"},
		{"spelled out php", "partial hospitalization or intensive outpatient", "iop_vs_php"},
		{"abbreviation ptsd", "post traumatic stress disorder treatment", "trauma"},
		{"abbreviation dbt", "what is dialectical behavior therapy", "skills"},
		{"hyphenated", "in-person or virtual?", "formats"},
		{"emoji around words", "🙏 how much does it cost 💸", "program_cost"},
		{"digits", "is it 6-12 weeks long", "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Match(tt.text)
			if len(r.Candidates) == 0 || r.Candidates[0].ID != tt.want || r.Decision == flows.Abstain {
				t.Errorf("Match(%q) = %s %v, want %s first", tt.text, r.Decision, candIDs(r.Candidates), tt.want)
			}
		})
	}
}

// TestMatchDecisions checks how the matcher decides in the cases it was
// built for: everyday words and misspelled little words do not sink a real
// question, a topic's own vocabulary finds it, a single topic word among
// words the FAQ has never seen is no question about that topic, a close
// call offers buttons instead of answering, and a long story is not
// answered from one of its words.
func TestMatchDecisions(t *testing.T) {
	m := matchSpec(t).Matcher()
	tests := []struct {
		name, text string
		want       flows.Decision
		// ids must be among the candidates (the first one first, for an
		// answer).
		ids []string
	}{
		{"everyday words weigh little", "i heard about iop today, what is it exactly", flows.Answer, []string{"what_is_iop"}},
		{"swapped letters in a little word", "waht is iop", flows.Answer, []string{"what_is_iop"}},
		{"misspelled little word", "shoud i do iop or php", flows.Answer, []string{"iop_vs_php"}},
		{"family words", "can my wife come to a session", flows.Answer, []string{"family_therapy"}},
		{"money words", "i cant afford it", flows.Answer, []string{"cost_help"}},
		{"video words", "do you do zoom groups", flows.Answer, []string{"virtual"}},
		{"work words", "will my boss find out", flows.Answer, []string{"work_school"}},
		{"condition not in the list", "do you treat ocd", flows.Answer, []string{"conditions"}},
		{"getting worse", "what if i get worse during the program", flows.Answer, []string{"red_flags"}},
		{"medicine for MAT", "do you do MAT like suboxone", flows.Answer, []string{"dual_diagnosis"}},
		{"close call offers buttons", "are sessions in person or virtual", flows.Suggest, []string{"formats", "hybrid"}},
		{"one topic word among unknown words", "is it going to rain this weekend", flows.Abstain, nil},
		{"one topic word, a device", "my laptop won't turn on", flows.Abstain, nil},
		{"a word near a FAQ word", "recommend a good movie", flows.Abstain, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Match(tt.text)
			ok := r.Decision == tt.want
			for _, id := range tt.ids {
				ok = ok && hasCandidate(r.Candidates, id)
			}
			if ok && tt.want == flows.Answer {
				ok = r.Candidates[0].ID == tt.ids[0]
			}
			if !ok {
				t.Errorf("Match(%q) = %s %v, want %s %v", tt.text, r.Decision, candIDs(r.Candidates), tt.want, tt.ids)
			}
		})
	}
	t.Run("long story is not answered", func(t *testing.T) {
		text := "My boyfriend and I fight all the time and I don't know how to fix it. He says I never listen, " +
			"I feel like nothing I do is right anymore, and my family thinks I should leave. What should I do?"
		if r := m.Match(text); r.Decision == flows.Answer {
			t.Errorf("Match(long story) = answer %v, want a suggestion or nothing", candIDs(r.Candidates))
		}
	})
}

// TestMatchNothingToMatch checks messages with no words abstain with no
// candidates and never panic.
func TestMatchNothingToMatch(t *testing.T) {
	m := matchSpec(t).Matcher()
	for _, text := range []string{"", "   ", "?!?", "🙂🙂🙂", "\xff\xfe\xfd", "the and of", strings.Repeat("a", 10000)} {
		r := m.Match(text)
		if r.Decision != flows.Abstain {
			t.Errorf("Match(%q) = %s %v, want abstain", text, r.Decision, candIDs(r.Candidates))
		}
	}
}

// TestMatchResultShape checks the contract: candidates best first, scores
// in 0..1, an Answer or Suggest always has a candidate, and a Suggest offers
// at most three.
func TestMatchResultShape(t *testing.T) {
	s := matchSpec(t)
	m := s.Matcher()
	texts := faqLines(t, "testdata/faq_out_of_scope.txt")
	for _, line := range faqLines(t, "testdata/faq_paraphrases.tsv") {
		_, q, _ := strings.Cut(line, "\t")
		texts = append(texts, q)
	}
	for _, text := range texts {
		r := m.Match(text)
		if r.Decision != flows.Abstain && len(r.Candidates) == 0 {
			t.Errorf("Match(%q) = %s with no candidates", text, r.Decision)
		}
		if r.Decision == flows.Suggest && len(r.Candidates) > 3 {
			t.Errorf("Match(%q) suggests %d entries", text, len(r.Candidates))
		}
		for i, c := range r.Candidates {
			if c.Score < 0 || c.Score > 1 {
				t.Errorf("Match(%q): score %v out of 0..1", text, c.Score)
			}
			if i > 0 && c.Score > r.Candidates[i-1].Score {
				t.Errorf("Match(%q): candidates not best first: %v", text, candIDs(r.Candidates))
			}
			if s.FAQEntry(c.ID) == nil {
				t.Errorf("Match(%q): unknown entry %q", text, c.ID)
			}
		}
	}
}

// TestMatchConcurrent runs Match from several goroutines (run with -race).
func TestMatchConcurrent(t *testing.T) {
	m := matchSpec(t).Matcher()
	want := m.Match("how long does iop last")
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got := m.Match("how long does iop last")
				if got.Decision != want.Decision || got.Candidates[0] != want.Candidates[0] {
					errs <- fmt.Sprintf("got %v, want %v", got, want)
					return
				}
				m.Match("does my insurnace cover virtaul sessions")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestNewMatcherRejectsBadThresholds checks the thresholds are validated.
func TestNewMatcherRejectsBadThresholds(t *testing.T) {
	entries := matchSpec(t).FAQ
	for _, cfg := range []flows.Matching{
		{Answer: 0, Suggest: 0.3},
		{Answer: 1.5, Suggest: 0.3},
		{Answer: 0.5, Suggest: 0.6},
		{Answer: 0.5, Suggest: 0},
		{Answer: 0.5, Suggest: 0.3, Margin: -0.1},
	} {
		if _, err := flows.NewMatcher(entries, cfg); err == nil {
			t.Errorf("NewMatcher(%+v) = nil error", cfg)
		}
	}
	if _, err := flows.NewMatcher(entries, flows.Matching{Answer: 0.5, Suggest: 0.3, Margin: 0.1,
		Synonyms: map[string][]string{"?!": {"x"}}}); err == nil {
		t.Error("NewMatcher accepted a synonym with no words")
	}
}

// TestFAQCounselChat runs the real questions people asked therapists
// (counsel-chat, deduplicated by questionID to 815) through the matcher and
// prints how many were answered, suggested, abstained and crashed, with a
// few answered examples per entry so a person can judge them. The matcher is
// not tuned to these rows; only crashes fail the test.
func TestFAQCounselChat(t *testing.T) {
	var questions []string
	for _, q := range evaldata.CounselChatOrSkip(t) {
		questions = append(questions, q.Text)
	}
	m := matchSpec(t).Matcher()
	var answered, suggested, abstained, crashed int
	examples := map[string][]string{}
	for _, q := range questions {
		res, ok := safeMatch(m, q)
		if !ok {
			crashed++
			continue
		}
		switch res.Decision {
		case flows.Answer:
			answered++
			id := res.Candidates[0].ID
			if len(examples[id]) < 3 {
				examples[id] = append(examples[id], fmt.Sprintf("%.2f %s", res.Candidates[0].Score, shortQ(q, 110)))
			}
		case flows.Suggest:
			suggested++
		default:
			abstained++
		}
	}
	fmt.Printf("counsel-chat: %d questions: %d answered, %d suggested, %d abstained, %d crashed\n",
		len(questions), answered, suggested, abstained, crashed)
	keys := make([]string, 0, len(examples))
	for k := range examples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, ex := range examples[k] {
			t.Logf("answered %-22s %s", k, ex)
		}
	}
	if crashed > 0 {
		t.Errorf("%d questions crashed the matcher", crashed)
	}
}

func safeMatch(m *flows.Matcher, q string) (res flows.MatchResult, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return m.Match(q), true
}

func shortQ(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// BenchmarkFAQMatch matches a mix of typical messages against the shipped
// FAQ: short and long, with typos, and out of scope.
func BenchmarkFAQMatch(b *testing.B) {
	m := matchSpec(b).Matcher()
	msgs := []string{
		"how long does iop last",
		"does my insurnace cover the virtaul program?",
		"I've been really anxious lately and my therapist said I should look into an intensive outpatient program, can I keep working while I do it?",
		"what's the weather tomorrow",
		"do you take medicaid",
		"whats the difference between php and iop",
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Match(msgs[i%len(msgs)])
	}
}

// TestFAQEvalSet scores the matcher on any labelled set named by the
// FAQ_EVAL environment variable (expected_id<TAB>question lines; the id
// `none` marks a message the FAQ does not cover), so a held-out or blind set
// can be measured without copying it into the repository. It is skipped
// when FAQ_EVAL is unset.
//
//	FAQ_EVAL=/path/to/set.tsv go test ./flows/ -run TestFAQEvalSet -v
func TestFAQEvalSet(t *testing.T) {
	path := os.Getenv("FAQ_EVAL")
	if path == "" {
		t.Skip("FAQ_EVAL not set")
	}
	s := matchSpec(t)
	m := s.Matcher()
	var in, right, suggestRight, suggestOther, wrong, abstained int
	var out, outAbstained, outSuggested, outAnswered int
	for _, line := range faqLines(t, path) {
		want, q, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("line %q: want expected_id<TAB>question", line)
		}
		r := m.Match(q)
		if want == "none" {
			out++
			switch r.Decision {
			case flows.Abstain:
				outAbstained++
				continue
			case flows.Suggest:
				outSuggested++
			default:
				outAnswered++
			}
			t.Logf("out-of-scope %-8s %v  | %s", r.Decision, candIDs(r.Candidates), q)
			continue
		}
		if s.FAQEntry(want) == nil {
			t.Fatalf("line %q: no FAQ entry %q", line, want)
		}
		in++
		switch {
		case r.Decision == flows.Answer && r.Candidates[0].ID == want:
			right++
			continue
		case r.Decision == flows.Answer:
			wrong++
		case r.Decision == flows.Suggest && hasCandidate(r.Candidates, want):
			suggestRight++
		case r.Decision == flows.Suggest:
			suggestOther++
		default:
			abstained++
		}
		t.Logf("miss %-22s %-8s %v  | %s", want, r.Decision, candIDs(r.Candidates), q)
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Printf("eval in scope: %d: answered right %d (%.1f%%), suggested with the right one %d, suggested others %d, answered wrong %d (%.1f%%), abstained %d\n",
		in, right, pct(right, in), suggestRight, suggestOther, wrong, pct(wrong, in), abstained)
	fmt.Printf("eval out of scope: %d: abstained %d (%.1f%%), suggested %d, answered %d\n",
		out, outAbstained, pct(outAbstained, out), outSuggested, outAnswered)
}
