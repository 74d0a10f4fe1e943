package telegram

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"intakebot/bot"
)

// ErrUnreachable reports a chat that refuses messages: the person blocked
// the bot, deleted their account, or the chat does not exist. It is
// permanent: retrying does not help until the person writes again.
var ErrUnreachable = errors.New("telegram: chat unreachable")

// ErrBadEvent reports an outbox event Notify cannot deliver: not a staff
// message for a Telegram chat, or without chat id or text. It is
// permanent.
var ErrBadEvent = errors.New("telegram: not a staff message with a Telegram chat_id and text")

// unreachableError is an ErrUnreachable with the reason given to
// MarkUnreachable.
type unreachableError struct {
	reason string
	err    error
}

func (e *unreachableError) Error() string {
	return "chat unreachable (" + e.reason + "): " + e.err.Error()
}

func (e *unreachableError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// RetryAfter reports how long Telegram asked to wait, when err is (or
// wraps) a 429 Too Many Requests.
func RetryAfter(err error) (time.Duration, bool) {
	var tm *tgbot.TooManyRequestsError
	if errors.As(err, &tm) {
		return time.Duration(max(tm.RetryAfter, 1)) * time.Second, true
	}
	return 0, false
}

// policy bounds the retries of one request: after a 5xx or network error
// (transient, with exponential back-off) and after a 429 (tooMany, each
// waiting retry_after).
type policy struct {
	transient int
	tooMany   int
	// unpaced skips the Limiter (crisis replies).
	unpaced bool
}

// Back-off after a transient failure: 500ms doubling up to 30s, ±20%.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
)

func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt, 16)
	d = min(d, backoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// call runs fn, retrying per p: a 429 waits its retry_after, a 5xx or a
// network error backs off. Other failures return at once. A 403 and a
// "chat not found" return an ErrUnreachable. Errors name op and never
// contain the token.
func (a *Adapter) call(ctx context.Context, op string, chat int64, p policy, fn func(context.Context) error) error {
	transient, tooMany := 0, 0
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("telegram: %s: %w", op, ctx.Err())
		}
		if strings.Contains(err.Error(), resultMarker) {
			// Telegram answered ok; only the library could not read the
			// result, which the adapter does not use. Retrying would send
			// the message twice.
			a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.result_unreadable", slog.String("op", op), a.chatAttr(chat))
			return nil
		}
		var wait time.Duration
		if d, ok := RetryAfter(err); ok {
			if tooMany >= p.tooMany {
				return fmt.Errorf("telegram: %s: %w", op, a.redact(err))
			}
			tooMany++
			wait = d
			a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.rate_limited", slog.String("op", op),
				a.chatAttr(chat), slog.Duration("retry_after", d))
		} else {
			switch kind, reason := classify(err); kind {
			case failUnreachable:
				return fmt.Errorf("telegram: %s: %w", op, &unreachableError{reason: reason, err: a.redact(err)})
			case failTransient:
				if transient >= p.transient {
					return fmt.Errorf("telegram: %s: %w", op, a.redact(err))
				}
				wait = backoff(transient)
				transient++
				a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.retry", slog.String("op", op),
					a.chatAttr(chat), slog.String("error", a.redact(err).Error()))
			default:
				return fmt.Errorf("telegram: %s: %w", op, a.redact(err))
			}
		}
		if err := a.wait(ctx, wait); err != nil {
			return fmt.Errorf("telegram: %s: %w", op, err)
		}
	}
}

type failure int

const (
	failTransient failure = iota
	failUnreachable
	failPermanent
)

// classify sorts a failed request: a 403 or a missing chat makes the chat
// unreachable; other 4xx answers are permanent; anything else (a 5xx, a
// network error, a body that is not JSON) is transient.
func classify(err error) (failure, string) {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, tgbot.ErrorForbidden):
		switch {
		case strings.Contains(msg, "blocked"):
			return failUnreachable, "blocked"
		case strings.Contains(msg, "deactivated"):
			return failUnreachable, "deactivated"
		}
		return failUnreachable, "forbidden"
	case errors.Is(err, tgbot.ErrorBadRequest):
		if strings.Contains(msg, "chat not found") || strings.Contains(msg, "user not found") {
			return failUnreachable, "chat_not_found"
		}
		return failPermanent, ""
	case errors.Is(err, tgbot.ErrorUnauthorized), errors.Is(err, tgbot.ErrorNotFound),
		errors.Is(err, tgbot.ErrorConflict), tgbot.IsMigrateError(err),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return failPermanent, ""
	}
	return failTransient, ""
}

