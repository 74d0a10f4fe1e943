// Package slack is the staff side of intakebot in Slack, built on
// github.com/slack-go/slack. It posts one case message per handoff in the
// triage channel (Block Kit, through the outbox), lets staff claim, mark
// contacted, close and reopen cases with buttons, pages for urgent cases
// until someone acknowledges them, relays a case thread to and from the
// participant while staff have the conversation, and redacts a case when
// the participant deletes their data.
//
// Slack reaches the service over Socket Mode (the default: an app token,
// no public URL) or over HTTP (a signing secret; EventsHandler and
// InteractivityHandler verify every request's signature and age).
//
// What the library does not do for us, and this package does: exactly-once
// handling of Slack's redeliveries (event ids are claimed in the store),
// never posting a case twice (a retried delivery updates the message it
// finds), ordering across a Slack outage (a failed call holds the next
// ones), and keeping tokens, names and message text out of logs.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"intakebot/bot"
	"intakebot/flows"
	"intakebot/internal/keylock"
	"intakebot/store"
)

// Store is what the adapter needs of the store; *store.Store is one.
type Store interface {
	Handoff(ctx context.Context, id string) (*store.HandoffRecord, error)
	Handoffs(ctx context.Context, conversationID string) ([]store.HandoffRecord, error)
	FindHandoffByMessage(ctx context.Context, channel, ts string) (*store.HandoffRecord, error)
	SetHandoffMessage(ctx context.Context, id, channel, ts string) error
	UpdateHandoff(ctx context.Context, id string, u store.HandoffUpdate) (*store.HandoffRecord, error)
	ReopenHandoff(ctx context.Context, id, actor string) (*store.HandoffRecord, error)
	OpenHandoff(ctx context.Context, h bot.Handoff) error
	Intake(ctx context.Context, id, actor string) (*bot.Intake, error)
	Audit(ctx context.Context, actor, action, subject string) error
	HandoffAlert(ctx context.Context, id string) (store.Alert, error)
	ArmAlert(ctx context.Context, id string, due time.Time) error
	NoteCrisis(ctx context.Context, id string, count int, category string) error
	AckHandoff(ctx context.Context, id, actor string) (bool, error)
	DueAlerts(ctx context.Context, now time.Time, limit int) ([]store.HandoffRecord, error)
	TakeRealert(ctx context.Context, id string, due, next time.Time) (bool, error)
	ConversationMode(ctx context.Context, id string) (string, error)
	ClaimKey(ctx context.Context, key string) (bool, error)
	ReleaseKey(ctx context.Context, key string) error
	HasKey(ctx context.Context, key string) (bool, error)
}

var _ Store = (*store.Store)(nil)

// Staff is the engine's side of what staff do; *bot.Staff is one.
type Staff interface {
	// Message sends a staff member's message to the participant (the first
	// one puts the conversation in human mode); bot.ErrNotFound when the
	// conversation no longer exists.
	Message(ctx context.Context, conversationID, staff, text string) error
	// ReturnToBot ends human mode; a no-op when the bot has the
	// conversation.
	ReturnToBot(ctx context.Context, conversationID, staff string) error
}

var _ Staff = (*bot.Staff)(nil)

// intakeReader is the audit actor of the adapter's reads of intakes.
const intakeReader = "system:slack"

// Adapter is the staff side in Slack. Register it with a bot.Dispatcher for
// handoff, relay, deleted and unreachable events, mount its handlers in
// HTTP mode, and Run it.
type Adapter struct {
	cfg     Config
	api     *slackgo.Client
	st      Store
	staff   Staff
	spec    *flows.Spec
	fields  map[string]*flows.Step
	mention string

	log          *slog.Logger
	now          func() time.Time
	newTicker    func(time.Duration) (<-chan time.Time, func())
	wake         func()
	pingInterval time.Duration
	alertPoll    time.Duration
	membersTTL   time.Duration

	// botUserID and botID identify the app's own messages (auth.test).
	idMu      sync.RWMutex
	botUserID string
	botID     string

	// cases serializes the work on one case in this process (a click, a
	// delivery, a re-alert), so a message is never redrawn from a state
	// older than the one another redraw already showed.
	cases keylock.Locks

	memMu     sync.Mutex
	members   map[string]bool
	membersAt time.Time

	readyMu  sync.Mutex
	readyErr error

	holdMu   sync.Mutex
	holdTill time.Time
	holdErr  error

	queue chan job
	// afterJob, if set, runs after each job from Slack was handled
	// (tests wait on it).
	afterJob func()
	runMu    sync.Mutex
	running  bool
	closed   bool
}

