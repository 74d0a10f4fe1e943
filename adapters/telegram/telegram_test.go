package telegram_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"intakebot/adapters/telegram"
	"intakebot/bot"
	"intakebot/flows"
)

// answer picks a valid typed answer for an ask step's validator.
func answer(validate string) string {
	switch validate {
	case flows.ValidateName:
		return "Jordan Lee"
	case flows.ValidatePhone:
		return "(206) 555-0123"
	case flows.ValidateEmail:
		return "jordan@example.org"
	case flows.ValidateZIP:
		return "98101"
	case flows.ValidateDate:
		return "next monday"
	default:
		return "Blue Cross"
	}
}

// button returns the callback data of the button for choice id on m.
func buttonFor(tb testing.TB, m sentMsg, id string) string {
	tb.Helper()
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.Data == id {
				return b.Data
			}
		}
	}
	tb.Fatalf("message %q has no button %q (keyboard %v)", m.Text, id, m.Keyboard)
	return ""
}

// firstChoice is the first button of m that answers the question (not
// "talk to a person" or the menu).
func firstChoice(tb testing.TB, m sentMsg) string {
	tb.Helper()
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.Data != bot.ChoiceHuman && b.Data != bot.ChoiceMenu {
				return b.Data
			}
		}
	}
	tb.Fatalf("message %q has no button to answer with", m.Text)
	return ""
}

// driveIntake answers whatever step the conversation waits at until an
// intake is saved: it types a valid value for an ask step, picks one
// option then Done on a multi-choice step, and otherwise taps the first
// offered choice. It does not know the flow's sequence, so steps added to
// flows.yaml are answered too. It returns the number of taps.
func driveIntake(t *testing.T, e *env, chat int64) int {
	t.Helper()
	sp := mustSpec(t)
	key := bot.Key{Channel: telegram.Channel, ChatID: strconv.FormatInt(chat, 10)}
	taps, lastStep, same := 0, "", 0
	for turn := 0; turn < 200; turn++ {
		conv := e.store.Conversation(key)
		if conv == nil {
			t.Fatal("no conversation")
		}
		st := conv.State
		if st.IntakeID != "" {
			t.Logf("intake saved after %d turns (%d taps)", turn, taps)
			return taps
		}
		if st.Step == lastStep {
			if same++; same > 12 {
				t.Fatalf("stuck at step %q; last messages %q", st.Step, lastTexts(e, chat, 3))
			}
		} else {
			lastStep, same = st.Step, 0
		}
		m := e.api.last(t, chat)
		f := sp.Flow(st.Flow)
		if f == nil {
			t.Fatalf("not in a flow (state %+v); last messages %q", st, lastTexts(e, chat, 3))
		}
		step := f.Step(st.Step)
		switch {
		case st.Pending == "notice":
			e.tap(t, m, buttonFor(t, m, bot.ChoiceNoticeYes))
			taps++
		case st.AwaitOther:
			e.say(t, chat, "panic attacks at work")
		case step.Kind == flows.KindAsk && !(step.Validate == flows.ValidateDate && len(step.Choices) > 0):
			e.say(t, chat, answer(step.Validate))
		case step.Kind == flows.KindChoose && step.Multi && len(st.Picked) > 0:
			e.tap(t, m, buttonFor(t, m, step.ID+".done"))
			taps++
		default:
			e.tap(t, m, firstChoice(t, m))
			taps++
		}
	}
	t.Fatal("the intake did not end in 200 turns")
	return taps
}

func lastTexts(e *env, chat int64, n int) []string {
	ts := e.api.texts(chat)
	return ts[max(0, len(ts)-n):]
}

