package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Dispatcher delivers the outbox: it claims due events, hands each to the
// Notifier registered for its type, and marks it delivered, failed (due
// again after an exponential backoff with jitter, or after the wait a
// RetryAfterError asked for) or dead (after a bound of attempts, or at once
// for ErrPermanent). Any number of dispatchers may share one outbox: a
// claim hides an event from the others for a lease. Delivery is at least
// once; the event id travels with each delivery so a Notifier can make a
// repeat harmless.
type Dispatcher struct {
	out       Outbox
	mu        sync.Mutex
	notifiers map[string]Notifier

	now         func() time.Time
	newTicker   func(time.Duration) (<-chan time.Time, func())
	jitter      func(time.Duration) time.Duration
	log         *slog.Logger
	poll        time.Duration
	base, max   time.Duration
	maxAttempts int
	batch       int
	timeout     time.Duration

	wake chan struct{}
}

// DispatchOption configures a Dispatcher.
type DispatchOption func(*Dispatcher)

// WithDispatchClock sets the clock (tests).
func WithDispatchClock(now func() time.Time) DispatchOption {
	return func(d *Dispatcher) { d.now = now }
}

// WithTicker sets how the poll ticker is made (tests hand in a channel
// they control). newTicker returns the tick channel and a stop function.
func WithTicker(newTicker func(time.Duration) (<-chan time.Time, func())) DispatchOption {
	return func(d *Dispatcher) { d.newTicker = newTicker }
}

// WithJitter sets the jitter source: it returns a duration in [0, n).
// Tests pass a fixed one.
func WithJitter(jitter func(n time.Duration) time.Duration) DispatchOption {
	return func(d *Dispatcher) { d.jitter = jitter }
}

// WithDispatchLogger sets the logger. Logs carry event ids and types only.
func WithDispatchLogger(l *slog.Logger) DispatchOption {
	return func(d *Dispatcher) { d.log = l }
}

// WithPollInterval sets how often the outbox is checked without a Wake
// (default 5s): it picks up retries that come due, and events written by
// other processes.
func WithPollInterval(p time.Duration) DispatchOption {
	return func(d *Dispatcher) { d.poll = p }
}

// WithBackoff sets the first retry delay and the longest (defaults 5s and
// 1h). The n-th retry waits about base·2ⁿ⁻¹, capped at max, half of it
// random.
func WithBackoff(base, max time.Duration) DispatchOption {
	return func(d *Dispatcher) { d.base, d.max = base, max }
}

// WithMaxAttempts sets after how many failed attempts an event goes dead
// (default 20: with the default backoff, about half a day of outage).
func WithMaxAttempts(n int) DispatchOption {
	return func(d *Dispatcher) { d.maxAttempts = n }
}

// WithBatch sets how many events one claim takes (default 5). A claim's
// lease covers the whole batch, so a dispatcher that dies mid-batch delays
// the rest by about batch × notify timeout.
func WithBatch(n int) DispatchOption { return func(d *Dispatcher) { d.batch = n } }

// WithNotifyTimeout bounds one Notify call (default 15s).
func WithNotifyTimeout(t time.Duration) DispatchOption {
	return func(d *Dispatcher) { d.timeout = t }
}

// NewDispatcher returns a dispatcher for out with no notifiers; Register
// them before Run.
func NewDispatcher(out Outbox, opts ...DispatchOption) *Dispatcher {
	d := &Dispatcher{
		out:       out,
		notifiers: map[string]Notifier{},
		now:       time.Now,
		newTicker: func(p time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(p)
			return t.C, t.Stop
		},
		jitter: func(n time.Duration) time.Duration {
			if n <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(n)))
		},
		log:         slog.New(slog.DiscardHandler),
		poll:        5 * time.Second,
		base:        5 * time.Second,
		max:         time.Hour,
		maxAttempts: 20,
		batch:       5,
		timeout:     15 * time.Second,
		wake:        make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Register makes n the notifier of events of type typ, replacing any
// earlier one. Events of types with no notifier stay in the outbox,
// undelivered, until a dispatcher with one runs.
func (d *Dispatcher) Register(typ string, n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifiers[typ] = n
}

// Wake asks a running dispatcher to look at the outbox now, rather than at
// its next poll: call it after a turn wrote events. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claim hides its events: long enough to deliver the
// whole batch one by one, each within the notify timeout.
func (d *Dispatcher) lease() time.Duration {
	return time.Duration(d.batch)*d.timeout + 30*time.Second
}

func (d *Dispatcher) registered() (map[string]Notifier, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	types := make([]string, 0, len(d.notifiers))
	ns := make(map[string]Notifier, len(d.notifiers))
	for t, n := range d.notifiers {
		types = append(types, t)
		ns[t] = n
	}
	sort.Strings(types)
	return ns, types
}

