package llm_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"

	"intakebot/adapters/llm"
	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
)

// shippedSpec loads the shipped flows.yaml with every FAQ answer and every
// step marked rephrasable, so that every text the engine could ever offer
// the rephraser goes to the fake endpoint.
func shippedSpec(t testing.TB) *flows.Spec {
	t.Helper()
	path := "../../flows.yaml"
	if p := os.Getenv("INTAKEBOT_TEST_FLOWS"); p != "" {
		path = p
	}
	spec, err := flows.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	for i := range spec.FAQ {
		spec.FAQ[i].Rephrasable = true
	}
	for i := range spec.Flows {
		for j := range spec.Flows[i].Steps {
			spec.Flows[i].Steps[j].Rephrasable = true
		}
	}
	return spec
}

// engineRephraser is a rephraser for spec on the fake.
func engineRephraser(t testing.TB, f *fakeServer, spec *flows.Spec, cfg llm.Config) *llm.Rephraser {
	t.Helper()
	r, err := llm.NewRephraser(cfg, spec, llm.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEngineCrisisTurnNeverCallsModel(t *testing.T) {
	spec := shippedSpec(t)
	f := newFake(t, faithful)
	r := engineRephraser(t, f, spec, f.config())

	// The control: an FAQ question is rephrased through the fake.
	h := bottest.NewHarness(t, spec, bot.WithRephraser(r))
	out := h.Say(spec.FAQ[0].Questions[0])
	if f.requests() == 0 || !strings.Contains(dumpTexts(out), "Happy to help.") {
		t.Fatalf("control: %d requests, replies %q; want the FAQ answer rephrased", f.requests(), dumpTexts(out))
	}

	// One phrase of every crisis rule, alone and after a question the FAQ
	// would answer.
	var msgs []string
	for _, c := range spec.Safety.Categories {
		for _, rule := range c.Rules {
			if len(rule.Phrases) > 0 {
				msgs = append(msgs, rule.Phrases[0], spec.FAQ[0].Questions[0]+" "+rule.Phrases[0])
			}
		}
	}
	if len(msgs) == 0 {
		t.Fatal("flows.yaml has no crisis phrases")
	}
	for _, msg := range msgs {
		h := bottest.NewHarness(t, spec, bot.WithRephraser(r))
		before := f.requests()
		out := h.Say(msg)
		if !out.Crisis() {
			t.Errorf("%q: not answered as a crisis (replies %q)", msg, dumpTexts(out))
			continue
		}
		if f.requests() != before {
			t.Errorf("%q: the model was called %d times in a crisis turn", msg, f.requests()-before)
		}
		if strings.Contains(dumpTexts(out), "Happy to help.") {
			t.Errorf("%q: a crisis turn carries a rephrased text: %q", msg, dumpTexts(out))
		}
	}
}

// persona is a test participant with details no scripted text contains.
var persona = struct {
	name, phone, email, text string
	leaks                    []string
}{
	name:  "Zephyrine Quillfeather",
	phone: "(206) 555-0187",
	email: "zephyrine.q@example.net",
	text:  "xylophone recitals with Quokka Mutual",
	leaks: []string{"Zephyrine", "Quillfeather", "555-0187", "5550187", "0187", "zephyrine.q",
		"xylophone", "Quokka"},
}

func TestEnginePromptsCarryNoParticipantData(t *testing.T) {
	for _, includeQuestion := range []bool{false, true} {
		name := "question off"
		if includeQuestion {
			name = "question on"
		}
		t.Run(name, func(t *testing.T) {
			spec := shippedSpec(t)
			f := newFake(t, faithful)
			cfg := f.config()
			cfg.IncludeQuestion = includeQuestion
			r := engineRephraser(t, f, spec, cfg)
			h := bottest.NewHarness(t, spec, bot.WithRephraser(r))
			steps := walkIntake(t, h)
			if steps < 5 {
				t.Fatalf("the walk answered only %d steps", steps)
			}
			bodies := f.allBodies()
			if len(bodies) == 0 {
				t.Fatal("no request reached the fake: the test proves nothing")
			}
			withQuestion := 0
			for _, b := range bodies {
				if strings.Contains(b, "The person wrote") {
					withQuestion++
				}
			}
			if includeQuestion != (withQuestion > 0) {
				t.Errorf("include_question %t, but %d requests carry a question", includeQuestion, withQuestion)
			}
			for i, b := range bodies {
				for _, leak := range persona.leaks {
					if strings.Contains(b, leak) {
						t.Errorf("request %d contains %q:\n%s", i+1, leak, b)
					}
				}
			}
			t.Logf("%d steps, %d requests, none with the persona's details", steps, len(bodies))
		})
	}
}

// walkIntake takes the persona through the intake flow, asking an FAQ
// question mid-flow, and returns how many steps it answered.
func walkIntake(t *testing.T, h *bottest.Harness) int {
	t.Helper()
	h.Say("hello")
	out := h.Tap("flow:intake")
	asked, steps, seen := false, 0, map[string]int{}
	for range 200 {
		st := h.State()
		if st.Flow == "" {
			return steps
		}
		flow := h.Spec.Flow(st.Flow)
		step := flow.Step(st.Step)
		if step == nil {
			t.Fatalf("waiting at unknown step %s/%s", st.Flow, st.Step)
		}
		if seen[st.Flow+"/"+st.Step]++; seen[st.Flow+"/"+st.Step] > 8 {
			t.Fatalf("stuck at %s/%s; last replies %q", st.Flow, st.Step, dumpTexts(out))
		}
		if !asked && step.Kind == flows.KindChoose {
			// A question mid-flow: with include_question on, it goes
			// with the FAQ answer; the persona's answers to steps never
			// do. (The redaction of details inside a question is tested
			// in TestRephraseIncludeQuestion: the matcher does not answer
			// a question cluttered with them.)
			asked = true
			q := h.Spec.FAQ[0].Questions[0]
			if o := h.Say(q); !strings.Contains(dumpTexts(o), "Happy to help.") {
				t.Fatalf("the question mid-flow was not answered with a rephrased FAQ answer: %q", dumpTexts(o))
			}
			continue
		}
		steps++
		switch {
		case st.AwaitOther:
			out = h.Say(persona.text)
		case step.Kind == flows.KindAsk:
			switch step.Validate {
			case flows.ValidateName:
				out = h.Say(persona.name)
			case flows.ValidatePhone:
				out = h.Say(persona.phone)
			case flows.ValidateEmail:
				out = h.Say(persona.email)
			case flows.ValidateZIP:
				out = h.Say("98101")
			case flows.ValidateDate:
				out = h.Say("next monday")
			default:
				out = h.Say(persona.text)
			}
		case step.Kind == flows.KindConsent:
			out = h.Tap(step.ID + ".yes")
		case step.Kind == flows.KindSummary:
			out = h.Tap(step.ID + ".confirm")
		case step.Kind == flows.KindChoose:
			pick := step.Choices[0]
			for _, c := range step.Choices {
				if c.ID != step.Other && !c.Exclusive {
					pick = c
					break
				}
			}
			out = h.Tap(step.ID + "." + pick.ID)
			if step.Multi && h.State().Step == st.Step && !h.State().AwaitOther {
				out = h.Tap(step.ID + ".done")
			}
		default:
			// An assessment item or anything else with buttons: the first
			// flow button (for questionnaires, the lowest answer).
			id := firstFlowChoice(out)
			if id == "" {
				t.Fatalf("no button to tap at %s/%s (%s); replies %q", st.Flow, st.Step, step.Kind, dumpTexts(out))
			}
			out = h.Tap(id)
		}
		if out.Crisis() {
			t.Fatalf("the walk hit the crisis protocol at %s/%s", st.Flow, st.Step)
		}
	}
	t.Fatal("the walk did not finish in 200 turns")
	return steps
}

// firstFlowChoice returns the first button of the last reply that is not
// one of the engine's own (talk to a person, menu, …).
func firstFlowChoice(out bot.Output) string {
	if len(out.Replies) == 0 {
		return ""
	}
	for _, c := range out.Replies[len(out.Replies)-1].Choices {
		switch c.ID {
		case bot.ChoiceHuman, bot.ChoiceMenu, bot.ChoiceResume:
			continue
		}
		if strings.HasSuffix(c.ID, ".skip") {
			continue
		}
		return c.ID
	}
	return ""
}

func dumpTexts(out bot.Output) string {
	var b strings.Builder
	for _, r := range out.Replies {
		b.WriteString(r.Text)
		b.WriteString(" | ")
	}
	return b.String()
}

// TestFAQCacheHitRate runs every FAQ answer through the rephraser twice:
// the first pass calls the model for each answer, the second is all cache
// hits.
func TestFAQCacheHitRate(t *testing.T) {
	spec := shippedSpec(t)
	f := newFake(t, faithful)
	cache := llm.NewMemCache()
	reg := prometheus.NewRegistry()
	r, err := llm.NewRephraser(f.config(), spec, llm.WithRegisterer(reg), llm.WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	pass := func() (hits, n int) {
		for _, e := range spec.FAQ {
			res := r.Try(context.Background(), bot.RephraseRequest{Text: strings.TrimSpace(e.Answer)})
			if res.Reason == llm.ReasonCacheHit {
				hits++
			}
			n++
		}
		return hits, n
	}
	h1, n := pass()
	calls := f.requests()
	h2, _ := pass()
	if f.requests() != calls {
		t.Errorf("second pass made %d requests, want none", f.requests()-calls)
	}
	crisis := 0
	for _, e := range spec.FAQ {
		if strings.Contains(e.Answer, "988") || strings.Contains(e.Answer, "741741") || strings.Contains(e.Answer, "911") {
			crisis++
		}
	}
	if h2 != n-crisis {
		t.Errorf("second pass: %d hits of %d answers (%d never sent: crisis numbers); want every other one a hit", h2, n, crisis)
	}
	t.Logf("FAQ: %d answers; first pass %d hits, %d calls; second pass %d hits (%.0f%% of the answers that may be sent, %d with crisis numbers never sent)",
		n, h1, calls, h2, 100*float64(h2)/float64(max(n-crisis, 1)), crisis)
}

// unsureQuestion finds a message the matcher of spec is unsure about
// (Suggest), or skips the test.
func unsureQuestion(t *testing.T, spec *flows.Spec) (string, []flows.Candidate) {
	t.Helper()
	noise := []string{"", " maybe", " hmm not sure", " - Zephyrine Quillfeather", " or something like that, I wonder"}
	for _, e := range spec.FAQ {
		bases := append([]string{e.Title}, e.Keywords...)
		bases = append(bases, e.Questions...)
		for _, b := range bases {
			for _, n := range noise {
				q := b + n
				if _, crisis := spec.Screen().Check(q); crisis {
					continue
				}
				if res := spec.Matcher().Match(q); res.Decision == flows.Suggest && len(res.Candidates) > 0 {
					return q, res.Candidates
				}
			}
		}
	}
	t.Skip("no message found that the matcher is unsure about")
	return "", nil
}

func TestEngineFAQChooser(t *testing.T) {
	spec := shippedSpec(t)
	q, cands := unsureQuestion(t, spec)
	want := spec.FAQEntry(cands[0].ID)
	tests := []struct {
		name     string
		reply    string
		answered bool
	}{
		{"an id from the list is answered", `{"id": "` + want.ID + `"}`, true},
		{"an invented id is ignored", `{"id": "made_up_topic"}`, false},
		{"none is ignored", `{"id": "none"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Content: tt.reply} })
			c, err := llm.NewChooser(f.config(), llm.WithRegisterer(prometheus.NewRegistry()))
			if err != nil {
				t.Fatal(err)
			}
			h := bottest.NewHarness(t, spec, bot.WithFAQChooser(c))
			out := h.Say(q)
			if f.requests() != 1 {
				t.Fatalf("%d requests for an unsure question, want 1", f.requests())
			}
			if got := strings.Contains(dumpTexts(out), strings.TrimSpace(want.Answer)); got != tt.answered {
				t.Errorf("answered %q: %t, want %t; replies %q", want.ID, got, tt.answered, dumpTexts(out))
			}
			// A crisis message never reaches the chooser.
			for _, cat := range spec.Safety.Categories {
				if len(cat.Rules) > 0 && len(cat.Rules[0].Phrases) > 0 {
					if out := h.Say(q + " " + cat.Rules[0].Phrases[0]); !out.Crisis() || f.requests() != 1 {
						t.Errorf("crisis message: crisis %t, %d requests; want a crisis reply and no request", out.Crisis(), f.requests())
					}
					break
				}
			}
		})
	}
}

// TestEngineTurnWaitsOneTimeout: a turn with several rephrasable replies
// (an FAQ answered mid-flow and the step asked again) against an endpoint
// that never answers waits one timeout, not one per reply.
func TestEngineTurnWaitsOneTimeout(t *testing.T) {
	spec := shippedSpec(t)
	release := make(chan struct{})
	f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Block: release} })
	t.Cleanup(func() { close(release) })
	cfg := f.config()
	cfg.Timeout = 500 * time.Millisecond
	r := engineRephraser(t, f, spec, cfg)
	h := bottest.NewHarness(t, spec, bot.WithRephraser(r))
	h.Tap("flow:intake")
	h.Tap("consent.yes")
	if st := h.State(); spec.Flow(st.Flow).Step(st.Step).Kind != flows.KindAsk {
		t.Skipf("the intake does not start with an ask step after consent (at %s/%s)", st.Flow, st.Step)
	}
	start := time.Now()
	out := h.Say(spec.FAQ[0].Questions[0])
	elapsed := time.Since(start)
	n := 0
	for _, rep := range out.Replies {
		if rep.Rephrasable {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("%d rephrasable replies (%q), want 2", n, dumpTexts(out))
	}
	if elapsed >= cfg.Timeout*time.Duration(n) || elapsed > cfg.Timeout+400*time.Millisecond {
		t.Errorf("%d rephrasable replies took %s, want about one timeout (%s)", n, elapsed, cfg.Timeout)
	}
	if !strings.Contains(dumpTexts(out), strings.TrimSpace(spec.FAQ[0].Answer)) {
		t.Errorf("the scripted answer did not go out: %q", dumpTexts(out))
	}
}
