package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	slackgo "github.com/slack-go/slack"

	"intakebot/bot"
)

// errCode names err without any payload: a Slack error code ("channel_not_found"),
// an HTTP status, "rate limited", or the error's text for others (slack-go's
// errors never carry a token or message text).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var rl *slackgo.RateLimitedError
	var se slackgo.SlackErrorResponse
	var sc slackgo.StatusCodeError
	var he *heldError
	switch {
	case errors.As(err, &he):
		return "held after " + errCode(he.err)
	case errors.As(err, &rl):
		return fmt.Sprintf("rate limited (retry after %s)", rl.RetryAfter)
	case errors.As(err, &se):
		return se.Err
	case errors.As(err, &sc):
		return fmt.Sprintf("http %d", sc.Code)
	}
	return err.Error()
}

// authCodes are Slack's answers to a token that is not (or no longer)
// accepted.
var authCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "org_login_required": true, "ekm_access_denied": true,
	"not_allowed_token_type": true,
}

func isAuthError(err error) bool {
	var se slackgo.SlackErrorResponse
	return errors.As(err, &se) && authCodes[se.Err]
}

// permanentCodes are Slack errors no retry of the same event can fix: the
// channel is gone or closed to the app, or the message itself is refused.
var permanentCodes = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "invalid_channel": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true, "msg_blocks_too_long": true,
	"no_text": true, "too_many_attachments": true, "cant_update_message": true, "edit_window_closed": true,
	"invalid_metadata_format": true, "invalid_metadata_schema": true, "metadata_too_large": true,
	"restricted_action": true, "restricted_action_read_only_channel": true, "restricted_action_thread_only_channel": true,
	"restricted_action_non_threadable_channel": true, "cannot_reply_to_message": true, "duplicate_channel_not_found": true,
	"team_access_not_granted": true, "invalid_arguments": true, "invalid_arg_name": true,
}

// transient reports whether err is an outage or a rate limit: a failure of
// Slack or of the way to it, not of the request.
func transient(err error) bool {
	var rl *slackgo.RateLimitedError
	var sc slackgo.StatusCodeError
	var se slackgo.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.As(err, &rl):
		return true
	case errors.As(err, &sc):
		return sc.Code >= 500 || sc.Code == http.StatusTooManyRequests || sc.Code == http.StatusRequestTimeout
	case errors.As(err, &se):
		switch se.Err {
		case "ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout":
			return true
		}
		return false
	case errors.As(err, &ne):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// deliveryError turns a failed delivery into the outbox's terms: a rate
// limit is a *bot.RetryAfterError with Slack's wait; a refused request
// (channel gone, message refused) wraps bot.ErrPermanent; anything else is
// temporary. A refused token is temporary too: the event is fine, the
// deployment is not, and the event must wait for the fix.
func deliveryError(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *heldError
	if errors.As(err, &he) {
		var rl *slackgo.RateLimitedError
		if errors.As(he.err, &rl) {
			return &bot.RetryAfterError{RetryAfter: he.remaining, Err: fmt.Errorf("slack: %s: %s", op, errCode(err))}
		}
		return fmt.Errorf("slack: %s: %s", op, errCode(err))
	}
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return &bot.RetryAfterError{RetryAfter: wait, Err: fmt.Errorf("slack: %s: %w", op, err)}
	}
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "ratelimited" {
			return &bot.RetryAfterError{RetryAfter: 30 * time.Second, Err: fmt.Errorf("slack: %s: %s", op, se.Err)}
		}
		if permanentCodes[se.Err] {
			return fmt.Errorf("slack: %s: %s: %w", op, se.Err, bot.ErrPermanent)
		}
		return fmt.Errorf("slack: %s: %s", op, se.Err)
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 400 && sc.Code < 500 && !transient(err) {
		// 404 (no such method), 410 (gone): the request will never work.
		return fmt.Errorf("slack: %s: http %d: %w", op, sc.Code, bot.ErrPermanent)
	}
	return fmt.Errorf("slack: %s: %w", op, err)
}

// heldError is a call not made because Slack failed moments ago: the
// events after a failed one wait behind it, so they are delivered in
// order once Slack is back.
type heldError struct {
	err       error
	remaining time.Duration
}

func (e *heldError) Error() string { return "slack: held after a failure: " + errCode(e.err) }
func (e *heldError) Unwrap() error { return e.err }

// call runs one Web API call, unless a recent outage or rate limit holds
// calls; a transient failure starts such a hold (Slack's wait for a rate
// limit, a couple of seconds for an outage).
func (a *Adapter) call(fn func() error) error {
	if err := a.held(); err != nil {
		return err
	}
	err := fn()
	if err != nil && transient(err) {
		d := defaultHoldOnError
		var rl *slackgo.RateLimitedError
		if errors.As(err, &rl) && rl.RetryAfter > 0 {
			d = rl.RetryAfter
		}
		a.holdMu.Lock()
		if till := a.now().Add(d); till.After(a.holdTill) {
			a.holdTill, a.holdErr = till, err
		}
		a.holdMu.Unlock()
	}
	return err
}

func (a *Adapter) held() error {
	a.holdMu.Lock()
	defer a.holdMu.Unlock()
	if rem := a.holdTill.Sub(a.now()); rem > 0 {
		return &heldError{err: a.holdErr, remaining: rem}
	}
	return nil
}
