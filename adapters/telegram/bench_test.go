package telegram_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"intakebot/adapters/telegram"
	"intakebot/bot"
	"intakebot/bot/bottest"
)

// BenchmarkEndToEnd measures updates per second through the fake Bot API:
// text updates from 100 chats, waiting in getUpdates, handled until every
// reply is sent. A bare echo bot on the same library and the same kind of
// fake server runs beside the adapter (with the real engine and a
// MemStore, no rate limit: the fake has none), in alternating rounds so
// that a change in machine load hits both alike; it reports both rates and
// their ratio.
func BenchmarkEndToEnd(b *testing.B) {
	rounds := 4
	if b.N < 4*chatsPerBench {
		rounds = 1
	}
	b.ReportAllocs()
	b.ResetTimer()
	var echoTime, adTime time.Duration
	replies, n := 0, 0
	for r := range rounds {
		size := b.N / rounds
		if r == rounds-1 {
			size = b.N - n
		}
		n += size
		echoTime += runEcho(b, size)
		d, sent := runAdapter(b, size)
		adTime += d
		replies += sent
	}
	b.StopTimer()
	echoRate := float64(b.N) / echoTime.Seconds()
	adRate := float64(b.N) / adTime.Seconds()
	b.ReportMetric(adRate, "updates/s")
	b.ReportMetric(echoRate, "echo-updates/s")
	b.ReportMetric(adRate/echoRate, "ratio")
	b.ReportMetric(float64(replies)/float64(b.N), "replies/update")
}

const chatsPerBench = 100

// pushBacklog queues n text updates from 100 chats.
func pushBacklog(api *fakeAPI, n int) {
	texts := []string{"what is IOP?", "how long does it take", "hello", "thanks"}
	for i := range n {
		api.push(textMsg(int64(1000+i%chatsPerBench), texts[(i/chatsPerBench)%len(texts)]))
	}
}

// runEcho times a bare echo bot (the library's defaults, one SendMessage
// per update) through n updates.
func runEcho(b *testing.B, n int) time.Duration {
	api := newFakeAPI(b)
	pushBacklog(api, n)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	echo, err := tgbot.New(testToken, tgbot.WithServerURL(api.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithErrorsHandler(func(error) {}),
		tgbot.WithDefaultHandler(func(ctx context.Context, bt *tgbot.Bot, u *models.Update) {
			if u.Message != nil {
				_, _ = bt.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: u.Message.Text})
			}
		}))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { echo.Start(ctx); close(done) }()
	api.waitFor(b, "echo replies", func() bool { return len(api.msgs) >= n })
	d := time.Since(start)
	cancel()
	<-done
	return d
}

// runAdapter times the adapter with the engine through n updates; it
// returns the time and the number of messages sent.
func runAdapter(b *testing.B, n int) (time.Duration, int) {
	api := newFakeAPI(b)
	pushBacklog(api, n)
	var handled atomic.Int64
	allDone := make(chan struct{})
	start := time.Now()
	ad, err := telegram.New(telegram.Config{Token: testToken, APIURL: api.URL()}, bot.New(mustSpec(b), bottest.NewMemStore()),
		telegram.WithLogger(slog.New(slog.DiscardHandler)),
		telegram.WithLimiter(telegram.NoLimit{}),
		telegram.WithAfterUpdate(func(int64) {
			if handled.Add(1) == int64(n) {
				close(allDone)
			}
		}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- ad.Run(ctx) }()
	select {
	case <-allDone:
	case <-time.After(5 * time.Minute):
		b.Fatal("the adapter did not handle every update")
	}
	d := time.Since(start)
	stop()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	return d, len(api.msgs)
}