// Option configures an Adapter.
type Option func(*Adapter)

// WithLogger sets the logger (default slog.Default()). Logs carry handoff,
// event and Slack ids and event names; never message text, names, contact
// details, tokens or the signing secret.
func WithLogger(l *slog.Logger) Option { return func(a *Adapter) { a.log = l } }

// WithClock sets the clock (tests): the re-alert deadlines, the members
// cache and the outage hold use it.
func WithClock(now func() time.Time) Option { return func(a *Adapter) { a.now = now } }

// WithTicker sets how the re-alert loop's ticker is made (tests hand in a
// channel they control). newTicker returns the tick channel and a stop
// function.
func WithTicker(newTicker func(time.Duration) (<-chan time.Time, func())) Option {
	return func(a *Adapter) { a.newTicker = newTicker }
}

// WithAlertPoll sets how often the re-alert loop looks for due alerts
// (default 30s).
func WithAlertPoll(d time.Duration) Option { return func(a *Adapter) { a.alertPoll = d } }

// WithWake sets what to call after a staff action queued a message for the
// participant: the dispatcher's Wake, so it goes out now rather than at the
// next poll.
func WithWake(wake func()) Option { return func(a *Adapter) { a.wake = wake } }

// WithPingInterval sets how long Socket Mode waits for Slack's ping before
// it reconnects (default 30s, slack-go's).
func WithPingInterval(d time.Duration) Option { return func(a *Adapter) { a.pingInterval = d } }

// WithMembersTTL sets how long the triage channel's member list is cached
// (default 5 minutes). A user not in the cached list triggers a refresh at
// most every 30 seconds, so a new member can act at once.
func WithMembersTTL(d time.Duration) Option { return func(a *Adapter) { a.membersTTL = d } }

// New returns the adapter for cfg. st is the store, staff the engine's
// staff actions, spec the flows (for field kinds and labels).
func New(cfg Config, st Store, staff Staff, spec *flows.Spec, opts ...Option) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	if st == nil || staff == nil || spec == nil {
		return nil, errors.New("slack: a store, staff actions and flows are required")
	}
	if cfg.Detail == "" {
		cfg.Detail = DetailMinimum
	}
	mention, _ := mentionOf(cfg.AlertMention)
	a := &Adapter{
		cfg: cfg, st: st, staff: staff, spec: spec, mention: mention,
		log: slog.Default(),
		now: time.Now,
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
		wake:       func() {},
		alertPoll:  defaultAlertPoll,
		membersTTL: DefaultMembersTTL,
		queue:      make(chan job, defaultQueueSize),
		readyErr:   errors.New("not started"),
	}
	for _, o := range opts {
		o(a)
	}
	a.fields = fieldSteps(spec)
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = defaultAPIURL
	}
	copts := []slackgo.Option{slackgo.OptionAPIURL(apiURL)}
	if !cfg.HTTPMode() {
		copts = append(copts, slackgo.OptionAppLevelToken(cfg.AppToken))
	}
	a.api = slackgo.New(cfg.BotToken, copts...)
	return a, nil
}

// fieldSteps maps each answer field to the step that asks it, the intake
// flow first.
func fieldSteps(spec *flows.Spec) map[string]*flows.Step {
	out := map[string]*flows.Step{}
	add := func(f *flows.Flow) {
		for i := range f.Steps {
			st := &f.Steps[i]
			if st.Field != "" {
				if _, ok := out[st.Field]; !ok {
					out[st.Field] = st
				}
			}
		}
	}
	if f := spec.Flow(flows.IntakeFlow); f != nil {
		add(f)
	}
	for i := range spec.Flows {
		add(&spec.Flows[i])
	}
	return out
}

// Ready returns nil while Slack can reach the service: in Socket Mode while
// the websocket is connected, in HTTP mode once the bot token was checked.
// Otherwise it says why not (for /readyz).
func (a *Adapter) Ready() error {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	return a.readyErr
}

func (a *Adapter) setReady(err error) {
	a.readyMu.Lock()
	a.readyErr = err
	a.readyMu.Unlock()
}