// isParseError reports Telegram's refusal of a message's formatting.
func isParseError(err error) bool {
	return errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "can't parse entities")
}

// isNotModified reports an edit that changed nothing (a double tap).
func isNotModified(err error) bool {
	return errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "message is not modified")
}

// sendReplies sends a turn's replies in order. A chat that refuses
// messages is marked unreachable once and gets nothing more; a reply that
// fails for good is logged and the next one is still tried, unless the
// failure was an outage that outlasted the retries.
func (a *Adapter) sendReplies(updateID, chat int64, replies []bot.Reply) {
	ctx := a.workCtx
	for _, r := range replies {
		p := a.turnPolicy
		// Nothing may delay a crisis reply, the pacing included; Telegram
		// tolerates a short burst, and a 429 is still retried.
		p.unpaced = r.Kind == bot.KindCrisis
		err := a.sendText(ctx, chat, r.Text, r.Choices, p, nil)
		if err == nil {
			continue
		}
		var ue *unreachableError
		if errors.As(err, &ue) {
			a.markUnreachable(ctx, updateID, chat, ue.reason)
			return
		}
		a.log.LogAttrs(ctx, slog.LevelError, "telegram.send_failed", slog.Int64("update_id", updateID),
			a.chatAttr(chat), slog.String("kind", r.Kind), slog.String("error", err.Error()))
		if kind, _ := classify(err); kind == failTransient || ctx.Err() != nil {
			return
		}
	}
}

// sendText sends text as one or more messages of at most 4096 characters,
// cut on paragraph, line or sentence boundaries; the buttons go under the
// last part. With progress, the parts it counts as sent (by an earlier
// attempt of the same event) are skipped, and it counts each part sent.
func (a *Adapter) sendText(ctx context.Context, chat int64, text string, choices []bot.Choice, p policy, progress *notifyProgress) error {
	parts := splitText(text, maxMessage)
	if len(parts) == 0 {
		if len(choices) == 0 {
			return nil
		}
		parts = []string{"…"}
	}
	for i, part := range parts {
		if progress != nil && i < progress.sent {
			continue
		}
		var kb *inlineKeyboard
		if i == len(parts)-1 {
			kb = a.codec.keyboard(choices)
		}
		if err := a.sendMessage(ctx, chat, part, kb, p); err != nil {
			return err
		}
		if progress != nil {
			progress.sent = i + 1
		}
	}
	return nil
}

// sendMessage sends one message, paced by the limiter, escaped for the
// parse mode; if Telegram rejects its formatting it goes again as plain
// text.
func (a *Adapter) sendMessage(ctx context.Context, chat int64, text string, kb *inlineKeyboard, p policy) error {
	params := &tgbot.SendMessageParams{
		ChatID:             chat,
		Text:               format(text, a.parseMode),
		ParseMode:          a.parseMode,
		LinkPreviewOptions: noPreview,
	}
	if kb != nil {
		params.ReplyMarkup = kb
	}
	send := func(ctx context.Context) error {
		if !p.unpaced {
			if err := a.limiter.Wait(ctx, chat); err != nil {
				return err
			}
		}
		_, err := a.tg.SendMessage(ctx, params)
		return err
	}
	err := a.call(ctx, "sendMessage", chat, p, send)
	if err != nil && params.ParseMode != "" && isParseError(err) {
		a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.formatting_rejected", a.chatAttr(chat))
		params.Text, params.ParseMode = text, ""
		err = a.call(ctx, "sendMessage", chat, p, send)
	}
	return err
}

// editText replaces a message's text and removes its keyboard, with the
// same plain-text fallback as sendMessage.
func (a *Adapter) editText(ctx context.Context, chat int64, messageID int, text string) error {
	params := &tgbot.EditMessageTextParams{
		ChatID: chat, MessageID: messageID,
		Text: format(text, a.parseMode), ParseMode: a.parseMode,
		LinkPreviewOptions: noPreview, ReplyMarkup: emptyKeyboard,
	}
	edit := func(ctx context.Context) error {
		_, err := a.tg.EditMessageText(ctx, params)
		return err
	}
	p := policy{transient: 1, tooMany: 1}
	err := a.call(ctx, "editMessageText", chat, p, edit)
	if err != nil && params.ParseMode != "" && isParseError(err) {
		params.Text, params.ParseMode = text, ""
		err = a.call(ctx, "editMessageText", chat, p, edit)
	}
	return err
}