// RunOnce claims one batch of due events and delivers them, one by one. It
// returns how many events it claimed, and an error only when claiming
// failed; each delivery's outcome is recorded in the outbox.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	ns, types := d.registered()
	if len(types) == 0 {
		return 0, nil
	}
	ds, err := d.out.Claim(ctx, ClaimRequest{Now: d.now(), Lease: d.lease(), Limit: d.batch, Types: types})
	if err != nil {
		return 0, fmt.Errorf("dispatch: claim: %w", err)
	}
	for _, dl := range ds {
		if ctx.Err() != nil {
			// The rest come back when their lease runs out.
			break
		}
		d.deliver(ctx, ns[dl.Event.Type], dl)
	}
	return len(ds), nil
}

func (d *Dispatcher) deliver(ctx context.Context, n Notifier, dl Delivery) {
	ev := dl.Event
	attrs := []slog.Attr{slog.String("event_id", ev.ID), slog.String("type", ev.Type), slog.Int("attempt", dl.Attempts+1)}
	var err error
	if n == nil {
		err = fmt.Errorf("no notifier for %q", ev.Type)
	} else {
		err = d.notify(ctx, n, ev)
	}
	// Marks use their own context so a shutdown mid-delivery still
	// records what happened.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := d.now()
	var retry *RetryAfterError
	switch {
	case err == nil:
		if merr := d.out.MarkDelivered(mctx, ev.ID, now); merr != nil {
			d.log.LogAttrs(ctx, slog.LevelError, "outbox: mark delivered failed; the event will be delivered again", append(attrs, slog.String("error", merr.Error()))...)
			return
		}
		d.log.LogAttrs(ctx, slog.LevelDebug, "outbox: delivered", attrs...)
		return
	case errors.Is(err, ErrPermanent) || dl.Attempts+1 >= d.maxAttempts:
		if merr := d.out.MarkDead(mctx, ev.ID, now); merr != nil {
			d.log.LogAttrs(ctx, slog.LevelError, "outbox: mark dead failed", append(attrs, slog.String("error", merr.Error()))...)
		}
		d.log.LogAttrs(ctx, slog.LevelError, "outbox: gave up on event", append(attrs, slog.String("error", err.Error()))...)
		return
	case errors.As(err, &retry) && retry.RetryAfter > 0:
		next := now.Add(retry.RetryAfter)
		if merr := d.out.MarkFailed(mctx, ev.ID, next); merr != nil {
			d.log.LogAttrs(ctx, slog.LevelError, "outbox: mark failed failed", append(attrs, slog.String("error", merr.Error()))...)
		}
		d.log.LogAttrs(ctx, slog.LevelWarn, "outbox: delivery deferred", append(attrs, slog.Duration("retry_after", retry.RetryAfter))...)
	default:
		next := now.Add(d.Backoff(dl.Attempts + 1))
		if merr := d.out.MarkFailed(mctx, ev.ID, next); merr != nil {
			d.log.LogAttrs(ctx, slog.LevelError, "outbox: mark failed failed", append(attrs, slog.String("error", merr.Error()))...)
		}
		d.log.LogAttrs(ctx, slog.LevelWarn, "outbox: delivery failed; will retry", append(attrs, slog.String("error", err.Error()), slog.Time("next", next))...)
	}
}

// notify calls n with a timeout, turning a panic into an error.
func (d *Dispatcher) notify(ctx context.Context, n Notifier, ev Event) (err error) {
	nctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("notifier panicked: %v", r)
		}
	}()
	return n.Notify(nctx, ev)
}

// Backoff returns the wait before retry number n (1 for the first retry):
// base·2ⁿ⁻¹ capped at the maximum, the upper half of it random ("equal
// jitter"), so many failed events do not all come back at once.
func (d *Dispatcher) Backoff(n int) time.Duration {
	w := d.base
	for i := 1; i < n && w < d.max; i++ {
		w *= 2
	}
	if w > d.max {
		w = d.max
	}
	return w/2 + d.jitter(w-w/2)
}

// Run delivers the outbox until ctx is done: a batch at each Wake and at
// each poll tick, and again at once while batches come back full. Errors
// are logged, never fatal: an outage of the database or of a notifier
// delays delivery and never loses an event. Run returns nil when ctx is
// done.
func (d *Dispatcher) Run(ctx context.Context) error {
	tick, stop := d.newTicker(d.poll)
	defer stop()
	for {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.LogAttrs(ctx, slog.LevelError, "outbox: claim failed", slog.String("error", err.Error()))
		}
		if err == nil && n >= d.batch && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tick:
		}
	}
}
