package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"

	"intakebot/adapters/llm"
	"intakebot/bot"
	"intakebot/flows"
)

// program is the fictional program of these tests.
func program() *flows.Spec {
	return &flows.Spec{Program: flows.Program{
		Name: "Sample Harbor Adult IOP", ShortName: "Sample Harbor", Phone: "(206) 555-0142",
		Hours: "Monday to Friday, 8 am to 6 pm Pacific",
	}}
}

// scripted is a text with protected numbers: it masks to
// "Most people attend ⟦1⟧ a week for ⟦2⟧. Call ⟦3⟧ at ⟦4⟧ with questions."
const scripted = "Most people attend 9–20 hours a week for 6–12 weeks. Call Sample Harbor at (206) 555-0142 with questions."

// newRephraser returns a rephraser on the fake with its own registry.
func newRephraser(t testing.TB, f *fakeServer, cfg llm.Config, opts ...llm.Option) (*llm.Rephraser, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := llm.NewRephraser(cfg, program(), append([]llm.Option{llm.WithRegisterer(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

func TestRephraseVerdicts(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		model  func(masked string) string
		want   llm.Reason
		called bool
	}{
		{"faithful rephrase is used", scripted,
			func(m string) string { return "Happy to help. " + m }, llm.ReasonOK, true},
		{"changed phone number", scripted,
			func(m string) string { return strings.Replace(m, "⟦4⟧", "(206) 555-0199", 1) }, llm.ReasonNewPhone, true},
		{"dropped protected number", scripted,
			func(m string) string { return strings.Replace(m, "for ⟦2⟧", "for a few weeks", 1) }, llm.ReasonTokenMissing, true},
		{"protected name written out", scripted,
			func(m string) string { return strings.Replace(m, "⟦3⟧", "the Harbor team", 1) }, llm.ReasonTokenMissing, true},
		{"added dollar figure", scripted,
			func(m string) string { return m + " It costs about $150 a week." }, llm.ReasonNewMoney, true},
		{"refusal", scripted,
			func(string) string { return "I'm sorry, but I can't help with rewriting this message." }, llm.ReasonRefusal, true},
		{"another language", scripted,
			func(string) string {
				return "La mayoría de las personas asisten ⟦1⟧ a la semana durante ⟦2⟧. Llame a ⟦3⟧ al ⟦4⟧ si tiene preguntas."
			}, llm.ReasonLanguage, true},
		{"therapist claim", scripted,
			func(m string) string {
				return "I'm a therapist, and most people I see attend ⟦1⟧ a week for ⟦2⟧. Call ⟦3⟧ at ⟦4⟧."
			},
			llm.ReasonPersona, true},
		{"real person claim", scripted,
			func(m string) string { return "I am a real person, not a bot! " + m }, llm.ReasonPersona, true},
		{"a text with 988 is never sent", "If you are in danger, call or text 988 any time.",
			func(m string) string { return m }, llm.ReasonCrisisText, false},
		{"a text with 741741 is never sent", "You can also text HOME to 741741.",
			func(m string) string { return m }, llm.ReasonCrisisText, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, with(tt.model))
			r, reg := newRephraser(t, f, f.config())
			res := r.Try(context.Background(), bot.RephraseRequest{Text: tt.text})
			if res.Reason != tt.want {
				t.Fatalf("reason = %s, want %s (output %q)", res.Reason, tt.want, res.Output)
			}
			if got := f.requests() > 0; got != tt.called || res.Called != tt.called {
				t.Errorf("requests = %d, Called = %t; want called %t", f.requests(), res.Called, tt.called)
			}
			wantText := tt.text
			if tt.want == llm.ReasonOK {
				wantText = "Happy to help. " + tt.text
			}
			if res.Text != wantText {
				t.Errorf("text = %q, want %q", res.Text, wantText)
			}
			if got := r.Rephrase(context.Background(), bot.RephraseRequest{Text: tt.text}); got != wantText {
				t.Errorf("Rephrase = %q, want %q", got, wantText)
			}
			if n := counter(t, reg, "intakebot_llm_rephrase_total", "reason", string(tt.want)); n < 1 {
				t.Errorf("counter for %s = %v, want at least 1", tt.want, n)
			}
		})
	}
}

func TestRephraseRequestShape(t *testing.T) {
	f := newFake(t, faithful)
	r, _ := newRephraser(t, f, f.config())
	r.Rephrase(context.Background(), bot.RephraseRequest{Text: scripted, Question: "my number is (206) 555-0187"})
	bodies := f.allBodies()
	if len(bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(bodies))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(bodies[0]), &raw); err != nil {
		t.Fatal(err)
	}
	// go-openai omits a zero temperature; the adapter sends a tiny one.
	if temp, ok := raw["temperature"].(float64); !ok || temp <= 0 || temp > 0.01 {
		t.Errorf("temperature = %v, want a tiny positive number", raw["temperature"])
	}
	for _, leak := range []string{"9–20", "6–12", "555-0142", "Sample Harbor", "555-0187", "my number"} {
		if strings.Contains(bodies[0], leak) {
			t.Errorf("request body contains %q:\n%s", leak, bodies[0])
		}
	}
	if !strings.Contains(bodies[0], "⟦1⟧") || !strings.Contains(bodies[0], "⟦4⟧") {
		t.Errorf("request body has no tokens:\n%s", bodies[0])
	}
}

func TestRephraseIncludeQuestion(t *testing.T) {
	f := newFake(t, faithful)
	cfg := f.config()
	cfg.IncludeQuestion = true
	r, _ := newRephraser(t, f, cfg)
	req := bot.RephraseRequest{Text: scripted, Question: "Hi, my name is Zephyrine Quillfeather, call me on (206) 555-0187. How long is it?"}
	for range 2 {
		if res := r.Try(context.Background(), req); res.Reason != llm.ReasonOK {
			t.Fatalf("reason = %s, want ok", res.Reason)
		}
	}
	bodies := f.allBodies()
	if len(bodies) != 2 {
		t.Errorf("%d requests, want 2: an output that depends on a question is not cached", len(bodies))
	}
	for _, b := range bodies {
		if !strings.Contains(b, "How long is it?") {
			t.Errorf("the redacted question is missing:\n%s", b)
		}
		for _, leak := range []string{"Zephyrine", "Quillfeather", "555-0187", "0187"} {
			if strings.Contains(b, leak) {
				t.Errorf("request body contains %q:\n%s", leak, b)
			}
		}
	}
}

func TestRephraseTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Block: release} })
	t.Cleanup(func() { close(release) }) // runs before the server closes
	cfg := f.config()
	cfg.Timeout = 200 * time.Millisecond
	r, reg := newRephraser(t, f, cfg)
	start := time.Now()
	res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted})
	elapsed := time.Since(start)
	if res.Reason != llm.ReasonTimeout || res.Text != scripted {
		t.Fatalf("got %s %q, want timeout and the scripted text", res.Reason, res.Text)
	}
	const margin = 500 * time.Millisecond
	if elapsed < cfg.Timeout || elapsed > cfg.Timeout+margin {
		t.Errorf("took %s, want between %s and %s", elapsed, cfg.Timeout, cfg.Timeout+margin)
	}
	if n := counter(t, reg, "intakebot_llm_rephrase_total", "reason", "timeout"); n != 1 {
		t.Errorf("timeout counter = %v, want 1", n)
	}
}

