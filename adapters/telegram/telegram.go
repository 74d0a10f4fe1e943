// Package telegram is the participant channel on Telegram, built on
// github.com/go-telegram/bot. It receives updates by long polling or by a
// webhook, runs each chat's updates strictly in order (different chats in
// parallel, on a bounded number of workers), turns them into engine turns,
// and sends the replies with native inline buttons, paced to Telegram's
// limits and retried through rate limits and outages. It also delivers
// staff messages from the outbox (Notify).
//
// What the library does not do for us, and this package does: per-chat
// ordering (the library runs every handler in its own goroutine), the 401
// on a wrong webhook secret (the library answers 200), retries on 429 and
// 5xx (the library never retries), and keeping the bot token out of logs
// and errors.
package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"intakebot/bot"
	"intakebot/flows"
)

// Channel is the channel name of Telegram conversations.
const Channel = "telegram"

// Handler runs turns and records unreachable chats; *bot.Engine is one.
type Handler interface {
	// Handle runs one turn (see bot.Engine.Handle): it returns
	// bot.ErrDuplicate for an update id handled before, and on other errors
	// still an Output with what the person must hear.
	Handle(ctx context.Context, in bot.Inbound) (bot.Output, error)
	// MarkUnreachable records that the chat refuses messages and reports
	// it to staff once; bot.ErrNotFound when there is no conversation.
	MarkUnreachable(ctx context.Context, key bot.Key, reason string) error
}

// Config is what a deployment sets (see ConfigFromEnv for the variables).
type Config struct {
	// Token is the bot token from @BotFather. Required.
	Token string
	// APIURL is the Bot API server; empty means https://api.telegram.org.
	// Set it for a self-hosted Bot API server, or a fake one in tests.
	APIURL string
	// WebhookURL, when set, switches from long polling to a webhook:
	// Run registers it with Telegram, and WebhookHandler receives updates.
	WebhookURL string
	// WebhookSecret is the secret Telegram sends with every webhook request
	// (1-256 characters of A-Z, a-z, 0-9, _ and -). Required with
	// WebhookURL.
	WebhookSecret string
	// WebhookWait, when positive, holds each webhook answer until the
	// update's turn is committed (at most this long), rather than answering
	// as soon as it is queued. Telegram sends a chat's next update only
	// after the answer, so with several replicas behind one webhook a
	// chat's turns still run in order. Default 0: answer at once (one
	// replica).
	WebhookWait time.Duration
	// Workers is how many turns run at once (different chats); default 16.
	Workers int
	// QueueSize bounds the updates waiting for a worker; default 1024.
	QueueSize int
	// DrainTimeout bounds how long Run, once stopped, waits for turns in
	// flight and queued to finish and their replies to be sent; default
	// 10s.
	DrainTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultWorkers      = 16
	DefaultQueueSize    = 1024
	DefaultDrainTimeout = 10 * time.Second
)

var (
	tokenRE  = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// Validate reports the first problem with c, naming the environment
// variable an operator would fix. Secrets are never quoted.
func (c Config) Validate() error {
	if !tokenRE.MatchString(c.Token) {
		return errors.New("TELEGRAM_BOT_TOKEN: not a bot token (expected digits, a colon, then letters, digits, _ or -)")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("TELEGRAM_API_URL: not an http(s) URL")
		}
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return errors.New("TELEGRAM_WEBHOOK_URL: not an absolute URL")
		}
		if u.Scheme != "https" && c.APIURL == "" {
			return errors.New("TELEGRAM_WEBHOOK_URL: Telegram accepts only https webhooks")
		}
		if !secretRE.MatchString(c.WebhookSecret) {
			return errors.New("TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL: 1-256 characters of A-Z, a-z, 0-9, _ and -")
		}
	}
	if c.WebhookWait < 0 || c.WebhookWait > 55*time.Second {
		return errors.New("TELEGRAM_WEBHOOK_WAIT: want a duration from 0 to 55s")
	}
	if c.Workers < 0 || c.QueueSize < 0 || c.DrainTimeout < 0 {
		return errors.New("telegram: Workers, QueueSize and DrainTimeout must not be negative")
	}
	return nil
}

