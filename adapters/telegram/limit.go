package telegram

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces messages to Telegram's limits. Wait blocks until a message
// to chatID may be sent, or returns ctx's error.
type Limiter interface {
	Wait(ctx context.Context, chatID int64) error
}

// NoLimit lets every message through at once (tests, benchmarks, a
// self-hosted Bot API server with no limits).
type NoLimit struct{}

// Wait returns nil at once.
func (NoLimit) Wait(context.Context, int64) error { return nil }

// Telegram's documented limits: about one message per second in a chat
// (short bursts are tolerated) and about thirty per second overall.
const (
	DefaultPerChat      = rate.Limit(1)
	DefaultPerChatBurst = 3
	DefaultGlobal       = rate.Limit(30)
	DefaultGlobalBurst  = 30
)

// RateLimiter is a Limiter with a token bucket per chat and one for the
// whole bot (golang.org/x/time/rate). Buckets of idle chats are dropped
// now and then, so memory follows the number of active chats.
type RateLimiter struct {
	perChat rate.Limit
	burst   int
	global  *rate.Limiter

	mu     sync.Mutex
	chats  map[int64]*rate.Limiter
	pruned time.Time
}

var _ Limiter = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter allowing perChat messages per second in
// each chat (bursts of perChatBurst) and global per second overall (bursts
// of globalBurst).
func NewRateLimiter(perChat rate.Limit, perChatBurst int, global rate.Limit, globalBurst int) *RateLimiter {
	return &RateLimiter{
		perChat: perChat,
		burst:   max(perChatBurst, 1),
		global:  rate.NewLimiter(global, max(globalBurst, 1)),
		chats:   map[int64]*rate.Limiter{},
	}
}

// maxIdleChats is how many chat buckets are kept before idle ones are
// pruned.
const maxIdleChats = 10000

// Wait waits for the chat's bucket, then for the global one, so that a
// busy chat does not hold tokens the others need.
func (l *RateLimiter) Wait(ctx context.Context, chatID int64) error {
	if err := l.chat(chatID).Wait(ctx); err != nil {
		return err
	}
	return l.global.Wait(ctx)
}

func (l *RateLimiter) chat(chatID int64) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.chats[chatID]
	if lim == nil {
		now := time.Now()
		if len(l.chats) >= maxIdleChats && now.Sub(l.pruned) > time.Second {
			l.pruned = now
			for id, c := range l.chats {
				if c.TokensAt(now) >= float64(l.burst) {
					delete(l.chats, id)
				}
			}
		}
		lim = rate.NewLimiter(l.perChat, l.burst)
		l.chats[chatID] = lim
	}
	return lim
}
