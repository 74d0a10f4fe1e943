package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"
)

// Option configures a Rephraser or a Chooser.
type Option func(*options)

type options struct {
	reg        prometheus.Registerer
	cache      Cache
	now        func() time.Time
	httpClient openai.HTTPDoer
	log        *slog.Logger
	failures   int
	cooldown   time.Duration
}

// WithRegisterer registers the adapter's metrics on reg (serve passes the
// registry it exposes on /metrics). Without it they go to a private
// registry nobody reads.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithCache keeps validated rephrasings in c (the store's shared cache).
// Without it an in-process MemCache is used.
func WithCache(c Cache) Option { return func(o *options) { o.cache = c } }

// WithClock sets the clock of the circuit breaker (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithHTTPClient sets the HTTP client (tests, proxies). The adapter bounds
// every call with a context deadline, so a client without a timeout is fine.
func WithHTTPClient(c openai.HTTPDoer) Option { return func(o *options) { o.httpClient = c } }

// WithLogger sets the logger. Logs carry reasons and status codes, never a
// text, a question or a response body.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithBreaker sets after how many failed calls in a row the circuit breaker
// opens, and for how long (defaults 5 and 30s).
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(o *options) { o.failures, o.cooldown = failures, cooldown }
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, fn := range opts {
		fn(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if o.cache == nil {
		o.cache = NewMemCache()
	}
	return o
}

// endpoint is one OpenAI-compatible chat completions endpoint with a
// timeout and a circuit breaker.
type endpoint struct {
	op      string // "rephrase" or "choose", for metrics and logs
	client  *openai.Client
	model   string
	timeout time.Duration
	br      *breaker
	m       *metrics
	log     *slog.Logger
}

func newEndpoint(op string, cfg Config, o options, m *metrics) *endpoint {
	var cc openai.ClientConfig
	if isAzure(cfg.BaseURL) {
		cc = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		cc.APIVersion = cfg.APIVersion
		if cc.APIVersion == "" {
			cc.APIVersion = DefaultAzureAPIVersion
		}
		// The model is the deployment name, used as given.
		cc.AzureModelMapperFunc = func(model string) string { return model }
	} else {
		cc = openai.DefaultConfig(cfg.APIKey)
		if cfg.BaseURL != "" {
			cc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		}
	}
	if o.httpClient != nil {
		cc.HTTPClient = o.httpClient
	} else {
		// The deadline comes from the context; this client adds none.
		cc.HTTPClient = &http.Client{}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &endpoint{
		op: op, client: openai.NewClientWithConfig(cc), model: cfg.Model, timeout: timeout,
		br: newBreaker(o.failures, o.cooldown, o.now), m: m, log: o.log,
	}
}

// isAzure reports whether base is an Azure OpenAI resource endpoint in the
// classic deployments form (not its OpenAI-compatible /openai/v1 path).
func isAzure(base string) bool {
	u, err := url.Parse(base)
	if err != nil || base == "" {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return (strings.HasSuffix(h, ".openai.azure.com") || strings.HasSuffix(h, ".cognitiveservices.azure.com")) &&
		!strings.Contains(u.Path, "/openai/v1")
}

// errBreakerOpen is returned by call when the breaker refuses the call.
var errBreakerOpen = errors.New("llm: circuit breaker open")

// call sends req, through the breaker, to be answered before deadline,
// and returns the first choice. ctx is the caller's: its cancellation is not
// held against the endpoint. A reasoning model that rejects sampling
// settings gets them removed (see shape).
func (e *endpoint) call(ctx context.Context, deadline time.Time, req openai.ChatCompletionRequest) (openai.ChatCompletionChoice, error) {
	if !e.br.allow() {
		return openai.ChatCompletionChoice{}, errBreakerOpen
	}
	req = shape(req)
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	resp, err := e.client.CreateChatCompletion(cctx, req)
	e.m.duration.WithLabelValues(e.op).Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (the turn was canceled): not the
			// endpoint's fault, so it does not count against it.
			e.br.release()
			return openai.ChatCompletionChoice{}, fmt.Errorf("llm: %s: %w", e.op, err)
		}
		if e.br.failure() {
			e.m.trips.WithLabelValues(e.op).Inc()
			e.log.LogAttrs(ctx, slog.LevelWarn, "llm breaker opened", slog.String("op", e.op))
		}
		reason, status := classify(ctx, err)
		e.log.LogAttrs(ctx, slog.LevelWarn, "llm call failed", slog.String("op", e.op),
			slog.String("reason", string(reason)), slog.Int("status", status))
		return openai.ChatCompletionChoice{}, fmt.Errorf("llm: %s: %w", e.op, err)
	}
	e.br.success()
	if len(resp.Choices) == 0 {
		return openai.ChatCompletionChoice{}, nil
	}
	return resp.Choices[0], nil
}

// shape adapts a request to what the model accepts. go-openai drops a zero
// temperature (omitempty), so callers that mean "deterministic" set a tiny
// one; reasoning models (o1, o3, o4, gpt-5…) reject any temperature and
// max_tokens, so for them both move to what go-openai's own validator
// accepts.
func shape(req openai.ChatCompletionRequest) openai.ChatCompletionRequest {
	if openai.NewReasoningValidator().Validate(req) == nil {
		return req
	}
	req.Temperature = 0
	req.TopP = 0
	if req.MaxTokens > 0 {
		req.MaxCompletionTokens, req.MaxTokens = req.MaxTokens*4, 0 // room for reasoning tokens
	}
	return req
}

// classify names a failed call's reason and HTTP status (0 when none).
func classify(ctx context.Context, err error) (Reason, int) {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.Is(err, errBreakerOpen):
		return ReasonBreakerOpen, 0
	case ctx.Err() != nil:
		return ReasonCanceled, 0
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout, 0
	case errors.As(err, &apiErr):
		return ReasonAPIError, apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		return ReasonRequestError, reqErr.HTTPStatusCode
	}
	return ReasonTransport, 0
}

// tinyTemperature stands for zero: go-openai omits a zero temperature, and
// the server's default (often 1) would apply instead.
const tinyTemperature float32 = 1e-6