func TestRephraseCanceledByCaller(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := newFake(t, func(openai.ChatCompletionRequest) fakeReply {
		once.Do(func() { close(arrived) })
		return fakeReply{Block: release}
	})
	t.Cleanup(func() { close(release) })
	r, _ := newRephraser(t, f, f.config(), llm.WithBreaker(1, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan llm.Result)
	go func() { done <- r.Try(ctx, bot.RephraseRequest{Text: scripted}) }()
	<-arrived
	cancel()
	if res := <-done; res.Reason != llm.ReasonCanceled || res.Text != scripted {
		t.Fatalf("got %s %q, want canceled and the scripted text", res.Reason, res.Text)
	}
	// A caller giving up is not the endpoint's failure: the breaker
	// (threshold 1) stays closed.
	f.setReply(faithful)
	if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK {
		t.Errorf("after a cancel: %s, want ok", res.Reason)
	}
}

func TestBreakerOpensOnErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   llm.Reason
	}{
		{"OpenAI-style error (*openai.APIError)", 500, `{"error":{"message":"overloaded","type":"server_error"}}`, llm.ReasonAPIError},
		{"rate limit (*openai.APIError)", 429, `{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}`, llm.ReasonAPIError},
		{"other shape (*openai.RequestError)", 502, `<html><body>Bad gateway</body></html>`, llm.ReasonRequestError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failing := func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Status: tt.status, Raw: tt.body} }
			f := newFake(t, failing)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			r, reg := newRephraser(t, f, f.config(), llm.WithBreaker(3, time.Minute), llm.WithClock(clock.Now))
			try := func() llm.Result { return r.Try(context.Background(), bot.RephraseRequest{Text: scripted}) }
			for i := range 3 {
				if res := try(); res.Reason != tt.want || res.Text != scripted {
					t.Fatalf("call %d: %s %q, want %s and the scripted text", i+1, res.Reason, res.Text, tt.want)
				}
			}
			// Open: no request until the cool-down has passed.
			for range 5 {
				if res := try(); res.Reason != llm.ReasonBreakerOpen {
					t.Fatalf("breaker open: %s, want %s", res.Reason, llm.ReasonBreakerOpen)
				}
			}
			if f.requests() != 3 {
				t.Fatalf("%d requests while open, want 3", f.requests())
			}
			clock.Advance(59 * time.Second)
			if res := try(); res.Reason != llm.ReasonBreakerOpen || f.requests() != 3 {
				t.Fatalf("before the cool-down: %s, %d requests", res.Reason, f.requests())
			}
			// Half-open: one trial; its failure opens the breaker again.
			clock.Advance(time.Second)
			if res := try(); res.Reason != tt.want || f.requests() != 4 {
				t.Fatalf("trial: %s, %d requests; want %s and 4", res.Reason, f.requests(), tt.want)
			}
			if res := try(); res.Reason != llm.ReasonBreakerOpen || f.requests() != 4 {
				t.Fatalf("after a failed trial: %s, %d requests", res.Reason, f.requests())
			}
			// Next trial succeeds: closed again.
			clock.Advance(time.Minute)
			f.setReply(faithful)
			for i := range 2 {
				if res := try(); !res.Reason.Used() {
					t.Fatalf("recovered call %d: %s", i+1, res.Reason)
				}
			}
			if n := counter(t, reg, "intakebot_llm_breaker_opened_total", "op", "rephrase"); n != 2 {
				t.Errorf("breaker opened %v times, want 2", n)
			}
			if n := counter(t, reg, "intakebot_llm_rephrase_total", "reason", string(llm.ReasonBreakerOpen)); n != 7 {
				t.Errorf("breaker_open counter = %v, want 7", n)
			}
		})
	}
}