// TestPreIntake runs a whole pre-intake over Telegram: a deep link, a typed
// question, then every step answered by typing or tapping, ending with a
// saved intake that keeps the campaign source.
func TestPreIntake(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	const chat = 5001

	e.say(t, chat, "/start spring_ad")
	if ts := api.texts(chat); len(ts) == 0 || !strings.Contains(strings.Join(ts, "\n"), "automated assistant") {
		t.Fatalf("no welcome: %q", ts)
	}
	e.say(t, chat, "What is an intensive outpatient program?")
	faq := api.last(t, chat)
	if !strings.Contains(faq.Text, "intensive outpatient program") {
		t.Fatalf("FAQ answer = %q", faq.Text)
	}
	e.tap(t, faq, buttonFor(t, faq, "flow:intake"))
	taps := 1 + driveIntake(t, e, chat)

	if n := len(e.store.Intakes); n != 1 {
		t.Fatalf("intakes = %d, want 1", n)
	}
	in := e.store.Intakes[0]
	if in.Channel != telegram.Channel || in.Source != "spring_ad" {
		t.Errorf("intake channel %q source %q, want telegram, spring_ad", in.Channel, in.Source)
	}
	if in.Answers["name"].Value == "" || in.Answers["phone"].Value != "+12065550123" {
		t.Errorf("answers: name %q phone %q", in.Answers["name"].Value, in.Answers["phone"].Value)
	}
	if !strings.Contains(api.last(t, chat).Text, "request has been sent") {
		t.Errorf("last message %q", api.last(t, chat).Text)
	}

	// Every button press was answered, and the pressed message shows the
	// choice with its keyboard gone.
	api.mu.Lock()
	answered, edits := len(api.answered), len(api.edits)
	api.mu.Unlock()
	if answered != taps {
		t.Errorf("answered callbacks = %d, want %d", answered, taps)
	}
	if edits != taps {
		t.Errorf("edited messages = %d, want %d", edits, taps)
	}
	consent := func() *sentMsg {
		for _, m := range api.messages(chat) {
			if strings.Contains(m.Text, "Before I ask anything personal") {
				return api.find(m.ID)
			}
		}
		return nil
	}()
	if consent == nil || !strings.HasSuffix(consent.Text, "\n\n✓ I agree") || len(consent.Keyboard) != 0 {
		t.Errorf("consent message after the tap: %+v", consent)
	}
	// Turns in the same chat ran in update order.
	ids := e.h.order[strconv.Itoa(chat)]
	if !slices.IsSortedFunc(ids, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y }) {
		t.Errorf("turns out of order: %v", ids)
	}
	if api.count("sendChatAction") < len(ids) {
		t.Errorf("typing actions = %d for %d turns", api.count("sendChatAction"), len(ids))
	}
	if got := e.h.inbound[strconv.Itoa(chat)][0]; got.Lang != "en" || got.Text != "/start spring_ad" || got.UpdateID == "" {
		t.Errorf("first inbound = %+v", got)
	}
	e.stop(t)
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"telegram.turn","update_id":`) || !strings.Contains(logs, `"chat":"`) {
		t.Errorf("turns not logged with update id and chat hash:\n%s", logs[:min(len(logs), 2000)])
	}
	for _, secret := range []string{testToken, "Jordan", "555-0123", "Blue Cross", "panic attacks", strconv.Itoa(chat)} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestWebhookSecret: a request without the right secret gets 401 and is
