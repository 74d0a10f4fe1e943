package llm

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Style is how the rephraser words a text.
type Style string

// Styles an admin can pick with INTAKEBOT_LLM_STYLE.
const (
	// StyleWarm is kind, reassuring and conversational (the default).
	StyleWarm Style = "warm"
	// StylePlain is plain language: short sentences, everyday words.
	StylePlain Style = "plain"
	// StyleShort keeps every fact in as few words as possible.
	StyleShort Style = "short"
)

// Defaults of the optional settings.
const (
	DefaultStyle   = StyleWarm
	DefaultTimeout = 2500 * time.Millisecond
	// MaxTimeout bounds INTAKEBOT_LLM_TIMEOUT: a person is waiting.
	MaxTimeout = 30 * time.Second
	// DefaultAzureAPIVersion is used for an Azure OpenAI endpoint when
	// OPENAI_API_VERSION is not set.
	DefaultAzureAPIVersion = "2024-10-21"
)

// Environment variable names read by FromEnv.
const (
	EnvAPIKey          = "OPENAI_API_KEY"
	EnvBaseURL         = "OPENAI_BASE_URL"
	EnvAPIVersion      = "OPENAI_API_VERSION"
	EnvModel           = "INTAKEBOT_LLM_MODEL"
	EnvStyle           = "INTAKEBOT_LLM_STYLE"
	EnvTimeout         = "INTAKEBOT_LLM_TIMEOUT"
	EnvIncludeQuestion = "INTAKEBOT_LLM_INCLUDE_QUESTION"
	EnvChooseFAQ       = "INTAKEBOT_LLM_CHOOSE_FAQ"
)

// Config is the LLM configuration. The zero value is "off".
type Config struct {
	// APIKey is sent as a bearer token (an api-key header for Azure). It may
	// be empty for a local server that needs none.
	APIKey string
	// BaseURL is the OpenAI-compatible endpoint ("" means api.openai.com):
	// OpenAI, an Azure OpenAI resource (https://NAME.openai.azure.com, where
	// Model is the deployment name), llama.cpp or vLLM (http://host:port/v1).
	BaseURL string
	// APIVersion is the api-version of an Azure OpenAI endpoint.
	APIVersion string
	// Model names the model (or Azure deployment). Setting it turns
	// rephrasing on.
	Model string
	// Style is how texts are reworded (default warm).
	Style Style
	// Timeout bounds each call; the scripted text goes out after it
	// (default 2.5s). It is the worst-case latency rephrasing adds to a reply.
	Timeout time.Duration
	// IncludeQuestion sends the participant's message beside the text, with
	// contact details, links and numbers redacted, so the wording can fit
	// the question. Off by default: it is a privacy trade-off (the message
	// leaves the service) and it turns the shared cache off.
	IncludeQuestion bool
	// ChooseFAQ lets the model pick among the FAQ matcher's candidates when
	// the matcher is unsure. It only chooses an id from the list; it never
	// writes an answer. To choose, it sends the participant's question, with
	// contact details, links and numbers redacted: the same privacy
	// trade-off as IncludeQuestion.
	ChooseFAQ bool
}

// Enabled reports whether rephrasing is on (a model is configured).
func (c Config) Enabled() bool { return c.Model != "" }

// String describes the configuration without the API key, for logs.
func (c Config) String() string {
	if !c.Enabled() {
		return "llm off"
	}
	base := c.BaseURL
	if base == "" {
		base = "api.openai.com"
	} else if u, err := url.Parse(base); err == nil {
		base = u.Host
	}
	return fmt.Sprintf("llm model=%s endpoint=%s style=%s timeout=%s include_question=%t choose_faq=%t",
		c.Model, base, c.Style, c.Timeout, c.IncludeQuestion, c.ChooseFAQ)
}

// FromEnv reads the configuration from the environment (see the Env*
// constants). A value that cannot be used is an error naming the variable,
// so the service refuses to start rather than silently ignoring it; every
// setting is checked even when no model is configured.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		APIKey:     strings.TrimSpace(getenv(EnvAPIKey)),
		BaseURL:    strings.TrimSpace(getenv(EnvBaseURL)),
		APIVersion: strings.TrimSpace(getenv(EnvAPIVersion)),
		Model:      strings.TrimSpace(getenv(EnvModel)),
		Style:      DefaultStyle,
		Timeout:    DefaultTimeout,
	}
	if v := strings.TrimSpace(getenv(EnvStyle)); v != "" {
		s, err := ParseStyle(v)
		if err != nil {
			return Config{}, fmt.Errorf("llm: %s: %w", EnvStyle, err)
		}
		c.Style = s
	}
	if v := strings.TrimSpace(getenv(EnvTimeout)); v != "" {
		d, err := parseTimeout(v)
		if err != nil {
			return Config{}, fmt.Errorf("llm: %s: %w", EnvTimeout, err)
		}
		c.Timeout = d
	}
	var err error
	if c.IncludeQuestion, err = parseBool(getenv(EnvIncludeQuestion)); err != nil {
		return Config{}, fmt.Errorf("llm: %s: %w", EnvIncludeQuestion, err)
	}
	if c.ChooseFAQ, err = parseBool(getenv(EnvChooseFAQ)); err != nil {
		return Config{}, fmt.Errorf("llm: %s: %w", EnvChooseFAQ, err)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("llm: %s: %q is not an http(s) URL", EnvBaseURL, c.BaseURL)
		}
	}
	if c.ChooseFAQ && c.Model == "" {
		return Config{}, fmt.Errorf("llm: %s is on but %s is not set", EnvChooseFAQ, EnvModel)
	}
	if c.Model != "" && c.BaseURL == "" && c.APIKey == "" {
		return Config{}, fmt.Errorf("llm: %s is set but %s is empty (needed for api.openai.com; set %s for a local server)",
			EnvModel, EnvAPIKey, EnvBaseURL)
	}
	return c, nil
}

// ParseStyle reads a style name.
func ParseStyle(s string) (Style, error) {
	switch st := Style(strings.ToLower(strings.TrimSpace(s))); st {
	case StyleWarm, StylePlain, StyleShort:
		return st, nil
	}
	return "", fmt.Errorf("%q is not a style (use warm, plain or short)", s)
}

// parseTimeout reads a Go duration ("2.5s", "800ms") or a number of seconds.
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 2.5s or 800ms)", s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("%s is out of range (above 0, at most %s)", d, MaxTimeout)
	}
	return d, nil
}

// parseBool reads an on/off setting; empty is off.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%q is not on or off (use true or false)", s)
}
