package llm

import (
	"os"
	"strings"
	"testing"
	"time"

	"intakebot/flows"
)

func testSpec() *flows.Spec {
	return &flows.Spec{Program: flows.Program{
		Name: "Sample Harbor Adult IOP", ShortName: "Sample Harbor", Phone: "(206) 555-0142",
		Email: "intake@example.org", Website: "https://example.org/iop",
		Hours: "Monday to Friday, 8 am to 6 pm Pacific", Timezone: "America/Los_Angeles",
		Sites:         []flows.Site{{Name: "Downtown clinic (sample)", Address: "100 Example Avenue, Springfield"}},
		VirtualStates: []string{"Washington", "Oregon"},
	}}
}

func TestMask(t *testing.T) {
	p := newProtector(testSpec())
	tests := []struct {
		name string
		in   string
		want string
		vals []string
	}{
		{"durations and phone",
			"Most people attend 9–20 hours a week for 6–12 weeks. Call us at (206) 555-0142 with questions.",
			"Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧ with questions.",
			[]string{"9–20 hours", "6–12 weeks", "(206) 555-0142"}},
		{"program name beats short name",
			"Sample Harbor Adult IOP is open Monday to Friday, 8 am to 6 pm Pacific. Sample Harbor is in Washington.",
			"⟦1⟧ is open ⟦2⟧. ⟦3⟧ is in ⟦4⟧.",
			[]string{"Sample Harbor Adult IOP", "Monday to Friday, 8 am to 6 pm Pacific", "Sample Harbor", "Washington"}},
		{"crisis numbers, url, email",
			"Call or text 988, chat at 988lifeline.org/chat, or email intake@example.org.",
			"Call or text ⟦1⟧, chat at ⟦2⟧, or email ⟦3⟧.",
			[]string{"988", "988lifeline.org/chat", "intake@example.org"}},
		{"money and placeholders",
			"A copay of $25 to $40 per day is common, {answer.name}.",
			"A copay of ⟦1⟧ per day is common, ⟦2⟧.",
			[]string{"$25 to $40", "{answer.name}"}},
		{"spelled-out quantities",
			"Groups meet three to five days a week, for about three hours, and one hour of individual therapy.",
			"Groups meet ⟦1⟧ a week, for about ⟦2⟧, and ⟦3⟧ of individual therapy.",
			[]string{"three to five days", "three hours", "one hour"}},
		{"digits inside a word",
			"See table S56 for the data.",
			"See table S⟦1⟧ for the data.",
			[]string{"56"}},
		{"nothing to protect",
			"What name would you like us to use when we call you?",
			"What name would you like us to use when we call you?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := p.mask(tt.in)
			if m.Text != tt.want {
				t.Errorf("mask:\n got %q\nwant %q", m.Text, tt.want)
			}
			if strings.Join(m.Values, "|") != strings.Join(tt.vals, "|") {
				t.Errorf("values: got %q, want %q", m.Values, tt.vals)
			}
			if got := unmask(m.Text, m.Values); got != tt.in {
				t.Errorf("unmask: got %q, want %q", got, tt.in)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	p := newProtector(testSpec())
	lim := limitsFor(StyleWarm)
	const orig = "Most people attend 9–20 hours a week for 6–12 weeks. Call us at (206) 555-0142 with questions."
	const crisisOrig = "If you are in danger, call or text 988 any time. We are here Monday to Friday, 8 am to 6 pm Pacific."
	tests := []struct {
		name string
		orig string
		out  string
		want Reason
	}{
		{"faithful", orig, "Happy to help: most people come ⟦1⟧ a week for ⟦2⟧. You can call us at ⟦3⟧ with any questions.", ReasonOK},
		{"faithful with spaced tokens and a fence", orig, "```\nMost people come ⟦ 1 ⟧ a week for ⟦2⟧. Call us at ⟦3⟧ with questions.\n```", ReasonOK},
		{"changed phone", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at (206) 555-0199 with questions.", ReasonNewPhone},
		{"dropped 988", crisisOrig, "If you are in danger, call or text any time. We are here ⟦2⟧.", ReasonTokenMissing},
		{"988 written out instead of its token", crisisOrig, "If you are in danger, call or text 988 any time. We are here ⟦2⟧.", ReasonNewNumber},
		{"dropped duration", orig, "Most people attend ⟦1⟧ a week for a few weeks. Call us at ⟦3⟧ with questions.", ReasonTokenMissing},
		{"repeated token", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧ (⟦2⟧). Call us at ⟦3⟧ with questions.", ReasonTokenRepeated},
		{"invented token", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧ or ⟦4⟧.", ReasonTokenUnknown},
		{"added dollar figure", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧, about $150 a week. Call us at ⟦3⟧.", ReasonNewMoney},
		{"added number", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧ in 3 groups. Call us at ⟦3⟧.", ReasonNewNumber},
		{"added spelled number", orig, "Most people attend ⟦1⟧ a week, twice a day, for ⟦2⟧. Call us at ⟦3⟧.", ReasonNewNumber},
		{"added url", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧. See example.com or call us at ⟦3⟧.", ReasonNewURL},
		{"added placeholder", orig, "Hi {name}! Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧.", ReasonPlaceholder},
		{"refusal", orig, "I'm sorry, but I can't help with that request.", ReasonRefusal},
		{"preface", orig, "Here's a warmer version: Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧.", ReasonRefusal},
		{"therapist claim", orig, "As a therapist, I can tell you most people attend ⟦1⟧ a week for ⟦2⟧. Call me at ⟦3⟧.", ReasonPersona},
		{"real person claim", orig, "I'm a real person here to help! Most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧.", ReasonPersona},
		{"counselor claim", orig, "I'm a counselor: most people attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧.", ReasonPersona},
		{"another language", orig, "La mayoría de las personas asisten ⟦1⟧ a la semana durante ⟦2⟧. Llámenos al ⟦3⟧ si tiene preguntas.", ReasonLanguage},
		{"another script", orig, "Большинство людей посещают ⟦1⟧ в неделю в течение ⟦2⟧. Звоните нам по номеру ⟦3⟧.", ReasonLanguage},
		{"added negation", orig, "Most people do not attend ⟦1⟧ a week for ⟦2⟧. Call us at ⟦3⟧ with questions.", ReasonNegation},
		{"dropped negation", "You don't need a referral: call us at (206) 555-0142.", "You need a referral, so call us at ⟦1⟧.", ReasonNegation},
		{"negation reworded", "You don't need a referral: call us at (206) 555-0142.", "No referral is needed: just call us at ⟦1⟧.", ReasonOK},
		{"too long", orig, "Most people attend ⟦1⟧ a week for ⟦2⟧. " + strings.Repeat("We really care about you and want you to feel at home here. ", 4) + "Call us at ⟦3⟧.", ReasonLength},
		{"too short", orig, "⟦1⟧, ⟦2⟧, ⟦3⟧.", ReasonLength},
		{"empty", orig, "  ", ReasonEmptyOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := p.mask(tt.orig)
			got, final := check(tt.orig, m, tt.out, lim)
			if got != tt.want {
				t.Fatalf("check(%q) = %s, want %s", tt.out, got, tt.want)
			}
			if got == ReasonOK && (!strings.Contains(final, "555-0142") || strings.Contains(final, "⟦")) {
				t.Errorf("final text %q lost a value or kept a token", final)
			}
		})
	}
}

func TestCheckKeepsDisclosure(t *testing.T) {
	p := newProtector(nil)
	orig := "I'm an automated assistant. I can answer questions about our program."
	m := p.mask(orig)
	if got, _ := check(orig, m, "I can answer your questions about our program.", limitsFor(StyleWarm)); got != ReasonPersona {
		t.Errorf("dropping the disclosure: got %s, want %s", got, ReasonPersona)
	}
	if got, _ := check(orig, m, "I'm an automated assistant, and I'm glad to answer questions about our program.", limitsFor(StyleWarm)); got != ReasonOK {
		t.Errorf("keeping the disclosure: got %s, want ok", got)
	}
}

func TestRedactQuestion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"my name is zephyrine quillfeather, call me at (206) 555-0187", "my name is [name], call me at [phone]"},
		{"I'm Zephyrine Q. Does IOP take 20 hours?", "I'm [name]. Does IOP take [number] hours?"},
		{"email me at z.q@example.com or see www.example.com/x", "email me at [email] or see [link]"},
		{"what does it cost", "what does it cost"},
		{"I'm anxious, what is IOP?", "I'm anxious, what is IOP?"},
	}
	for _, tt := range tests {
		if got := redactQuestion(tt.in); got != tt.want {
			t.Errorf("redactQuestion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCrisisNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"call or text 988":          true,
		"text HOME to 741741.":      true,
		"call 911 now":              true,
		"(206) 555-0988":            false,
		"9880 hours":                false,
		"our program lasts 6 weeks": false,
	} {
		if got := hasCrisisNumber(s); got != want {
			t.Errorf("hasCrisisNumber(%q) = %t, want %t", s, got, want)
		}
	}
}

func TestBreaker(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreaker(2, time.Minute, func() time.Time { return now })
	steps := []struct {
		do        string // "allow", "fail", "ok", "advance"
		wantAllow bool
	}{
		{"allow", true}, {"fail", false},
		{"allow", true}, {"fail", false}, // opens
		{"allow", false},
		{"advance", false},
		{"allow", true},  // half-open trial
		{"allow", false}, // only one trial at a time
		{"fail", false},  // reopens at once
		{"allow", false},
		{"advance", false},
		{"allow", true}, {"ok", false}, // closes
		{"allow", true}, {"allow", true},
	}
	for i, s := range steps {
		switch s.do {
		case "allow":
			if got := b.allow(); got != s.wantAllow {
				t.Fatalf("step %d: allow = %t, want %t", i, got, s.wantAllow)
			}
		case "fail":
			b.failure()
		case "ok":
			b.success()
		case "advance":
			now = now.Add(time.Minute)
		}
	}
}

// BenchmarkValidateShort is the same for a short step text with nothing
// to protect.
func BenchmarkValidateShort(b *testing.B) {
	p := newProtector(testSpec())
	lim := limitsFor(StyleWarm)
	orig := "What name would you like us to use when we call you?"
	out := "Which name would you like us to use when we give you a call?"
	b.ReportAllocs()
	for b.Loop() {
		m := p.mask(orig)
		if r, _ := check(orig, m, out, lim); r != ReasonOK {
			b.Fatal(r)
		}
	}
}

// BenchmarkValidate measures the guardrails around a call: masking the
// text and checking the output. It must be negligible beside the call
// (hundreds of milliseconds).
func BenchmarkValidate(b *testing.B) {
	p := newProtector(testSpec())
	lim := limitsFor(StyleWarm)
	orig := "An intensive outpatient program (IOP) is structured mental-health treatment for adults: usually 9–20 hours a week of group therapy, individual therapy and psychiatric care, for 6–12 weeks, while you keep living at home. Call Sample Harbor Adult IOP at (206) 555-0142, Monday to Friday, 8 am to 6 pm Pacific, or visit https://example.org/iop."
	m := p.mask(orig)
	out := "Happy to explain! " + m.Text
	if r, _ := check(orig, m, out, lim); r != ReasonOK {
		b.Fatalf("benchmark output rejected: %s", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		m := p.mask(orig)
		check(orig, m, out, lim)
	}
}

// TestShippedTextsPassAFaithfulEcho guards against false positives: every
// text of the shipped flows.yaml, echoed back with a friendly opening and
// every token kept, passes the check (a text naming a crisis number is
// never sent, so it is not checked).
func TestShippedTextsPassAFaithfulEcho(t *testing.T) {
	path := "../../flows.yaml"
	if p := os.Getenv("INTAKEBOT_TEST_FLOWS"); p != "" {
		path = p
	}
	spec, err := flows.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	p := newProtector(spec)
	var texts []string
	for _, e := range spec.FAQ {
		texts = append(texts, strings.TrimSpace(e.Answer))
	}
	for _, f := range spec.Flows {
		for _, s := range f.Steps {
			if strings.TrimSpace(s.Text) != "" && !strings.Contains(s.Text, "{answer.") {
				texts = append(texts, s.Text)
			}
		}
	}
	checked := 0
	for _, tx := range texts {
		if hasCrisisNumber(tx) {
			continue
		}
		checked++
		m := p.mask(tx)
		for _, st := range []Style{StyleWarm, StylePlain, StyleShort} {
			out := "Happy to help. " + m.Text
			if st == StyleShort {
				out = m.Text
			}
			if r, final := check(tx, m, out, limitsFor(st)); r != ReasonOK || final != strings.TrimSpace(unmask(out, m.Values)) {
				t.Errorf("%s: %s for %q\n  masked %q", st, r, tx, m.Text)
			}
		}
	}
	t.Logf("%d texts checked, %d with crisis numbers skipped", checked, len(texts)-checked)
}