func TestCache(t *testing.T) {
	f := newFake(t, faithful)
	cache := llm.NewMemCache()
	r, reg := newRephraser(t, f, f.config(), llm.WithCache(cache))
	first := r.Try(context.Background(), bot.RephraseRequest{Text: scripted})
	second := r.Try(context.Background(), bot.RephraseRequest{Text: scripted})
	if first.Reason != llm.ReasonOK || second.Reason != llm.ReasonCacheHit {
		t.Fatalf("reasons %s, %s; want ok, cache_hit", first.Reason, second.Reason)
	}
	if first.Text != second.Text || f.requests() != 1 {
		t.Errorf("texts %q / %q, %d requests; want the same text and 1 request", first.Text, second.Text, f.requests())
	}
	if n := counter(t, reg, "intakebot_llm_rephrase_total", "reason", "cache_hit"); n != 1 {
		t.Errorf("cache_hit counter = %v, want 1", n)
	}
	// A replica sharing the cache makes no request either.
	replica, _ := newRephraser(t, f, f.config(), llm.WithCache(cache))
	if res := replica.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonCacheHit || f.requests() != 1 {
		t.Errorf("replica: %s, %d requests; want cache_hit and 1", res.Reason, f.requests())
	}
	// Another style is another key.
	cfg := f.config()
	cfg.Style = llm.StylePlain
	plain, _ := newRephraser(t, f, cfg, llm.WithCache(cache))
	if res := plain.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK || f.requests() != 2 {
		t.Errorf("other style: %s, %d requests; want ok and 2", res.Reason, f.requests())
	}
}

func TestCacheKeepsOnlyValidated(t *testing.T) {
	f := newFake(t, with(func(string) string { return "I'm sorry, I can't help with that." }))
	cache := llm.NewMemCache()
	r, _ := newRephraser(t, f, f.config(), llm.WithCache(cache))
	for i := range 2 {
		if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonRefusal {
			t.Fatalf("call %d: %s, want refusal", i+1, res.Reason)
		}
	}
	if f.requests() != 2 || cache.Len() != 0 {
		t.Errorf("%d requests, %d cached; want 2 and nothing cached", f.requests(), cache.Len())
	}
}

// poisonedCache returns a stored value that would change a fact.
type poisonedCache struct{ llm.MemCache }

func (*poisonedCache) Get(context.Context, string) (string, bool, error) {
	return "Most people attend ⟦1⟧ a week for 2 weeks. Call ⟦3⟧ at ⟦4⟧.", true, nil
}

func TestCacheValueIsCheckedAgain(t *testing.T) {
	f := newFake(t, faithful)
	r, _ := newRephraser(t, f, f.config(), llm.WithCache(&poisonedCache{}))
	if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK || f.requests() != 1 {
		t.Errorf("got %s with %d requests; want a bad cached value ignored and the model called", res.Reason, f.requests())
	}
}

