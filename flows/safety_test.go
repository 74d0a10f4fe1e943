package flows_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"intakebot/flows"
	"intakebot/internal/evaldata"
)

// flowsFile is the shipped content: the tests check the screen an admin
// actually runs, not a copy of it.
const flowsFile = "../flows.yaml"

func shippedScreen(tb testing.TB) (*flows.Spec, *flows.Screen) {
	tb.Helper()
	spec, err := flows.Load(flowsFile)
	if err != nil {
		tb.Fatalf("load %s: %v", flowsFile, err)
	}
	return spec, spec.Screen()
}

type example struct {
	line     int
	category string
	text     string
}

func readPositives(tb testing.TB) []example {
	tb.Helper()
	var out []example
	eachLine(tb, "testdata/crisis_positive.tsv", func(n int, line string) {
		cat, text, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(text) == "" {
			tb.Fatalf("crisis_positive.tsv:%d: want category<TAB>text", n)
		}
		out = append(out, example{line: n, category: cat, text: text})
	})
	return out
}

func readBenign(tb testing.TB) []example {
	tb.Helper()
	var out []example
	eachLine(tb, "testdata/crisis_benign.txt", func(n int, line string) {
		out = append(out, example{line: n, text: line})
	})
	return out
}

// eachLine calls fn for each line that is neither blank nor a # comment.
func eachLine(tb testing.TB, path string, fn func(n int, line string)) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(n, line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}