// not processed; the right one is answered 200 at once and handled.
func TestWebhookSecret(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) {
		c.WebhookURL = "https://bot.example.org/telegram/hook"
		c.WebhookSecret = "s3cret_Token-1"
	}})
	api.waitFor(t, "setWebhook", func() bool { return api.webhook != nil })
	api.mu.Lock()
	hook := api.webhook
	api.mu.Unlock()
	if hook.Get("url") != "https://bot.example.org/telegram/hook" || hook.Get("secret_token") != "s3cret_Token-1" {
		t.Errorf("setWebhook form = %v", hook)
	}
	srv := httptest.NewServer(e.ad.WebhookHandler())
	defer srv.Close()

	const chat = 6001
	post := func(secret *string, id int64) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(updateJSON(t, id, textMsg(chat, "hello"))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if secret != nil {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", *secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong, empty, prefix, right := "wrong", "", "s3cret", "s3cret_Token-1"
	for _, tc := range []struct {
		name   string
		secret *string
	}{{"missing", nil}, {"empty", &empty}, {"wrong", &wrong}, {"prefix", &prefix}} {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(tc.secret, 1); code != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", code)
			}
		})
	}
	if c := e.store.Conversation(bot.Key{Channel: telegram.Channel, ChatID: strconv.Itoa(chat)}); c != nil {
		t.Fatalf("a conversation was stored: %+v", c)
	}
	if n := len(api.messages(chat)); n != 0 {
		t.Fatalf("%d messages sent after unauthorized requests", n)
	}
	if code := post(&right, 2); code != http.StatusOK {
		t.Fatalf("status = %d, want 200", code)
	}
	e.processed(t, 2)
	if len(api.messages(chat)) == 0 {
		t.Fatal("no reply to an authorized update")
	}
	// Telegram retrying the same update gets 200 and no second answer.
	before := len(api.messages(chat))
	if code := post(&right, 2); code != http.StatusOK {
		t.Fatalf("retry status = %d", code)
	}
	e.processedTimes(t, 2, 2)
	if after := len(api.messages(chat)); after != before {
		t.Errorf("a redelivered update was answered again: %d -> %d messages", before, after)
	}
	// GET is refused even with the secret.
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", right)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET status = %d", resp.StatusCode)
	}
	if strings.Contains(e.logs.String(), right) {
		t.Error("logs contain the webhook secret")
	}
}

// TestWebhookWaitsForTurn: with WebhookWait the answer to Telegram comes
// once the turn is committed, so that with several replicas a chat's next
// update cannot overtake it.
func TestWebhookWaitsForTurn(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) {
		c.WebhookURL, c.WebhookSecret, c.WebhookWait = "https://bot.example.org/hook", "secret", 10*time.Second
	}})
	started, release := make(chan struct{}), make(chan struct{})
	e.h.mu.Lock()
	e.h.before = func(bot.Inbound) {
		close(started)
		<-release
	}
	e.h.mu.Unlock()
	srv := httptest.NewServer(e.ad.WebhookHandler())
	defer srv.Close()
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(updateJSON(t, 1, textMsg(6101, "hello"))))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-started
	select {
	case code := <-status:
		t.Fatalf("answered %d before the turn was committed", code)
	default:
	}
	close(release)
	if code := <-status; code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if e.store.Conversation(bot.Key{Channel: telegram.Channel, ChatID: "6101"}) == nil {
		t.Error("answered before the turn was committed")
	}
}

// TestTypingWhileSlow: a turn slower than the typing delay shows the
// typing action before its reply; a fast one costs no extra request.
func TestTypingWhileSlow(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{opts: []telegram.Option{telegram.WithTypingDelay(time.Millisecond)}})
	sawTyping := make(chan bool, 1)
	e.h.mu.Lock()
	e.h.before = func(in bot.Inbound) {
		if in.Text != "slow" {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			api.mu.Lock()
			n, ch := len(api.typing), api.changed
			api.mu.Unlock()
			if n > 0 {
				sawTyping <- true
				return
			}
			select {
			case <-ch:
			case <-time.After(time.Until(deadline)):
			}
		}
		sawTyping <- false
	}
	e.h.mu.Unlock()
	e.say(t, 6201, "slow")
	if !<-sawTyping {
		t.Fatal("no typing action during a slow turn")
	}

	fast := newFakeAPI(t)
	e2 := newEnv(t, fast, envOpts{opts: []telegram.Option{telegram.WithTypingDelay(time.Hour)}})
	e2.say(t, 6202, "hello")
	if n := fast.count("sendChatAction"); n != 0 {
		t.Errorf("%d typing actions for a fast turn", n)
	}
}