// Run checks the bot token (auth.test), then serves until ctx is done:
// the Socket Mode connection (unless in HTTP mode), the worker that handles
// Slack's events and button clicks in order, and the re-alert loop. It
// returns an error when the tokens are refused; Slack being unreachable is
// retried. When ctx is done it stops taking new work, finishes what was
// queued (bounded), and returns nil.
func (a *Adapter) Run(ctx context.Context) error {
	a.runMu.Lock()
	if a.running {
		a.runMu.Unlock()
		return errors.New("slack: Run called twice")
	}
	a.running = true
	a.runMu.Unlock()
	defer func() {
		a.runMu.Lock()
		a.closed = true
		a.runMu.Unlock()
	}()

	if err := a.authenticate(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		a.setReady(err)
		return err
	}
	var wg sync.WaitGroup
	workerDone := make(chan struct{})
	wg.Go(func() {
		defer close(workerDone)
		a.work(ctx)
	})
	if a.cfg.Realert > 0 {
		wg.Go(func() { a.realertLoop(ctx) })
	}
	var err error
	if a.cfg.HTTPMode() {
		a.setReady(nil)
		<-ctx.Done()
	} else {
		err = a.runSocket(ctx)
	}
	a.setReady(errors.New("stopped"))
	wg.Wait()
	return err
}

// authenticate learns the app's own ids with auth.test, retrying while
// Slack is unreachable; refused tokens are an error at once.
func (a *Adapter) authenticate(ctx context.Context) error {
	wait := time.Second
	for {
		res, err := a.api.AuthTestContext(ctx)
		if err == nil {
			a.idMu.Lock()
			a.botUserID, a.botID = res.UserID, res.BotID
			a.idMu.Unlock()
			a.log.LogAttrs(ctx, slog.LevelInfo, "slack.authenticated", slog.String("team_id", res.TeamID),
				slog.String("bot_user_id", res.UserID), slog.Bool("http_mode", a.cfg.HTTPMode()))
			return nil
		}
		if isAuthError(err) {
			return fmt.Errorf("slack: SLACK_BOT_TOKEN refused: %s", errCode(err))
		}
		a.setReady(fmt.Errorf("cannot reach Slack: %s", errCode(err)))
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.auth_retry", slog.String("error", errCode(err)), slog.Duration("wait", wait))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}

func (a *Adapter) ids() (userID, botID string) {
	a.idMu.RLock()
	defer a.idMu.RUnlock()
	return a.botUserID, a.botID
}

// runSocket runs the Socket Mode connection and handles what it brings:
// connection events (for Ready), Events API envelopes and button clicks,
// each acknowledged at once and then queued for the worker.
func (a *Adapter) runSocket(ctx context.Context) error {
	opts := []socketmode.Option{socketmode.OptionLog(log.New(io.Discard, "", 0))}
	if a.pingInterval > 0 {
		opts = append(opts, socketmode.OptionPingInterval(a.pingInterval))
	}
	sm := socketmode.New(a.api, opts...)
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			// RunContext returns once ctx is done; wait for it so no
			// goroutine outlives Run.
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			a.setReady(fmt.Errorf("socket mode stopped: %s", errCode(err)))
			return fmt.Errorf("slack: socket mode: %s (check SLACK_APP_TOKEN)", errCode(err))
		case evt := <-sm.Events:
			a.socketEvent(ctx, sm, evt)
		}
	}
}

func (a *Adapter) socketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.setReady(errors.New("socket mode: connecting"))
	case socketmode.EventTypeConnectionError:
		a.setReady(errors.New("socket mode: connection failed; retrying"))
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.socket_connection_error")
	case socketmode.EventTypeInvalidAuth:
		a.setReady(errors.New("socket mode: SLACK_APP_TOKEN refused"))
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		a.setReady(nil)
		if evt.Type == socketmode.EventTypeConnected {
			a.log.LogAttrs(ctx, slog.LevelInfo, "slack.socket_connected")
		}
	case socketmode.EventTypeDisconnect:
		a.setReady(errors.New("socket mode: reconnecting"))
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok || evt.Request == nil {
			return
		}
		// Acknowledge first: Slack redelivers an envelope not acknowledged
		// within three seconds. A redelivery carries the same event id,
		// claimed once in the store.
		if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "slack.ack_failed", slog.String("envelope_id", evt.Request.EnvelopeID))
		}
		a.enqueue(ctx, eventJob(ev, evt.Request.RetryAttempt), true)
	case socketmode.EventTypeInteractive:
		ic, ok := evt.Data.(slackgo.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "slack.ack_failed", slog.String("envelope_id", evt.Request.EnvelopeID))
		}
		a.enqueue(ctx, job{interaction: &ic}, true)
	case socketmode.EventTypeSlashCommand:
		if evt.Request != nil {
			sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		}
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.socket_error", slog.String("type", string(evt.Type)))
	}
}
