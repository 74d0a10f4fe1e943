package llm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"

	"intakebot/bot"
)

// noneID is the id the chooser answers when no option fits.
const noneID = "none"

// Chooser picks, when the FAQ matcher is unsure, which of its candidates a
// question is about. It sends the question (contact details, links and
// numbers redacted) and the candidates' ids and titles, asks for a JSON
// object whose id is constrained to the list (structured output), and
// accepts only an id from the list. It never writes an answer: the engine
// sends the chosen entry's scripted answer. It is safe for concurrent use.
type Chooser struct {
	cfg Config
	ep  *endpoint
	m   *metrics
	log *slog.Logger
}

var _ bot.FAQChooser = (*Chooser)(nil)

// NewChooser returns a Chooser for cfg. It fails when no model is
// configured or the metrics cannot be registered; it does not look at
// cfg.ChooseFAQ (the caller decides whether to use one).
func NewChooser(cfg Config, opts ...Option) (*Chooser, error) {
	if !cfg.Enabled() {
		return nil, errors.New("llm: no model configured (" + EnvModel + ")")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	o := buildOptions(opts)
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	return &Chooser{cfg: cfg, ep: newEndpoint("choose", cfg, o, m), m: m, log: o.log}, nil
}

// ChooseFAQ returns the id of the option the question is about, with ok
// true; ok is false when there are no options, the model answers "none",
// an id not among options or something that is not the expected JSON, or
// the call fails, times out or is refused by the breaker.
func (c *Chooser) ChooseFAQ(ctx context.Context, question string, options []bot.FAQOption) (string, bool) {
	id, result := c.choose(ctx, question, options)
	c.m.choose.WithLabelValues(result).Inc()
	return id, result == ChooseChosen
}

func (c *Chooser) choose(ctx context.Context, question string, options []bot.FAQOption) (string, string) {
	if len(options) == 0 || strings.TrimSpace(question) == "" {
		return "", ChooseNone
	}
	ids := make([]string, 0, len(options)+1)
	type topic struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	topics := make([]topic, 0, len(options))
	for _, o := range options {
		ids = append(ids, o.ID)
		topics = append(topics, topic{o.ID, o.Title})
	}
	ids = append(ids, noneID)
	user, err := json.Marshal(struct {
		Question string  `json:"question"`
		Topics   []topic `json:"topics"`
	}{redactQuestion(question), topics})
	if err != nil {
		return "", ChooseError
	}
	schema := &jsonschema.Definition{
		Type: jsonschema.Object,
		Properties: map[string]jsonschema.Definition{
			"id": {Type: jsonschema.String, Enum: ids, Description: "the id of the topic, or none"},
		},
		Required:             []string{"id"},
		AdditionalProperties: false,
	}
	choice, err := c.ep.call(ctx, time.Now().Add(c.cfg.Timeout), openai.ChatCompletionRequest{
		Model: c.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: chooseSystemPrompt},
			{Role: openai.ChatMessageRoleUser, Content: string(user)},
		},
		Temperature: tinyTemperature,
		MaxTokens:   64,
		ResponseFormat: &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: "faq_choice", Schema: schema, Strict: true,
			},
		},
	})
	if err != nil {
		switch reason, _ := classify(ctx, err); reason {
		case ReasonBreakerOpen:
			return "", ChooseBreakerOpen
		case ReasonTimeout:
			return "", ChooseTimeout
		case ReasonCanceled:
			return "", ChooseCanceled
		}
		return "", ChooseError
	}
	id, ok := parseChoice(choice.Message.Content)
	switch {
	case !ok:
		return "", ChooseInvalid
	case id == noneID:
		return "", ChooseNone
	}
	for _, o := range options {
		if o.ID == id {
			return id, ChooseChosen
		}
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "llm chooser answered an id not in the list")
	return "", ChooseInvalid
}

// parseChoice reads {"id": "..."} from a model's answer, tolerating a code
// fence around it.
func parseChoice(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "```json")
	s = strings.TrimPrefix(s, "```")
	s = strings.TrimSpace(strings.TrimSuffix(s, "```"))
	var v struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.ID == nil {
		return "", false
	}
	return strings.TrimSpace(*v.ID), true
}
