// Package llm rewords the scripted texts flows.yaml marks rephrasable with
// any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, llama.cpp, vLLM),
// through github.com/sashabaranov/go-openai, so that nothing the model does
// can change a fact, leak a participant's details or slow a reply past a
// bound:
//
//   - only the approved text and the style are sent (and, when the admin
//     turns it on, the participant's question with contact details and
//     numbers redacted); a text naming 988, 741741 or 911 is never sent;
//   - phone numbers, links, emails, numbers and durations, money, the
//     program's name, hours and sites, and every {placeholder} are replaced
//     by tokens (⟦1⟧) before sending and must each come back exactly once;
//   - the output is rejected, and the scripted text sent, when a token is
//     missing, repeated or invented, a new number, link, phone or amount
//     appears, the length leaves the style's bounds, the language changed,
//     or it reads as a refusal or a claim to be a person or a clinician;
//   - each call has a hard deadline (Config.Timeout), a circuit breaker
//     stops calling a failing endpoint for a while, and validated outputs
//     are cached by model, prompt version, style and text hash.
//
// Every verdict is counted by reason (intakebot_llm_rephrase_total). The
// optional Chooser picks among the FAQ matcher's candidates when it is
// unsure, by structured output validated against the list.
package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"intakebot/bot"
	"intakebot/flows"
)

// Rephraser rewords scripted texts with a model, behind guardrails; see the
// package documentation. It is safe for concurrent use.
type Rephraser struct {
	cfg   Config
	ep    *endpoint
	prot  *protector
	cache Cache
	lim   limits
	m     *metrics
	log   *slog.Logger
	// never holds the spec's texts that must never be sent (crisis,
	// consent, privacy, disclosures), a second line of defence behind the
	// engine, which never offers them.
	never map[string]bool
}

var _ bot.Rephraser = (*Rephraser)(nil)

