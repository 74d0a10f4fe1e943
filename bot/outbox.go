package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Notifier delivers one outbox event to the outside: staff in Slack for
// handoff, relay and deleted events, the participant's channel for
// staff_message events. Notifiers are registered per event type with a
// Dispatcher.
//
// Notify returns nil when the event was delivered, or was already
// delivered before: an event can be handed over more than once (after a
// crash between delivery and its record, or when a claim's lease ran out),
// always with the same ev.ID, and a Notifier uses that id to make a repeat
// harmless. Any other outcome is an error:
//   - a *RetryAfterError when the remote side asked to wait (a rate limit):
//     the event is tried again after RetryAfter;
//   - an error wrapping ErrPermanent when trying again cannot help (the chat
//     no longer exists, the payload is unusable): the event goes dead at
//     once;
//   - any other error is temporary: the event is tried again later with
//     exponential backoff, until the dispatcher's bound of attempts.
//
// Notify must return when ctx is done. It must not log message text,
// names, contact details or answers.
type Notifier interface {
	Notify(ctx context.Context, ev Event) error
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(ctx context.Context, ev Event) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, ev Event) error { return f(ctx, ev) }

// ErrPermanent marks a delivery failure that no retry can fix. Wrap it:
// fmt.Errorf("telegram: chat gone: %w", bot.ErrPermanent).
var ErrPermanent = errors.New("permanent delivery failure")

// RetryAfterError is a temporary delivery failure with the wait the remote
// side asked for (an HTTP 429 with Retry-After, Slack's rate limit).
type RetryAfterError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// Delivery is one claimed outbox event.
type Delivery struct {
	Event Event
	// Attempts counts the earlier attempts that failed.
	Attempts int
}

// ClaimRequest says which due events a dispatcher takes.
type ClaimRequest struct {
	// Now is the current time: events due at or before it are claimed.
	Now time.Time
	// Lease is how long the claimed events stay hidden from other
	// dispatchers; an event not marked by then is claimed again.
	Lease time.Duration
	// Limit is the most events to claim.
	Limit int
	// Types are the event types to claim: those with a registered notifier.
	Types []string
}

// Outbox is the store side of event delivery: the events a turn wrote are
// claimed by a dispatcher, handed to notifiers, then marked.
type Outbox interface {
	// Claim returns up to req.Limit pending events of req.Types due at
	// req.Now, oldest first, and hides them from every other Claim until
	// req.Now+req.Lease. Two dispatchers, in one process or many, never
	// claim the same event while its lease runs. It returns no events and
	// no error when none is due. An event whose payload cannot be read is
	// not returned: a corrupt one goes dead, one under a key that is not
	// configured stays pending.
	Claim(ctx context.Context, req ClaimRequest) ([]Delivery, error)
	// MarkDelivered records that event id was delivered at now and drops
	// its payload. Marking an event that is no longer pending (delivered,
	// dead, or unknown) is a no-op, so a repeat is harmless.
	MarkDelivered(ctx context.Context, id string, now time.Time) error
	// MarkFailed records a failed attempt and makes the event due again at
	// next. It is a no-op for an event that is no longer pending.
	MarkFailed(ctx context.Context, id string, next time.Time) error
	// MarkDead records a last failed attempt: the event is kept, with its
	// payload, but never claimed again. It is a no-op for an event that is
	// no longer pending.
	MarkDead(ctx context.Context, id string, now time.Time) error
}