// ConfigFromEnv reads the Telegram configuration: TELEGRAM_BOT_TOKEN,
// TELEGRAM_API_URL, TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET,
// TELEGRAM_WEBHOOK_WAIT (a Go duration) and TELEGRAM_WORKERS. enabled is false when no token is set (the adapter is
// not wanted); err names the variable with a bad value.
func ConfigFromEnv(getenv func(string) string) (cfg Config, enabled bool, err error) {
	cfg = Config{
		Token:         strings.TrimSpace(getenv("TELEGRAM_BOT_TOKEN")),
		APIURL:        strings.TrimRight(strings.TrimSpace(getenv("TELEGRAM_API_URL")), "/"),
		WebhookURL:    strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_URL")),
		WebhookSecret: strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_SECRET")),
	}
	if cfg.Token == "" {
		if cfg.WebhookURL != "" || cfg.WebhookSecret != "" {
			return cfg, false, errors.New("TELEGRAM_WEBHOOK_URL is set but TELEGRAM_BOT_TOKEN is not")
		}
		return cfg, false, nil
	}
	if v := strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_WAIT")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, true, errors.New("TELEGRAM_WEBHOOK_WAIT: want a duration such as 10s")
		}
		cfg.WebhookWait = d
	}
	if v := strings.TrimSpace(getenv("TELEGRAM_WORKERS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return cfg, true, errors.New("TELEGRAM_WORKERS: want a number from 1 to 1024")
		}
		cfg.Workers = n
	}
	if err := cfg.Validate(); err != nil {
		return cfg, true, err
	}
	return cfg, true, nil
}

// HTTPClient sends the Bot API's HTTP requests; *http.Client is one.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Option configures an Adapter.
type Option func(*Adapter)

// WithLogger sets the logger (default slog.Default()). Logs carry update
// ids, a keyed hash of the chat id and event names, never message text or
// the token.
func WithLogger(l *slog.Logger) Option { return func(a *Adapter) { a.log = l } }

// WithHTTPClient sets the HTTP client for the Bot API (a test seam). Its
// timeout must exceed the poll timeout.
func WithHTTPClient(c HTTPClient) Option { return func(a *Adapter) { a.client = c } }

// WithPollTimeout sets how long one getUpdates long poll waits (default
// 50s).
func WithPollTimeout(d time.Duration) Option { return func(a *Adapter) { a.pollTimeout = d } }

// WithLimiter sets the pacing of messages (default: NewRateLimiter with
// Telegram's limits). Tests pass NoLimit{}.
func WithLimiter(l Limiter) Option { return func(a *Adapter) { a.limiter = l } }

// WithRetryWait sets how the adapter waits before a retry (a 429's
// retry_after, or a back-off after a 5xx or a network error). The default
// sleeps for d unless ctx ends; tests record d and return at once.
func WithRetryWait(wait func(ctx context.Context, d time.Duration) error) Option {
	return func(a *Adapter) { a.wait = wait }
}

// WithRetries sets how many times a request is retried after a 5xx or a
// network error (default 5), and after a 429 (default 10).
func WithRetries(transient, tooMany int) Option {
	return func(a *Adapter) { a.turnPolicy = policy{transient: transient, tooMany: tooMany} }
}

// WithTypingDelay sets when the typing action is shown while a reply is
// prepared: after d (default 300ms, so fast replies cost no extra
// request), at once for 0, never for a negative d.
func WithTypingDelay(d time.Duration) Option { return func(a *Adapter) { a.typingDelay = d } }

// WithParseMode sends messages with a parse mode ("HTML", "MarkdownV2" or
// "Markdown"), escaping the engine's plain text for it; a message Telegram
// still rejects for its formatting is resent as plain text. The default is
// plain text.
func WithParseMode(mode string) Option {
	return func(a *Adapter) { a.parseMode = models.ParseMode(mode) }
}

// WithGroupNotice sets the one message a group chat gets: the bot works
// only in private chats.
func WithGroupNotice(text string) Option { return func(a *Adapter) { a.groupNotice = text } }

// WithChoiceIDs adds button ids to decode after a restart (see ChoiceIDs).
// When the Handler has a Spec method (*bot.Engine has), its ids are added
// automatically.
func WithChoiceIDs(ids ...string) Option { return func(a *Adapter) { a.codec.learn(ids...) } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(a *Adapter) { a.now = now } }

// WithTurnTimeout bounds one engine turn (default 30s).
func WithTurnTimeout(d time.Duration) Option { return func(a *Adapter) { a.turnTimeout = d } }

// DefaultGroupNotice is the message a group chat gets once.
const DefaultGroupNotice = "Hi! I only work in private chats, to keep what people share private. Please message me directly."

