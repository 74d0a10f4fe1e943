package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/adapters/telegram"
	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
)

var (
	specOnce sync.Once
	spec     *flows.Spec
	specErr  error
)

// mustSpec loads the shipped flows.yaml once (or $INTAKEBOT_FLOWS).
func mustSpec(tb testing.TB) *flows.Spec {
	tb.Helper()
	specOnce.Do(func() {
		path := "../../flows.yaml"
		if p := os.Getenv("INTAKEBOT_FLOWS"); p != "" {
			path = p
		}
		spec, specErr = flows.Load(path)
	})
	if specErr != nil {
		tb.Fatal(specErr)
	}
	return spec
}

// recHandler wraps the real engine and records what the adapter asked of
// it: the order of turns per chat, their outputs, MarkUnreachable calls,
// and how many turns ran at once.
type recHandler struct {
	eng *bot.Engine

	mu          sync.Mutex
	order       map[string][]string // chat -> update ids, in Handle order
	inbound     map[string][]bot.Inbound
	outputs     map[string][]bot.Reply // chat -> replies of handled (non-duplicate) turns, in order
	unreachable []string
	running     int
	maxRunning  int
	// before, if set, runs at the start of Handle (to block or panic).
	before func(in bot.Inbound)
	// extra, if set, may add replies to a turn's output.
	extra func(in bot.Inbound, out *bot.Output)
}

func newRecHandler(eng *bot.Engine) *recHandler {
	return &recHandler{eng: eng, order: map[string][]string{}, inbound: map[string][]bot.Inbound{}, outputs: map[string][]bot.Reply{}}
}

// Spec lets the adapter learn the flows' button ids.
func (h *recHandler) Spec() *flows.Spec { return h.eng.Spec() }

func (h *recHandler) Handle(ctx context.Context, in bot.Inbound) (bot.Output, error) {
	h.mu.Lock()
	h.running++
	h.maxRunning = max(h.maxRunning, h.running)
	h.order[in.ChatID] = append(h.order[in.ChatID], in.UpdateID)
	h.inbound[in.ChatID] = append(h.inbound[in.ChatID], in)
	before, extra := h.before, h.extra
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running--
		h.mu.Unlock()
	}()
	if before != nil {
		before(in)
	}
	out, err := h.eng.Handle(ctx, in)
	if extra != nil && err == nil {
		extra(in, &out)
	}
	if !errors.Is(err, bot.ErrDuplicate) {
		h.mu.Lock()
		h.outputs[in.ChatID] = append(h.outputs[in.ChatID], out.Replies...)
		h.mu.Unlock()
	}
	return out, err
}

func (h *recHandler) MarkUnreachable(ctx context.Context, key bot.Key, reason string) error {
	h.mu.Lock()
	h.unreachable = append(h.unreachable, key.ChatID+":"+reason)
	h.mu.Unlock()
	return h.eng.MarkUnreachable(ctx, key, reason)
}

func (h *recHandler) replyTexts(chat string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.outputs[chat] {
		// As sent: trimmed, as the adapter trims.
		out = append(out, strings.TrimSpace(r.Text))
	}
	return out
}

func (h *recHandler) unreachableCalls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.unreachable)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is an adapter on a fake Bot API with the real engine and a MemStore.
type env struct {
	api   *fakeAPI
	store *bottest.MemStore
	h     *recHandler
	ad    *telegram.Adapter
	logs  *syncBuffer
	waits *waitLog

	mu      sync.Mutex
	done    map[int64]int
	changed chan struct{}
	runErr  chan error
	cancel  context.CancelFunc
	stopped bool
}

// waitLog records the retry waits the adapter asked for, and returns at
// once so tests never sleep.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waitLog) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waits)
}

type envOpts struct {
	cfg   func(*telegram.Config)
	store *bottest.MemStore
	opts  []telegram.Option
	noRun bool
}

// newEnv starts an adapter in polling mode (unless cfg sets a webhook) on
// api, with no rate limit, recorded retry waits and the typing action at
// once. The adapter is shut down when the test ends.
func newEnv(tb testing.TB, api *fakeAPI, o envOpts) *env {
	tb.Helper()
	if o.store == nil {
		o.store = bottest.NewMemStore()
	}
	e := &env{api: api, store: o.store, logs: &syncBuffer{}, waits: &waitLog{},
		done: map[int64]int{}, changed: make(chan struct{}), runErr: make(chan error, 1)}
	e.h = newRecHandler(bot.New(mustSpec(tb), o.store))
	cfg := telegram.Config{Token: testToken, APIURL: api.URL(), Workers: 8}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	opts := append([]telegram.Option{
		telegram.WithLogger(slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		telegram.WithLimiter(telegram.NoLimit{}),
		telegram.WithRetryWait(e.waits.wait),
		telegram.WithTypingDelay(0),
		telegram.WithPollTimeout(5 * time.Second),
		telegram.WithAfterUpdate(e.markDone),
	}, o.opts...)
	ad, err := telegram.New(cfg, e.h, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	e.ad = ad
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if !o.noRun {
		go func() { e.runErr <- ad.Run(ctx) }()
	} else {
		close(e.runErr)
	}
	tb.Cleanup(func() { e.stop(tb) })
	return e
}

// stop cancels Run and waits for it to drain and return.
func (e *env) stop(tb testing.TB) {
	tb.Helper()
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	e.mu.Unlock()
	e.cancel()
	select {
	case err := <-e.runErr:
		if err != nil {
			tb.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		tb.Errorf("Run did not return")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ad.Shutdown(ctx); err != nil {
		tb.Errorf("Shutdown: %v", err)
	}
}

func (e *env) markDone(id int64) {
	e.mu.Lock()
	e.done[id]++
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// processed waits until every update id was handled or ignored.
func (e *env) processed(tb testing.TB, ids ...int64) {
	tb.Helper()
	for _, id := range ids {
		e.processedTimes(tb, id, 1)
	}
}

// processedTimes waits until update id was processed n times (redelivered).
func (e *env) processedTimes(tb testing.TB, id int64, n int) {
	tb.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		ok := e.done[id] >= n
		ch := e.changed
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out waiting for update %d (processed %d of %d times)", id, e.timesDone(id), n)
		}
	}
}

// timesDone is how many times an update id was processed.
func (e *env) timesDone(id int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done[id]
}

// say sends text from chat and waits for the turn to finish.
func (e *env) say(tb testing.TB, chat int64, text string) int64 {
	tb.Helper()
	id := e.api.push(textMsg(chat, text))
	e.processed(tb, id)
	return id
}

// tap presses the button with data on message m and waits for the turn.
func (e *env) tap(tb testing.TB, m sentMsg, data string) int64 {
	tb.Helper()
	id := e.api.push(e.api.callback(&m, data))
	e.processed(tb, id)
	return id
}