// TestCrisisRecall runs every positive example through the shipped screen.
// Recall must be 100%: a miss can cost a life. The category must be right
// for at least 90% of them (every category raises the same protocol; the
// category tells staff what to expect).
func TestCrisisRecall(t *testing.T) {
	spec, scr := shippedScreen(t)
	pos := readPositives(t)
	if len(pos) < 150 {
		t.Errorf("only %d positive examples; keep at least 150", len(pos))
	}
	known := map[string]bool{}
	for _, c := range spec.Safety.Categories {
		known[c.ID] = true
	}
	type tally struct{ n, caught, right int }
	per := map[string]*tally{}
	var misses, wrong []string
	for _, ex := range pos {
		if !known[ex.category] {
			t.Errorf("crisis_positive.tsv:%d: unknown category %q", ex.line, ex.category)
			continue
		}
		tl := per[ex.category]
		if tl == nil {
			tl = &tally{}
			per[ex.category] = tl
		}
		tl.n++
		hit, ok := scr.Check(ex.text)
		if !ok {
			misses = append(misses, fmt.Sprintf("  line %d [%s] %q", ex.line, ex.category, ex.text))
			continue
		}
		tl.caught++
		if hit.Category == ex.category {
			tl.right++
		} else {
			wrong = append(wrong, fmt.Sprintf("  line %d %q: want %s, got %s (%s)", ex.line, ex.text, ex.category, hit.Category, hit.Rule))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %6s %8s %8s %9s\n", "category", "n", "caught", "recall", "category")
	total := tally{}
	for _, c := range spec.Safety.Categories {
		tl := per[c.ID]
		if tl == nil {
			t.Errorf("no positive example for category %s", c.ID)
			continue
		}
		fmt.Fprintf(&b, "%-12s %6d %8d %7.1f%% %8.1f%%\n", c.ID, tl.n, tl.caught, pct(tl.caught, tl.n), pct(tl.right, tl.n))
		total.n += tl.n
		total.caught += tl.caught
		total.right += tl.right
	}
	fmt.Fprintf(&b, "%-12s %6d %8d %7.1f%% %8.1f%%", "all", total.n, total.caught, pct(total.caught, total.n), pct(total.right, total.n))
	t.Logf("crisis screen recall on %d positives:\n%s", total.n, b.String())
	if len(wrong) > 0 {
		t.Logf("caught under another category (%d):\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
	if len(misses) > 0 {
		t.Errorf("missed %d crisis messages (recall must be 100%%):\n%s", len(misses), strings.Join(misses, "\n"))
	}
	if pct(total.right, total.n) < 90 {
		t.Errorf("category right for %.1f%% of positives; want at least 90%%", pct(total.right, total.n))
	}
}

// TestCrisisFalseAlarms runs the benign look-alikes: at most 5% may alarm.
func TestCrisisFalseAlarms(t *testing.T) {
	_, scr := shippedScreen(t)
	ben := readBenign(t)
	if len(ben) < 150 {
		t.Errorf("only %d benign examples; keep at least 150", len(ben))
	}
	var alarms []string
	for _, ex := range ben {
		if hit, ok := scr.Check(ex.text); ok {
			alarms = append(alarms, fmt.Sprintf("  line %d %q: %s (%s)", ex.line, ex.text, hit.Category, hit.Rule))
		}
	}
	rate := pct(len(alarms), len(ben))
	t.Logf("false alarms: %d of %d benign messages (%.1f%%)", len(alarms), len(ben), rate)
	if len(alarms) > 0 {
		t.Logf("alarmed:\n%s", strings.Join(alarms, "\n"))
	}
	if rate > 5 {
		t.Errorf("false-alarm rate %.1f%% is above 5%%", rate)
	}
}

// TestEveryRuleHasAnExample keeps every rule of the shipped safety section
// proven by at least one positive example that it is the one to catch.
func TestEveryRuleHasAnExample(t *testing.T) {
	spec, scr := shippedScreen(t)
	seen := map[string]bool{}
	for _, ex := range readPositives(t) {
		if hit, ok := scr.Check(ex.text); ok {
			seen[hit.Rule] = true
		}
	}
	for _, c := range spec.Safety.Categories {
		for _, r := range c.Rules {
			if !seen[r.ID] {
				t.Errorf("rule %s (%s) catches none of crisis_positive.tsv: add an example for it", r.ID, c.ID)
			}
		}
	}
}

// TestFirstPhraseIsAPlainExample keeps the first phrase of every rule a
// plain message (no alternatives, gaps or lists) that the rule itself
// catches: it documents the rule for a reader, and other tests use it as a
// sample crisis message.
func TestFirstPhraseIsAPlainExample(t *testing.T) {
	spec, scr := shippedScreen(t)
	for _, c := range spec.Safety.Categories {
		for _, r := range c.Rules {
			if len(r.Phrases) == 0 {
				continue
			}
			p := r.Phrases[0]
			if strings.ContainsAny(p, "()[]|<>…") || strings.Contains(p, "...") {
				t.Errorf("rule %s: first phrase %q is not plain text", r.ID, p)
				continue
			}
			if hit, ok := scr.Check(p); !ok || hit.Rule != r.ID {
				t.Errorf("rule %s: its first phrase %q is caught as %+v", r.ID, p, hit)
			}
		}
	}
}

// TestValidateRuleMatchers: a crisis rule needs at least one of phrases,
// together combinations or patterns. A rule of combinations only is valid;
// a rule with none of the three is named, with all three kinds, so an admin
// knows what to add.
func TestValidateRuleMatchers(t *testing.T) {
	b, err := os.ReadFile(flowsFile)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	const rule = "        - id: suicide-word\n"
	i := strings.Index(src, rule)
	if i < 0 {
		t.Fatal("cannot find rule suicide-word in the shipped file: update the test")
	}
	j := i + len(rule)
	end := j + strings.Index(src[j:], "\n") + 1 // its one-line phrases
	tests := []struct {
		name, body, want string // want "" means valid
	}{
		{"together only", "          together: [\"suicide + plan within 4 words\"]\n", ""},
		{"pattern only", "          patterns: ['\\bsuicide\\b']\n", ""},
		{"nothing to match", "", "has no phrases, together combinations or patterns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flows.Parse("flows.yaml", []byte(src[:j]+tc.body+src[end:]))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Parse: %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Parse: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCrisisReplyContent checks the scripted reply and resources carry what
// the protocol promises a person in crisis.
func TestCrisisReplyContent(t *testing.T) {
	spec, _ := shippedScreen(t)
	s := spec.Safety
	for _, want := range []string{"988", "Call or text 988", "Suicide & Crisis Lifeline", "988lifeline.org/chat", "HOME to 741741", "Crisis Text Line", "911"} {
		if !strings.Contains(s.Reply, want) {
			t.Errorf("safety.reply lacks %q", want)
		}
	}
	for _, lang := range []string{"en", "es"} {
		r := s.Resources[lang]
		if strings.TrimSpace(r) == "" {
			t.Errorf("safety.resources.%s is missing", lang)
			continue
		}
		for _, want := range []string{"988", "741741", "911"} {
			if !strings.Contains(r, want) {
				t.Errorf("safety.resources.%s lacks %q", lang, want)
			}
		}
	}
	if s.Buttons.Staff == "" || s.Buttons.Safe == "" || s.Buttons.Resources == "" {
		t.Errorf("crisis buttons missing: %+v", s.Buttons)
	}
	if s.AlertWindow.Std() <= 0 {
		t.Errorf("safety.alert_window must be set")
	}
}

// testSafety is a small safety section that exercises each step of the
// normalizer, independent of the shipped phrases.
func testSafety() flows.Safety {
	return flows.Safety{
		Categories: []flows.Category{
			{ID: "third_party", Rules: []flows.Rule{
				{ID: "tp", Phrases: []string{"<close> ... (kill herself|suicidal)"}},
			}},
			{ID: "suicide", Rules: []flows.Rule{
				{ID: "kill-self", Phrases: []string{"kill myself", "end my [own] life", "(want|going) to die"}},
				{ID: "word", Phrases: []string{"suicide", "suicidal"}},
				{ID: "pattern", Patterns: []string{`\bhow many( \S+){0,5} to kill me\b`}},
				{ID: "combo", Together: []string{
					"<means> + <soon> within 4 words",
					"goodbye + note within 2 sentences",
					"rope + rope within 5 words",
					"bridge + <soon>",
				}},
			}},
			{ID: "danger", Rules: []flows.Rule{
				{ID: "unsafe", Phrases: []string{"not safe", "(he|she) is killing me"}},
			}},
		},
		Benign: []string{"(my|the) (feet|commute) (is|are) killing me", "not safe for work", `/\bsuicide squad\b/`, "bridge club",
			`/(?P<blank>\bsuicidal\b)( \S+){0,3} years ago and fine now\b/`},
		Lists: map[string]flows.Alternatives{
			"close": {"my <relative>"}, "relative": {"friend", "sister"},
			"means": {"pills", "noose|the bottle"}, "soon": {"tonight|right now"},
		},
		Normalize: flows.Normalization{
			Spellings: map[string][]string{
				"want to":     {"wanna"},
				"do not":      {"dont"},
				"suicide":     {"sewerslide", "sewer slide"},
				"kill myself": {"kms"},
			},
			Fillers: []string{"just", "really", "fucking"},
			Typos:   []string{"suicide", "suicidal", "myself"},
		},
	}
}

func TestScreenNormalizes(t *testing.T) {
	scr, err := flows.NewScreen(testSafety())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text, rule string // rule "" means no alarm
	}{
		{"plain", "I want to kill myself", "kill-self"},
		{"case and punctuation", "KILL...MYSELF!!!", "kill-self"},
		{"stretched letters", "i wanna diiiiie", "kill-self"},
		{"one letter too few", "i want to kil myself", "kill-self"},
		{"leetspeak", "i want to k1ll mys3lf", "kill-self"},
		{"leet word alone is no phrase", "d13", ""},
		{"bang as i", "k!ll myself", "kill-self"},
		{"wildcard", "k*ll myself", "kill-self"},
		{"wildcard long word", "s*icidal", "word"},
		{"typo missing letter", "sucide", "word"},
		{"typo swapped letters", "suicdie", "word"},
		{"typo wrong letter", "suiside", "word"},
		{"typo extra letter", "suiccide", "word"},
		{"typo in myself", "kill myslef", "kill-self"},
		{"spelling", "sewerslide thoughts", "word"},
		{"multi-word spelling", "sewer slide", "word"},
		{"spelling to phrase", "kms", "kill-self"},
		{"fillers dropped", "I just really fucking want to die", "kill-self"},
		{"optional word", "end my own life", "kill-self"},
		{"optional word left out", "end my life", "kill-self"},
		{"accents", "I want to díé", "kill-self"},
		{"full-width letters", "ｋｉｌｌ ｍｙｓｅｌｆ", "kill-self"},
		{"unicode apostrophe", "I don’t feel I’m not safe", "unsafe"},
		{"word boundary", "skill myselfie", ""},
		{"not inside a longer word", "suicidesque", ""},
		{"gap of three words", "my sister said she is suicidal", "tp"},
		{"gap too long", "my sister said that she is suicidal", "word"},
		{"priority: first category wins", "my friend wants to kill herself and I want to die", "tp"},
		{"pattern", "how many pills does it take to kill me", "pattern"},
		{"pattern sees collapsed letters", "how many pillls would it take to kill me", "pattern"},
		{"benign idiom", "my feet are killing me", ""},
		{"benign does not hide a person", "he is killing me", "unsafe"},
		{"benign idiom beside a crisis", "my commute is killing me and I want to die", "kill-self"},
		{"benign regex", "suicide squad was fun", ""},
		{"benign phrase", "that link is not safe for work", ""},
		{"benign regex blanks its blank group", "I was suicidal ten years ago and fine now", ""},
		{"benign regex needs its context", "I was suicidal ten years ago", "word"},
		{"benign regex blanks only its blank group", "I was suicidal ten years ago and fine now, I want to die", "kill-self"},
		{"gap cannot cross an idiom", "my friend, the commute is killing me, suicidal", "word"},
		{"together: both parts", "pills tonight", "combo"},
		{"together: any order, list from a sequence", "right now, the bottle", "combo"},
		{"together: within the word limit", "the pills are for tonight", "combo"},
		{"together: beyond the word limit", "pills and more and more tonight", ""},
		{"together: words stay in one sentence", "pills. tonight", ""},
		{"together: one part alone", "pills", ""},
		{"together: across two sentences", "goodbye. i left a note", "combo"},
		{"together: not across three", "goodbye. ok. a note", ""},
		{"together: parts never overlap", "a rope", ""},
		{"together: the same part twice", "a rope and a rope", "combo"},
		{"together: same sentence, any distance", "the bridge is far away from here, tonight", "combo"},
		{"together: a blanked idiom is no part", "suicide squad tonight bridge", "combo"},
		{"together: not inside a blanked idiom", "the bridge club meets tonight", ""},
		{"empty", "", ""},
		{"only punctuation", "?!…", ""},
		{"emoji", "😔😔😔", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hit, ok := scr.Check(tc.text)
			switch {
			case tc.rule == "" && ok:
				t.Errorf("Check(%q) = %+v, want no alarm", tc.text, hit)
			case tc.rule != "" && !ok:
				t.Errorf("Check(%q) missed, want rule %s", tc.text, tc.rule)
			case tc.rule != "" && hit.Rule != tc.rule:
				t.Errorf("Check(%q) = %+v, want rule %s", tc.text, hit, tc.rule)
			}
		})
	}
}

func TestNewScreenRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*flows.Safety)
		want string
	}{
		{"unbalanced parenthesis", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"(want|going to die"} }, "never closed"},
		{"stray bar", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"want|going to die"} }, "unexpected"},
		{"mismatched brackets", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"(want|going] to die"} }, "closed by"},
		{"gap at the end", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"want to ..."} }, `"..."`},
		{"only fillers", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"just really"} }, "no words"},
		{"bad pattern", func(s *flows.Safety) { s.Categories[1].Rules[2].Patterns = []string{`(unclosed`} }, "pattern"},
		{"pattern with a rewritten word", func(s *flows.Safety) { s.Categories[1].Rules[2].Patterns = []string{`\bdont want\b`} }, `reads as "do not"`},
		{"bad benign pattern", func(s *flows.Safety) { s.Benign = append(s.Benign, "/(x/") }, "benign"},
		{"spelling claimed twice", func(s *flows.Safety) { s.Normalize.Spellings["going to"] = []string{"wanna"} }, "listed for both"},
		{"short typo word", func(s *flows.Safety) { s.Normalize.Typos = []string{"kill"} }, "at least"},
		{"unknown list", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"<nobody> wants to die"} }, "unknown list <nobody>"},
		{"list that uses itself", func(s *flows.Safety) { s.Lists["relative"] = flows.Alternatives{"friend|<relative>"} }, "nest"},
		{"bad list name", func(s *flows.Safety) { s.Lists["Close Ones"] = flows.Alternatives{"a|b"} }, "lists"},
		{"filler-only alternative", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"(just|i) want to die"} }, "only fillers"},
		{"gap at the start", func(s *flows.Safety) { s.Categories[1].Rules[0].Phrases = []string{"... want to die"} }, `"..."`},
		{"together with one part", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"pills within 3 words"} }, "rule combo: together"},
		{"together with five parts", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"a + b + c + d + e"} }, "2 to 4 parts"},
		{"together with an empty part", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"pills + + tonight"} }, "empty"},
		{"together with a zero distance", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"pills + tonight within 0 words"} }, "not a distance"},
		{"together too far apart", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"pills + tonight within 99 words"} }, "more than 50"},
		{"together with a distance in words", func(s *flows.Safety) {
			s.Categories[1].Rules[3].Together = []string{"pills + tonight within three words"}
		}, "within N words"},
		{"together with an unknown list", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"<nobody> + tonight"} }, "unknown list <nobody>"},
		{"together with a bad part", func(s *flows.Safety) { s.Categories[1].Rules[3].Together = []string{"(pills + tonight"} }, `part "(pills"`},
		{"empty list entry", func(s *flows.Safety) { s.Lists["means"] = flows.Alternatives{"pills", " "} }, "empty alternative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSafety()
			tc.edit(&s)
			_, err := flows.NewScreen(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewScreen: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestScreenConcurrent checks Check under the race detector.
func TestScreenConcurrent(t *testing.T) {
	_, scr := shippedScreen(t)
	pos := readPositives(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pos {
				ex := pos[(i+g*17)%len(pos)]
				if _, ok := scr.Check(ex.text); !ok {
					errs <- fmt.Errorf("goroutine %d missed %q", g, ex.text)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzScreenCheck: no input may make Check panic, and the answer must not
// depend on anything but the text.
func FuzzScreenCheck(f *testing.F) {
	_, scr := shippedScreen(f)
	for _, s := range []string{"", " ", "kill myself", "k*l*l", "***", "'", "’’’", "my friend ... ...", "\x00\xff", "ｋｍｓ", "1 2 3 4", "@$!", strings.Repeat("die ", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h1, ok1 := scr.Check(s)
		h2, ok2 := scr.Check(s)
		if h1 != h2 || ok1 != ok2 {
			t.Fatalf("Check(%q) is not deterministic", s)
		}
	})
}

// TestScreenRandomInput throws random bytes and words at Check.
func TestScreenRandomInput(t *testing.T) {
	_, scr := shippedScreen(t)
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"kill", "my", "self", "...", "(", "|", "*", "’", "die", "friend", "not", "safe", "é", "1", "!", "\n", "😔"}
	for range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			if r.IntN(4) == 0 {
				b.WriteByte(byte(r.IntN(256)))
			} else {
				b.WriteString(words[r.IntN(len(words))])
			}
			b.WriteByte(' ')
		}
		scr.Check(b.String())
	}
}

// TestCounselChat runs the real questions of the counsel-chat data set
// through the screen and reports what it flags, by category and rule, and
// how many of the unflagged ones still use crisis words (for a person to
// read: see docs/crisis-protocol.md for what was learned from them).
func TestCounselChat(t *testing.T) {
	qs := evaldata.CounselChatOrSkip(t)
	_, scr := shippedScreen(t)
	byCat := map[string]int{}
	byRule := map[string]int{}
	var flagged []string
	crisisWords := regexp.MustCompile(`(?i)suicid|self[- ]?harm|\bcut(ting|s)?\b|\bdie\b|\bdying\b|\bkill`)
	mention := 0
	var unflagged []string
	for _, q := range qs {
		hit, ok := scr.Check(q.Text)
		if ok {
			byCat[hit.Category]++
			byRule[hit.Rule]++
			flagged = append(flagged, fmt.Sprintf("  %s %s/%s", q.ID, hit.Category, hit.Rule))
			continue
		}
		if crisisWords.MatchString(q.Text) {
			mention++
			unflagged = append(unflagged, "  "+q.ID)
		}
	}
	t.Logf("counsel-chat: %d of %d questions flagged (%.1f%%)", len(flagged), len(qs), pct(len(flagged), len(qs)))
	t.Logf("by category: %s", sortedCounts(byCat))
	t.Logf("by rule: %s", sortedCounts(byRule))
	t.Logf("unflagged questions that still say suicide, self-harm, cut, die, dying or kill: %d", mention)
	if os.Getenv("CRISIS_DUMP") != "" {
		for _, q := range qs {
			hit, ok := scr.Check(q.Text)
			tag := "-"
			if ok {
				tag = hit.Category + "/" + hit.Rule
			} else if !crisisWords.MatchString(q.Text) {
				continue
			}
			fmt.Printf("%s\t%s\t%s\n", q.ID, tag, strings.Join(strings.Fields(q.Text), " "))
		}
	}
}

func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// BenchmarkScreen measures Check on the shipped screen: a typical short
// message, a crisis message, a benign idiom, and a 2,000-character message
// (the engine's input limit).
func BenchmarkScreen(b *testing.B) {
	_, scr := shippedScreen(b)
	long := strings.Repeat("I have been feeling anxious at work and my commute is killing me, but I keep going to therapy every week. ", 19)[:2000]
	// Concept words everywhere, never together as a combination asks:
	// the worst case for the search of "together" rules.
	concepts := strings.Repeat("my pills and my gun. the bridge tonight? i have been thinking, my friend. ", 28)[:2000]
	cases := []struct{ name, text string }{
		{"short", "How long does the program last and do you take Aetna?"},
		{"crisis", "i just really want to kill myself tonight"},
		{"idiom", "this commute is killing me lol"},
		{"long-2000", long},
		{"concepts-2000", concepts},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scr.Check(c.text)
			}
		})
	}
}