func TestFinishReasons(t *testing.T) {
	tests := []struct {
		finish openai.FinishReason
		want   llm.Reason
	}{
		{openai.FinishReasonLength, llm.ReasonTruncated},
		{openai.FinishReasonContentFilter, llm.ReasonFiltered},
	}
	for _, tt := range tests {
		t.Run(string(tt.finish), func(t *testing.T) {
			f := newFake(t, func(req openai.ChatCompletionRequest) fakeReply {
				return fakeReply{Content: maskedText(req), FinishReason: tt.finish}
			})
			r, _ := newRephraser(t, f, f.config())
			if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != tt.want || res.Text != scripted {
				t.Errorf("got %s %q, want %s and the scripted text", res.Reason, res.Text, tt.want)
			}
		})
	}
}

func TestMetricsShareRegistry(t *testing.T) {
	f := newFake(t, faithful)
	reg := prometheus.NewRegistry()
	if _, err := llm.NewRephraser(f.config(), program(), llm.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := llm.NewChooser(f.config(), llm.WithRegisterer(reg)); err != nil {
		t.Fatalf("a chooser on the same registry: %v", err)
	}
	if _, err := llm.NewRephraser(llm.Config{}, program()); err == nil {
		t.Error("NewRephraser with no model: no error")
	}
}

// doerFunc is an HTTP client made of a function.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestAzureEndpoint(t *testing.T) {
	var got *http.Request
	doer := doerFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		var req openai.ChatCompletionRequest
		json.NewDecoder(r.Body).Decode(&req)
		body, _ := json.Marshal(openai.ChatCompletionResponse{Choices: []openai.ChatCompletionChoice{{
			Message: openai.ChatCompletionMessage{Role: "assistant", Content: "Happy to help. " + maskedText(req)}, FinishReason: "stop"}}})
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	})
	cfg := llm.Config{APIKey: "azure-key", BaseURL: "https://contoso.openai.azure.com/", Model: "my-deployment", Style: llm.StyleWarm, Timeout: time.Second}
	r, err := llm.NewRephraser(cfg, program(), llm.WithHTTPClient(doer))
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK {
		t.Fatalf("reason %s", res.Reason)
	}
	if got == nil {
		t.Fatal("no request")
	}
	if got.URL.Path != "/openai/deployments/my-deployment/chat/completions" || got.URL.Query().Get("api-version") != llm.DefaultAzureAPIVersion {
		t.Errorf("URL = %s", got.URL)
	}
	if got.Header.Get("api-key") != "azure-key" || got.Header.Get("Authorization") != "" {
		t.Errorf("headers = %v, want the key in api-key only", got.Header)
	}
}

func TestReasoningModelRequest(t *testing.T) {
	tests := []struct {
		model           string
		wantTemperature bool
		wantMaxTokens   string
	}{
		{"gpt-4o-mini", true, "max_tokens"},
		{"qwen2.5-7b-instruct", true, "max_tokens"},
		{"o3-mini", false, "max_completion_tokens"},
		{"gpt-5-mini", false, "max_completion_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			f := newFake(t, faithful)
			cfg := f.config()
			cfg.Model = tt.model
			r, _ := newRephraser(t, f, cfg)
			if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK {
				t.Fatalf("reason %s", res.Reason)
			}
			var raw map[string]any
			json.Unmarshal([]byte(f.allBodies()[0]), &raw)
			if _, ok := raw["temperature"]; ok != tt.wantTemperature {
				t.Errorf("temperature sent: %t, want %t", ok, tt.wantTemperature)
			}
			if _, ok := raw[tt.wantMaxTokens]; !ok {
				t.Errorf("no %s in %v", tt.wantMaxTokens, raw)
			}
		})
	}
}

func TestNeverTexts(t *testing.T) {
	spec := program()
	spec.Consent.Text = "Before I ask anything personal: here is what we keep, for how long, and who sees it."
	spec.Messages.BotDisclosure = "I'm an automated assistant, not a person."
	f := newFake(t, faithful)
	r, err := llm.NewRephraser(f.config(), spec, llm.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{spec.Consent.Text, spec.Messages.BotDisclosure + "\n"} {
		if res := r.Try(context.Background(), bot.RephraseRequest{Text: text}); res.Reason != llm.ReasonNeverText || res.Text != text {
			t.Errorf("%q: %s, want %s and the text unchanged", text, res.Reason, llm.ReasonNeverText)
		}
	}
	if f.requests() != 0 {
		t.Errorf("%d requests, want none", f.requests())
	}
}