// NewRephraser returns a Rephraser for cfg that protects the values of
// spec's program. It fails when no model is configured or the metrics
// cannot be registered.
func NewRephraser(cfg Config, spec *flows.Spec, opts ...Option) (*Rephraser, error) {
	if !cfg.Enabled() {
		return nil, errors.New("llm: no model configured (" + EnvModel + ")")
	}
	if cfg.Style == "" {
		cfg.Style = DefaultStyle
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	o := buildOptions(opts)
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	return &Rephraser{
		cfg: cfg, ep: newEndpoint("rephrase", cfg, o, m), prot: newProtector(spec),
		cache: o.cache, lim: limitsFor(cfg.Style), m: m, log: o.log, never: neverTexts(spec),
	}, nil
}

// neverTexts returns the texts of spec that must never reach a model: the
// crisis protocol, the consent and channel privacy notices, the bot
// disclosures and the deletion messages.
func neverTexts(spec *flows.Spec) map[string]bool {
	never := map[string]bool{}
	if spec == nil {
		return never
	}
	sf, c, msg := spec.Safety, spec.Consent, spec.Messages
	texts := []string{sf.Reply, sf.Paused, sf.Safe, sf.Staff, c.Text, c.Declined, c.Granted,
		msg.BotDisclosure, msg.LongDisclosure, msg.DeleteConfirm, msg.Deleted, msg.DeleteKept, msg.Human, msg.HumanMode}
	for _, r := range sf.Resources {
		texts = append(texts, r)
	}
	for _, ch := range spec.Channels {
		texts = append(texts, ch.Notice)
	}
	for _, t := range texts {
		if t = strings.TrimSpace(t); t != "" {
			never[t] = true
		}
	}
	return never
}

// Result is the outcome of one rephrasing, for eval-rephrase and tests.
type Result struct {
	// Text is what to send: the rephrased text when Reason.Used(),
	// otherwise the scripted text.
	Text string
	// Reason is the verdict.
	Reason Reason
	// Called reports whether a request was sent to the endpoint.
	Called bool
	// Output is the model's answer (tokens put back when it passed), for an
	// admin judging a model; empty when there was none.
	Output string
	// Latency is the time the rephrasing took.
	Latency time.Duration
}

// Rephrase returns the rephrased text when it passed every check, otherwise
// req.Text unchanged. It never takes longer than the configured timeout
// (plus scheduling), and never fails.
func (r *Rephraser) Rephrase(ctx context.Context, req bot.RephraseRequest) string {
	return r.Try(ctx, req).Text
}

// Try rephrases req.Text and reports the verdict; see Rephrase. The
// verdict is counted in intakebot_llm_rephrase_total.
func (r *Rephraser) Try(ctx context.Context, req bot.RephraseRequest) Result {
	start := time.Now()
	res := r.try(ctx, req, start.Add(r.cfg.Timeout))
	res.Latency = time.Since(start)
	if !res.Reason.Used() {
		res.Text = req.Text
	}
	r.m.rephrase.WithLabelValues(string(res.Reason)).Inc()
	return res
}

func (r *Rephraser) try(ctx context.Context, req bot.RephraseRequest, deadline time.Time) Result {
	text := req.Text
	switch {
	case strings.TrimSpace(text) == "":
		return Result{Reason: ReasonEmptyText}
	case hasCrisisNumber(text):
		// The engine never offers a crisis text; this is the second line
		// of defence. Such a text is never sent anywhere.
		return Result{Reason: ReasonCrisisText}
	case r.never[strings.TrimSpace(text)]:
		return Result{Reason: ReasonNeverText}
	}
	m := r.prot.mask(text)
	question := ""
	if r.cfg.IncludeQuestion && strings.TrimSpace(req.Question) != "" {
		question = redactQuestion(req.Question)
	}
	// With a question the wording depends on a participant's message: such
	// an output is neither looked up nor kept.
	useCache := question == ""
	key := cacheKey(r.cfg.Model, r.cfg.Style, text)
	if useCache {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		v, ok, err := r.cache.Get(cctx, key)
		cancel()
		switch {
		case err != nil:
			r.log.LogAttrs(ctx, slog.LevelWarn, "llm cache get failed", slog.String("error", err.Error()))
		case ok:
			// Checked again: the cache may be shared, and checks may have
			// changed since it was written.
			if reason, final := check(text, m, v, r.lim); reason == ReasonOK {
				return Result{Text: final, Reason: ReasonCacheHit, Output: final}
			}
		}
	}
	choice, err := r.ep.call(ctx, deadline, openai.ChatCompletionRequest{
		Model: r.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: systemPrompt(r.cfg.Style)},
			{Role: openai.ChatMessageRoleUser, Content: userPrompt(m.Text, question)},
		},
		Temperature: tinyTemperature,
		MaxTokens:   maxTokens(m.Text, r.lim),
	})
	if err != nil {
		reason, _ := classify(ctx, err)
		return Result{Reason: reason, Called: !errors.Is(err, errBreakerOpen)}
	}
	switch choice.FinishReason {
	case openai.FinishReasonLength:
		return Result{Reason: ReasonTruncated, Called: true, Output: choice.Message.Content}
	case openai.FinishReasonContentFilter:
		return Result{Reason: ReasonFiltered, Called: true, Output: choice.Message.Content}
	}
	out := choice.Message.Content
	reason, final := check(text, m, out, r.lim)
	if reason != ReasonOK {
		return Result{Reason: reason, Called: true, Output: out}
	}
	if useCache {
		// Only a validated output is kept, in its masked form (checked
		// again when read).
		pctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		if err := r.cache.Put(pctx, key, cleanOutput(out, text)); err != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "llm cache put failed", slog.String("error", err.Error()))
		}
		cancel()
	}
	return Result{Text: final, Reason: ReasonOK, Called: true, Output: final}
}

// maxTokens bounds the answer: about a token per 3 characters of the
// longest acceptable output, with room for short texts.
func maxTokens(maskedText string, lim limits) int {
	n := int(float64(utf8.RuneCountInString(maskedText))*lim.maxRatio+float64(lim.slack))/3 + 64
	return min(max(n, 128), 2048)
}

// String describes the rephraser for logs (no secret).
func (r *Rephraser) String() string {
	return fmt.Sprintf("rephraser (%s, prompt %s)", r.cfg, PromptVersion)
}