// noPreview turns off link previews: replies quote addresses such as
// 988lifeline.org, and a preview card would push the text off the screen.
var noPreview = &models.LinkPreviewOptions{IsDisabled: tgbot.True()}

// markUnreachable tells the engine, once per chat and process, that the
// chat refuses messages.
func (a *Adapter) markUnreachable(ctx context.Context, updateID, chat int64, reason string) {
	a.mu.Lock()
	if a.unreachable[chat] {
		a.mu.Unlock()
		return
	}
	if len(a.unreachable) >= maxRemembered {
		clear(a.unreachable)
	}
	a.unreachable[chat] = true
	a.mu.Unlock()
	a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.unreachable", slog.Int64("update_id", updateID),
		a.chatAttr(chat), slog.String("reason", reason))
	key := bot.Key{Channel: Channel, ChatID: strconv.FormatInt(chat, 10)}
	if err := a.h.MarkUnreachable(ctx, key, reason); err != nil && !errors.Is(err, bot.ErrNotFound) {
		a.log.LogAttrs(ctx, slog.LevelError, "telegram.mark_unreachable_failed", a.chatAttr(chat),
			slog.String("error", a.redact(err).Error()))
		a.mu.Lock()
		delete(a.unreachable, chat)
		a.mu.Unlock()
	}
}

// setReachable forgets an unreachable mark: the person wrote again.
func (a *Adapter) setReachable(chat int64) {
	a.mu.Lock()
	delete(a.unreachable, chat)
	a.mu.Unlock()
}

var (
	_ bot.Notifier = (*Adapter)(nil)
	_ Handler      = (*bot.Engine)(nil)
)

// notifyProgress remembers how many parts of a long staff message went
// out, so a retry of the event does not send them twice.
type notifyProgress struct{ sent int }

// Notify delivers a bot.EventStaffMessage to a Telegram chat: Data holds
// "channel": "telegram", "chat_id" and "text" (already prefixed by the
// engine). Register it with the bot.Dispatcher for bot.EventStaffMessage
// (behind a router by channel when other channels exist). It returns:
//   - nil once the text was sent, or when this event id was already
//     delivered by this process (a repeat is harmless);
//   - a *bot.RetryAfterError on a 429, wrapping *tgbot.TooManyRequestsError;
//   - a temporary error on a 5xx, a network error or ctx's end: the outbox
//     tries again later, so an outage delays and never drops;
//   - an error wrapping bot.ErrPermanent and ErrUnreachable on a 403 or a
//     missing chat, after marking the chat unreachable;
//   - an error wrapping bot.ErrPermanent and ErrBadEvent for another event
//     type, another channel, or data without chat_id or text.
//
// A retried event resumes after the parts of a long text already sent.
func (a *Adapter) Notify(ctx context.Context, ev bot.Event) error {
	ch, _ := ev.Data["channel"].(string)
	if ev.Type != bot.EventStaffMessage || ch != Channel {
		return fmt.Errorf("telegram: notify %s: %s event for channel %q: %w: %w", ev.ID, ev.Type, ch, ErrBadEvent, bot.ErrPermanent)
	}
	chat, ok := chatID(ev.Data["chat_id"])
	text, _ := ev.Data["text"].(string)
	if !ok || strings.TrimSpace(text) == "" {
		return fmt.Errorf("telegram: notify %s: %w: %w", ev.ID, ErrBadEvent, bot.ErrPermanent)
	}
	a.mu.Lock()
	if _, done := a.delivered[ev.ID]; done && ev.ID != "" {
		a.mu.Unlock()
		return nil
	}
	prog := &notifyProgress{sent: a.notified[ev.ID]}
	a.mu.Unlock()
	err := a.sendText(ctx, chat, text, nil, policy{transient: 1}, prog)
	a.mu.Lock()
	delete(a.notified, ev.ID)
	switch {
	case err == nil:
		if len(a.delivered) >= maxRemembered {
			clear(a.delivered)
		}
		a.delivered[ev.ID] = struct{}{}
	case prog.sent > 0 && !errors.Is(err, ErrUnreachable):
		if len(a.notified) >= maxRemembered {
			clear(a.notified)
		}
		a.notified[ev.ID] = prog.sent
	}
	a.mu.Unlock()
	if err == nil {
		a.log.LogAttrs(ctx, slog.LevelInfo, "telegram.staff_message_sent", slog.String("event_id", ev.ID), a.chatAttr(chat))
		return nil
	}
	a.log.LogAttrs(ctx, slog.LevelWarn, "telegram.staff_message_failed", slog.String("event_id", ev.ID),
		a.chatAttr(chat), slog.String("error", err.Error()))
	var ue *unreachableError
	if errors.As(err, &ue) {
		a.markUnreachable(ctx, 0, chat, ue.reason)
		return fmt.Errorf("telegram: notify %s: %w: %w", ev.ID, err, bot.ErrPermanent)
	}
	if d, ok := RetryAfter(err); ok {
		return &bot.RetryAfterError{RetryAfter: d, Err: fmt.Errorf("telegram: notify %s: %w", ev.ID, err)}
	}
	if kind, _ := classify(err); kind == failPermanent && ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("telegram: notify %s: %w: %w", ev.ID, err, bot.ErrPermanent)
	}
	return fmt.Errorf("telegram: notify %s: %w", ev.ID, err)
}