// TestBlindSet measures the shipped screen on a set written by someone who
// never saw the rules: CRISIS_BLIND_POS names a category<TAB>message file,
// CRISIS_BLIND_BENIGN a file of look-alikes, one a line. It only reports
// (the honest figure of how the screen generalizes); it is skipped unless
// one of them is set. CRISIS_BLIND_VERBOSE=1 lists every miss and alarm.
func TestBlindSet(t *testing.T) {
	posPath, benPath := os.Getenv("CRISIS_BLIND_POS"), os.Getenv("CRISIS_BLIND_BENIGN")
	if posPath == "" && benPath == "" {
		t.Skip("set CRISIS_BLIND_POS and/or CRISIS_BLIND_BENIGN to measure a blind set")
	}
	_, scr := shippedScreen(t)
	verbose := os.Getenv("CRISIS_BLIND_VERBOSE") != ""
	if posPath != "" {
		n, caught, right := 0, 0, 0
		var misses []string
		eachLine(t, posPath, func(line int, s string) {
			cat, text, ok := strings.Cut(s, "\t")
			if !ok {
				t.Fatalf("%s:%d: want category<TAB>text", posPath, line)
			}
			n++
			hit, alarmed := scr.Check(text)
			switch {
			case !alarmed:
				misses = append(misses, fmt.Sprintf("  %d [%s] %q", line, cat, text))
			case hit.Category == cat:
				caught++
				right++
			default:
				caught++
			}
		})
		t.Logf("blind crisis: %d of %d caught (%.1f%%), category right for %d", caught, n, pct(caught, n), right)
		if verbose && len(misses) > 0 {
			t.Logf("missed:\n%s", strings.Join(misses, "\n"))
		}
	}
	if benPath != "" {
		n := 0
		var alarms []string
		eachLine(t, benPath, func(line int, s string) {
			n++
			if hit, ok := scr.Check(s); ok {
				alarms = append(alarms, fmt.Sprintf("  %d %q: %s (%s)", line, s, hit.Category, hit.Rule))
			}
		})
		t.Logf("blind look-alikes: %d of %d alarm (%.1f%%)", len(alarms), n, pct(len(alarms), n))
		if verbose && len(alarms) > 0 {
			t.Logf("alarmed:\n%s", strings.Join(alarms, "\n"))
		}
	}
}