// Adapter is a running Telegram channel: a receiver (Run or
// WebhookHandler), per-chat queues and workers, and a sender.
type Adapter struct {
	cfg         Config
	h           Handler
	tg          *tgbot.Bot
	log         *slog.Logger
	client      HTTPClient
	pollTimeout time.Duration
	limiter     Limiter
	wait        func(ctx context.Context, d time.Duration) error
	turnPolicy  policy
	typingDelay time.Duration
	turnTimeout time.Duration
	parseMode   models.ParseMode
	groupNotice string
	now         func() time.Time
	codec       *codec
	chatKey     []byte
	// afterUpdate, if set, is told each update id once it was handled or
	// ignored (a test hook).
	afterUpdate func(updateID int64)
	q           *queue

	// workCtx is canceled only when a shutdown gives up waiting: turns in
	// flight finish even after Run's context ended.
	workCtx    context.Context
	workCancel context.CancelFunc

	mu          sync.Mutex
	running     bool
	ready       bool
	stopped     bool
	stopping    chan struct{}
	pollCancel  context.CancelFunc
	pollDone    chan struct{}
	recv        sync.WaitGroup
	recvDone    chan struct{}
	stopOnce    sync.Once
	unreachable map[int64]bool
	told        map[int64]bool
	notified    map[string]int
	delivered   map[string]struct{}
	// repairNext asks for the next getUpdates batch to be repaired.
	repairNext atomic.Bool
	// waiters are webhook requests waiting for their update's turn.
	waiters map[int64][]chan struct{}
}

// New connects to the Bot API (getMe checks the token) and starts the
// workers; call Run to receive by polling or to register the webhook, and
// stop every Adapter with Shutdown or by ending Run's context. When h has
// a Spec method (*bot.Engine has; a wrapper may not), the flows' button
// ids are learned from it; otherwise pass WithChoiceIDs(ChoiceIDs(spec)...).
// Errors never contain the token.
func New(cfg Config, h Handler, opts ...Option) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	if h == nil {
		return nil, errors.New("telegram: no handler")
	}
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	a := &Adapter{
		cfg:         cfg,
		h:           h,
		log:         slog.Default(),
		pollTimeout: 50 * time.Second,
		limiter:     NewRateLimiter(DefaultPerChat, DefaultPerChatBurst, DefaultGlobal, DefaultGlobalBurst),
		wait:        sleep,
		turnPolicy:  policy{transient: 5, tooMany: 10},
		typingDelay: 300 * time.Millisecond,
		turnTimeout: 30 * time.Second,
		groupNotice: DefaultGroupNotice,
		now:         time.Now,
		codec:       newCodec(),
		stopping:    make(chan struct{}),
		recvDone:    make(chan struct{}),
		unreachable: map[int64]bool{},
		told:        map[int64]bool{},
		notified:    map[string]int{},
		delivered:   map[string]struct{}{},
		waiters:     map[int64][]chan struct{}{},
	}
	if s, ok := h.(interface{ Spec() *flows.Spec }); ok {
		a.codec.learn(ChoiceIDs(s.Spec())...)
	}
	for _, o := range opts {
		o(a)
	}
	switch a.parseMode {
	case "", models.ParseModeHTML, models.ParseModeMarkdown, models.ParseModeMarkdownV1:
	default:
		return nil, fmt.Errorf("telegram: unknown parse mode %q", a.parseMode)
	}
	a.chatKey = chatKey(cfg.Token)
	if a.client == nil {
		a.client = &http.Client{Timeout: a.pollTimeout + 15*time.Second}
	}
	tgOpts := []tgbot.Option{
		tgbot.WithHTTPClient(a.pollTimeout, tolerantClient{next: a.client, armed: &a.repairNext, onFix: a.repaired}),
		tgbot.WithDefaultHandler(a.receive),
		// One library worker calling receive in its own goroutine, and no
		// buffer: an update leaves the library only into our queue.
		tgbot.WithNotAsyncHandlers(),
		tgbot.WithWorkers(1),
		tgbot.WithUpdatesChannelCap(0),
		tgbot.WithAllowedUpdates(allowedUpdates),
		tgbot.WithErrorsHandler(a.libraryError),
		tgbot.WithDebugHandler(func(string, ...any) {}),
		tgbot.WithCheckInitTimeout(15 * time.Second),
	}
	if cfg.APIURL != "" {
		tgOpts = append(tgOpts, tgbot.WithServerURL(cfg.APIURL))
	}
	tg, err := tgbot.New(cfg.Token, tgOpts...)
	if err != nil {
		return nil, fmt.Errorf("telegram: connect: %w", a.redact(err))
	}
	a.tg = tg
	a.workCtx, a.workCancel = context.WithCancel(context.Background())
	a.q = newQueue(cfg.Workers, cfg.QueueSize, a.process)
	return a, nil
}