// chatID reads a chat id from event data: a string, a number, or a
// json.Number.
func chatID(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil && n != 0
	case int64:
		return x, x != 0
	case int:
		return int64(x), x != 0
	case float64:
		return int64(x), x != 0 && x == float64(int64(x))
	case json.Number:
		n, err := x.Int64()
		return n, err == nil && n != 0
	}
	return 0, false
}

// redactedError hides the bot token in an error's text (the library's
// request URLs contain it) and the raw response body the library quotes
// when a response is not JSON (a getUpdates body holds people's messages);
// it keeps the cause for errors.Is and As.
type redactedError struct {
	err   error
	token string
}

// resultMarker starts the library's error for an ok answer whose result
// it could not decode.
const resultMarker = "error decode response result for method "

// bodyMarker starts the library's error for a response that is not JSON;
// the body follows the method name.
const bodyMarker = "error decode response body for method "

func (e *redactedError) Error() string {
	return redactText(e.err.Error(), e.token)
}

func (e *redactedError) Unwrap() error { return e.err }

func redactText(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "<token>")
	}
	if i := strings.Index(s, bodyMarker); i >= 0 {
		rest := s[i+len(bodyMarker):]
		method, _, _ := strings.Cut(rest, ",")
		s = s[:i] + bodyMarker + method + ": response is not JSON (body omitted)"
	}
	return s
}

func (a *Adapter) redact(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); !strings.Contains(msg, a.cfg.Token) && !strings.Contains(msg, bodyMarker) {
		return err
	}
	return &redactedError{err: err, token: a.cfg.Token}
}

// libraryError logs the library's own errors (a failed getUpdates), with
// the token and any response body removed. A batch of updates the library
// could not decode arms the repair of the next one (see tolerantClient).
func (a *Adapter) libraryError(err error) {
	if strings.Contains(err.Error(), getUpdatesUnreadable) {
		a.repairNext.Store(true)
	}
	a.log.LogAttrs(context.Background(), slog.LevelWarn, "telegram.library_error", slog.String("error", a.redact(err).Error()))
}

// chatKey derives the key of chat id hashes from the token: hashes are
// stable across restarts, and a chat id cannot be recovered from a log
// without the token.
func chatKey(token string) []byte {
	sum := sha256.Sum256([]byte("intakebot/telegram/chat-log-key\x00" + token))
	return sum[:]
}

// chatTag is the chat's id as logs show it: a keyed hash, 12 hex digits.
func (a *Adapter) chatTag(chat int64) string {
	if chat == 0 {
		return ""
	}
	m := hmac.New(sha256.New, a.chatKey)
	m.Write([]byte(strconv.FormatInt(chat, 10)))
	return hex.EncodeToString(m.Sum(nil))[:12]
}

// chatAttr is the "chat" log attribute; the hash is computed only when the
// line is written.
func (a *Adapter) chatAttr(chat int64) slog.Attr {
	return slog.Any("chat", chatTagValue{a: a, chat: chat})
}

type chatTagValue struct {
	a    *Adapter
	chat int64
}

func (v chatTagValue) LogValue() slog.Value { return slog.StringValue(v.a.chatTag(v.chat)) }
