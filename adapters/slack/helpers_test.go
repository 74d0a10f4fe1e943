package slack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackadapter "intakebot/adapters/slack"
	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
	"intakebot/store"
)

const (
	triage        = "C0TRIAGE"
	staff1        = "USTAFF1"
	staff2        = "USTAFF2"
	outsider      = "UOUTSIDER"
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

var (
	specOnce sync.Once
	spec     *flows.Spec
	specErr  error
)

func mustSpec(tb testing.TB) *flows.Spec {
	tb.Helper()
	specOnce.Do(func() { spec, specErr = flows.Load("../../flows.yaml") })
	if specErr != nil {
		tb.Fatal(specErr)
	}
	return spec
}

// syncBuffer collects the adapter's logs, to check what they never hold.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeTelegram stands for the participant's channel: it records the staff
// messages the dispatcher hands it.
type fakeTelegram struct {
	mu   sync.Mutex
	sent []bot.Event
}

func (f *fakeTelegram) Notify(_ context.Context, ev bot.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.sent {
		if e.ID == ev.ID {
			return nil
		}
	}
	f.sent = append(f.sent, ev)
	return nil
}

// texts returns the texts sent to chat.
func (f *fakeTelegram) texts(chat string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.sent {
		if e.Data["chat_id"] == chat {
			out = append(out, fmt.Sprint(e.Data["text"]))
		}
	}
	return out
}

// harness is a real engine and store (SQLite in a temp dir), a dispatcher
// the test drives, the adapter against a fake Slack, and a fake
// participant channel.
type harness struct {
	t     *testing.T
	spec  *flows.Spec
	clk   *bottest.Clock
	st    *store.Store
	eng   *bot.Engine
	disp  *bot.Dispatcher
	fake  *fakeSlack
	ad    *slackadapter.Adapter
	cfg   slackadapter.Config
	tg    *fakeTelegram
	logs  *syncBuffer
	ticks chan time.Time
	http  *httptest.Server // the adapter's HTTP endpoints (HTTP mode)

	mu     sync.Mutex
	update int
	evSeq  int
	// jobs counts the jobs from Slack the adapter finished.
	jobs atomic.Int64
}

type harnessOption func(*slackadapter.Config)

func withDetail(d string) harnessOption {
	return func(c *slackadapter.Config) { c.Detail = d }
}

func socketMode(c *slackadapter.Config) {
	c.SigningSecret = ""
	c.AppToken = "xapp-1-test-app-token"
}

// newHarnessNoRun returns the engine and store of a harness, with no
// adapter.
func newHarnessNoRun(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, spec: mustSpec(t), clk: bottest.NewClock()}
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := store.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	h.st, err = store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), store.WithKeys(kr), store.WithClock(h.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	h.eng = bot.New(h.spec, h.st, bot.WithClock(h.clk.Now))
	return h
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := newHarnessNoRun(t)
	h.tg, h.logs, h.ticks = &fakeTelegram{}, &syncBuffer{}, make(chan time.Time)
	h.fake = newFakeSlack(t, h.clk.Now, staff1, staff2, "UBOT")
	var err error
	h.disp = bot.NewDispatcher(h.st, bot.WithDispatchClock(h.clk.Now), bot.WithJitter(func(time.Duration) time.Duration { return 0 }),
		bot.WithBackoff(5*time.Second, time.Minute), bot.WithBatch(10), bot.WithDispatchLogger(slog.New(slog.NewTextHandler(h.logs, nil))))
	h.cfg = slackadapter.Config{
		BotToken: "xoxb-1-test-bot-token", SigningSecret: signingSecret, Channel: triage, APIURL: h.fake.URL(),
		AlertMention: "S0CRISIS", Realert: 10 * time.Minute,
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.ad, err = slackadapter.New(h.cfg, h.st, bot.NewStaff(h.eng, h.st), h.spec,
		slackadapter.WithLogger(logger), slackadapter.WithClock(h.clk.Now), slackadapter.WithPingInterval(time.Minute),
		slackadapter.WithTicker(func(time.Duration) (<-chan time.Time, func()) { return h.ticks, func() {} }))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{bot.EventHandoff, bot.EventRelay, bot.EventDeleted, bot.EventUnreachable} {
		h.disp.Register(typ, h.ad)
	}
	h.disp.Register(bot.EventStaffMessage, h.tg)
	if h.cfg.HTTPMode() {
		mux := http.NewServeMux()
		mux.Handle("POST "+slackadapter.EventsPath, h.ad.EventsHandler())
		mux.Handle("POST "+slackadapter.InteractivityPath, h.ad.InteractivityHandler())
		h.http = httptest.NewServer(mux)
		t.Cleanup(h.http.Close)
	}
	slackadapter.SetAfterJob(h.ad, func() {
		h.jobs.Add(1)
		h.fake.bump()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ad.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.fake.waitFor("the adapter to be ready", func() bool { return h.ad.Ready() == nil })
	return h
}

// ---- the participant ----

// send runs one participant turn on chat (channel "web": secure, so no
// notice step) and moves the clock on a second.
func (h *harness) send(chat string, in bot.Inbound) bot.Output {
	h.t.Helper()
	h.mu.Lock()
	h.update++
	in.Channel, in.ChatID, in.UpdateID, in.Time = "web", chat, strconv.Itoa(h.update), h.clk.Now()
	h.mu.Unlock()
	out, err := h.eng.Handle(context.Background(), in)
	if err != nil {
		h.t.Fatalf("turn %q/%q: %v", in.Text, in.Choice, err)
	}
	h.clk.Advance(time.Second)
	return out
}

func (h *harness) say(chat, text string) bot.Output { return h.send(chat, bot.Inbound{Text: text}) }
func (h *harness) tap(chat, id string) bot.Output   { return h.send(chat, bot.Inbound{Choice: id}) }

// persona is a participant with contact details that must not reach Slack
// by default.
type persona struct {
	name    string
	contact string // "call" or "email"
	phone   string // as typed
	phoneD  string // as displayed
	email   string
}

var (
	jordan = persona{name: "Jordan Lee", contact: "call", phone: "(206) 555-0123", phoneD: "(206) 555-0123"}
	riley  = persona{name: "Riley Quinn", contact: "email", email: "riley.quinn@example.org"}
)

// completeIntake walks chat through the whole pre-intake as p and returns
// the handoff id of the saved intake.
func (h *harness) completeIntake(chat string, p persona) string {
	h.t.Helper()
	h.say(chat, "hello")
	h.tap(chat, "flow:intake")
	h.tap(chat, "consent.yes")
	h.say(chat, "My name is "+p.name)
	h.tap(chat, "contact_method."+p.contact)
	if p.contact == "email" {
		h.say(chat, p.email)
	} else {
		h.say(chat, p.phone)
	}
	for _, s := range []string{"call_days.mon", "call_days.wed", "call_days.done"} {
		h.tap(chat, s)
	}
	h.say(chat, "morning and afternoon")
	h.tap(chat, "format.virtual")
	h.tap(chat, "zip.skip")
	h.tap(chat, "constraints.work")
	h.tap(chat, "constraints.done")
	h.say(chat, "next monday")
	for _, s := range []string{"concerns.anxiety", "concerns.other", "concerns.done"} {
		h.tap(chat, s)
	}
	h.say(chat, "panic attacks at work")
	for _, s := range []string{"phq9.i1-several_days", "phq9.i2-not_at_all", "gad7.g1-more_than_half", "gad7.g2-several_days",
		"gad7.g3-more_than_half", "gad7.g4-more_than_half", "gad7.g5-several_days", "gad7.g6-several_days", "gad7.g7-several_days",
		"sex.unknown", "auditc.freq-never", "drugs.times-never", "daily.yes", "safe_home.yes", "medical.no", "more_support.yes",
		"insurance.private"} {
		h.tap(chat, s)
	}
	h.say(chat, "Blue Cross")
	h.tap(chat, "member_id.skip")
	out := h.tap(chat, "summary.confirm")
	for _, ev := range out.Events {
		if ev.Type == bot.EventHandoff {
			return fmt.Sprint(ev.Data["handoff_id"])
		}
	}
	h.t.Fatalf("the intake did not end in a handoff: %+v", out)
	return ""
}

// conversationID returns the id of chat's conversation.
func (h *harness) conversationID(chat string) string {
	h.t.Helper()
	c, err := h.st.Conversation(context.Background(), bot.Key{Channel: "web", ChatID: chat})
	if err != nil {
		h.t.Fatal(err)
	}
	return c.ID
}

// deliver runs the dispatcher until the outbox has nothing due.
func (h *harness) deliver() {
	h.t.Helper()
	for i := 0; i < 50; i++ {
		n, err := h.disp.RunOnce(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	h.t.Fatal("the outbox never emptied")
}

// handoff returns handoff id from the store.
func (h *harness) handoff(id string) *store.HandoffRecord {
	h.t.Helper()
	r, err := h.st.Handoff(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// caseMessage returns the case message of handoff id.
func (h *harness) caseMessage(id string) fakeMsg {
	h.t.Helper()
	r := h.handoff(id)
	if r.SlackTS == "" {
		h.t.Fatalf("handoff %s has no message", id)
	}
	m, ok := h.fake.Message(r.SlackChannel, r.SlackTS)
	if !ok {
		h.t.Fatalf("the message of handoff %s is not in the channel", id)
	}
	return m
}

// audit returns "actor:action" entries about subject.
func (h *harness) audit(subject string) []string {
	h.t.Helper()
	log, err := h.st.AuditLog(context.Background(), subject, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range log {
		out = append(out, e.Actor+":"+e.Action)
	}
	return out
}

// ---- Slack's side: signed requests ----

// sign returns Slack's v0 signature of body at ts with secret.
func sign(secret string, ts time.Time, body []byte) (string, string) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	return stamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends a request signed with secret at ts to path, and returns the
// status and body.
func (h *harness) post(path, contentType string, body []byte, secret string, ts time.Time, header map[string]string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.http.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if secret != "" {
		stamp, sig := sign(secret, ts, body)
		req.Header.Set("X-Slack-Request-Timestamp", stamp)
		req.Header.Set("X-Slack-Signature", sig)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

// messageEvent is the Events API envelope of a message event.
func messageEvent(eventID string, inner map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
		"event_id": eventID, "event_time": 1700000000, "event": inner,
	})
	return b
}

// threadReply is the inner event of user's reply text in thread.
func threadReply(user, thread, ts, text string) map[string]any {
	return map[string]any{"type": "message", "channel": triage, "channel_type": "channel", "user": user,
		"text": text, "ts": ts, "thread_ts": thread, "event_ts": ts}
}

// reply puts user's reply in the thread of handoff id's message and sends
// Slack's signed event about it; it returns the event id.
func (h *harness) reply(id, user, text string, header map[string]string) string {
	h.t.Helper()
	thread := h.handoff(id).SlackTS
	ts := h.fake.addStaffMessage(triage, thread, user, text)
	h.mu.Lock()
	h.evSeq++
	evID := fmt.Sprintf("Ev%04d", h.evSeq)
	h.mu.Unlock()
	h.sendEvent(messageEvent(evID, threadReply(user, thread, ts, text)), header)
	return evID
}

// sendEvent posts a signed Events API request and waits until the adapter
// handled it.
func (h *harness) sendEvent(body []byte, header map[string]string) {
	h.t.Helper()
	n := h.jobs.Load()
	code, _ := h.post(slackadapter.EventsPath, "application/json", body, signingSecret, time.Now(), header)
	if code != http.StatusOK {
		h.t.Fatalf("event: status %d", code)
	}
	h.waitJobs(n + 1)
}

// waitJobs waits until the adapter finished n jobs from Slack in all.
func (h *harness) waitJobs(n int64) {
	h.t.Helper()
	h.fake.waitFor(fmt.Sprintf("job %d", n), func() bool { return h.jobs.Load() >= n })
}

// interaction is the form body of a block_actions payload: user clicked
// action on handoff id's message.
func interaction(user, id, ts, action, selected string) []byte {
	act := map[string]any{"action_id": action, "block_id": "case:" + id, "type": "button", "value": id, "action_ts": "1700000000.1"}
	if selected != "" {
		act["type"] = "static_select"
		act["selected_option"] = map[string]any{"value": selected, "text": map[string]any{"type": "plain_text", "text": selected}}
		delete(act, "value")
	}
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "api_app_id": "A1", "trigger_id": "t",
		"channel":   map[string]any{"id": triage},
		"container": map[string]any{"type": "message", "message_ts": ts, "channel_id": triage},
		"message":   map[string]any{"ts": ts, "text": "case"},
		"actions":   []any{act},
	})
	return []byte(url.Values{"payload": {string(p)}}.Encode())
}

// click sends user's signed click on action of handoff id (selected: the
// option of a select), and waits until the adapter handled it.
func (h *harness) click(user, id, action, selected string) {
	h.t.Helper()
	n := h.jobs.Load()
	body := interaction(user, id, h.handoff(id).SlackTS, action, selected)
	code, _ := h.post(slackadapter.InteractivityPath, "application/x-www-form-urlencoded", body, signingSecret, time.Now(), nil)
	if code != http.StatusOK {
		h.t.Fatalf("click: status %d", code)
	}
	h.waitJobs(n + 1)
}

// staffMessages returns the staff_message texts sent to chat.
func (h *harness) staffMessages(chat string) []string { return h.tg.texts(chat) }

// noPII fails when any of the persona's details is in s.
func noPII(t *testing.T, where, s string, p persona) {
	t.Helper()
	for _, v := range []string{p.name, p.phone, p.phoneD, p.email, "+12065550123", "2065550123", "panic attacks"} {
		if v != "" && strings.Contains(s, v) {
			t.Errorf("%s holds %q", where, v)
		}
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