// allowedUpdates are the update types the adapter asks Telegram for;
// anything else that arrives is ignored by rule.
var allowedUpdates = []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember}

// Run receives updates until ctx ends or Shutdown is called, then stops
// receiving, finishes the turns in flight and queued, sends their replies
// (for at most Config.DrainTimeout) and returns. In polling mode it first
// removes any webhook (getUpdates fails while one is set); in webhook mode
// it registers Config.WebhookURL with the secret, and the updates arrive
// through WebhookHandler. It returns nil after a clean stop, an error when
// the webhook cannot be registered or draining timed out.
func (a *Adapter) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running || a.stopped {
		a.mu.Unlock()
		return errors.New("telegram: Run called twice or after Shutdown")
	}
	a.running = true
	webhook := a.cfg.WebhookURL != ""
	var pollCtx context.Context
	if !webhook {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithCancel(ctx)
		a.pollCancel = cancel
		a.pollDone = make(chan struct{})
	}
	a.mu.Unlock()

	if webhook {
		err := a.call(ctx, "setWebhook", 0, a.turnPolicy, func(ctx context.Context) error {
			_, err := a.tg.SetWebhook(ctx, &tgbot.SetWebhookParams{
				URL: a.cfg.WebhookURL, SecretToken: a.cfg.WebhookSecret, AllowedUpdates: allowedUpdates,
			})
			return err
		})
		switch {
		case err != nil && ctx.Err() == nil:
			a.shutdownNow()
			return err
		case err == nil:
			a.setReady(true)
			a.log.LogAttrs(ctx, slog.LevelInfo, "telegram.webhook_set")
		}
		select {
		case <-ctx.Done():
		case <-a.stopping:
		}
	} else {
		err := a.call(pollCtx, "deleteWebhook", 0, a.turnPolicy, func(ctx context.Context) error {
			_, err := a.tg.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{})
			return err
		})
		if err != nil && pollCtx.Err() == nil {
			close(a.pollDone)
			a.shutdownNow()
			return err
		}
		a.setReady(true)
		a.log.LogAttrs(ctx, slog.LevelInfo, "telegram.polling")
		a.tg.Start(pollCtx)
		close(a.pollDone)
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.DrainTimeout)
	defer cancel()
	return a.Shutdown(sctx)
}

func (a *Adapter) setReady(v bool) {
	a.mu.Lock()
	a.ready = v && !a.stopped
	a.mu.Unlock()
}

// Ready returns nil while the adapter receives updates: polling has
// started, or the webhook is registered; otherwise an error saying why
// not (for /readyz).
func (a *Adapter) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.stopped:
		return errors.New("telegram: stopped")
	case !a.ready && a.cfg.WebhookURL != "":
		return errors.New("telegram: webhook not registered yet")
	case !a.ready:
		return errors.New("telegram: not polling yet")
	}
	return nil
}

// WebhookPath is the path of WebhookURL, where WebhookHandler should be
// mounted ("/" when the URL has none); "" without a webhook.
func (c Config) WebhookPath() string {
	if c.WebhookURL == "" {
		return ""
	}
	u, err := url.Parse(c.WebhookURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// shutdownNow stops everything without waiting (Run failed to start).
func (a *Adapter) shutdownNow() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.Shutdown(ctx)
}

// Shutdown stops receiving (polling ends; the webhook answers 503 so
// Telegram redelivers later), waits for the turns in flight and queued to
// finish and their replies to be sent, and returns nil. If ctx ends first,
// the remaining work is abandoned (its updates were already confirmed to
// Telegram; they are logged by id) and ctx's error is returned. It may be
// called more than once and concurrently with Run.
func (a *Adapter) Shutdown(ctx context.Context) error {
	a.stopOnce.Do(func() {
		a.mu.Lock()
		a.stopped, a.ready = true, false
		close(a.stopping)
		cancel, done := a.pollCancel, a.pollDone
		a.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		go func() {
			if done != nil {
				<-done
			}
			a.recv.Wait()
			a.q.close()
			close(a.recvDone)
		}()
	})
	select {
	case <-a.recvDone:
	case <-ctx.Done():
		a.workCancel()
		return fmt.Errorf("telegram: shutdown: %w", ctx.Err())
	}
	if err := a.q.wait(ctx); err != nil {
		a.workCancel()
		return fmt.Errorf("telegram: shutdown: %w", err)
	}
	return nil
}

// maxWebhookBody bounds a webhook request; updates are a few kilobytes.
const maxWebhookBody = 1 << 20

// WebhookHandler receives Telegram's webhook requests; mount it at
// Config.WebhookPath. It answers 401 unless the
// X-Telegram-Bot-Api-Secret-Token header equals Config.WebhookSecret
// (compared in constant time; with no secret configured every request is
// refused), 405 for a method other than POST, 400 for a body that is not
// an update, 503 while shutting down or when the queue stays full
// (Telegram retries), and otherwise queues the update for its chat and
// answers 200: at once, or once the turn is committed with
// Config.WebhookWait.
func (a *Adapter) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if a.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.WebhookSecret)) != 1 {
			a.log.LogAttrs(r.Context(), slog.LevelWarn, "telegram.webhook_unauthorized")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		var u models.Update
		repaired := false
		if err == nil {
			repaired, err = decodeUpdate(body, &u)
		}
		if err != nil {
			a.log.LogAttrs(r.Context(), slog.LevelWarn, "telegram.webhook_bad_body")
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		if repaired {
			a.repaired(u.ID)
		}
		a.mu.Lock()
		if a.stopped {
			a.mu.Unlock()
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		a.recv.Add(1)
		var committed chan struct{}
		if a.cfg.WebhookWait > 0 {
			committed = make(chan struct{})
			a.waiters[u.ID] = append(a.waiters[u.ID], committed)
		}
		a.mu.Unlock()
		defer a.recv.Done()
		queued, err := a.accept(r.Context(), &u)
		if err != nil {
			a.committed(u.ID)
			a.log.LogAttrs(r.Context(), slog.LevelWarn, "telegram.webhook_busy", slog.Int64("update_id", u.ID), slog.String("error", err.Error()))
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if committed != nil && queued {
			t := time.NewTimer(a.cfg.WebhookWait)
			select {
			case <-committed:
			case <-t.C:
				a.log.LogAttrs(r.Context(), slog.LevelWarn, "telegram.webhook_wait_expired", slog.Int64("update_id", u.ID))
			case <-r.Context().Done():
			}
			t.Stop()
		}
		a.committed(u.ID)
		w.WriteHeader(http.StatusOK)
	})
}

// repaired logs an update that had to be repaired to be read (see
// tolerantClient).
func (a *Adapter) repaired(id int64) {
	a.log.LogAttrs(context.Background(), slog.LevelWarn, "telegram.update_repaired", slog.Int64("update_id", id))
}

// committed releases the webhook requests waiting for update id: its turn
// was committed, skipped, or will not run.
func (a *Adapter) committed(id int64) {
	a.mu.Lock()
	ws := a.waiters[id]
	delete(a.waiters, id)
	a.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

// receive is the library's handler in polling mode: it queues the update.
// It runs in the library's single worker, so updates reach the queue in
// the order Telegram sent them; a full queue makes the poller wait.
func (a *Adapter) receive(_ context.Context, _ *tgbot.Bot, u *models.Update) {
	if _, err := a.accept(a.workCtx, u); err != nil {
		a.log.LogAttrs(context.Background(), slog.LevelError, "telegram.update_dropped",
			slog.Int64("update_id", u.ID), slog.String("error", err.Error()))
	}
}

// accept routes an update to its chat's queue (queued is true), or
// ignores it by rule.
func (a *Adapter) accept(ctx context.Context, u *models.Update) (queued bool, err error) {
	chat, kind, ok := route(u)
	if !ok {
		a.log.LogAttrs(ctx, slog.LevelDebug, "telegram.ignored", slog.Int64("update_id", u.ID), slog.String("kind", kind))
		if a.afterUpdate != nil {
			a.afterUpdate(u.ID)
		}
		return false, nil
	}
	if err := a.q.enqueue(ctx, job{chat: chat, update: u}); err != nil {
		return false, err
	}
	return true, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
