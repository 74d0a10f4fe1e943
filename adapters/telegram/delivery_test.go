package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"

	"intakebot/adapters/telegram"
	"intakebot/bot"
)

func staffEvent(id, chat, text string) bot.Event {
	return bot.Event{ID: id, Type: bot.EventStaffMessage, ConversationID: "conv-1", Deliver: true,
		Data: map[string]any{"channel": telegram.Channel, "chat_id": chat, "text": text, "staff": "U1"}}
}

// TestRateLimitStorm: every message meets a 429 with retry_after, then a
// 502 from a proxy, before it goes through. Every reply is still
// delivered, each chat's in its own order, and the adapter waited as long
// as Telegram asked.
func TestRateLimitStorm(t *testing.T) {
	api := newFakeAPI(t)
	var mu sync.Mutex
	tries := map[string]int{}
	api.setFault(func(method string, form url.Values) *apiError {
		if method != "sendMessage" {
			return nil
		}
		k := form.Get("chat_id") + "\x00" + form.Get("text")
		mu.Lock()
		defer mu.Unlock()
		tries[k]++
		switch tries[k] {
		case 1:
			return tooMany(1 + len(k)%3)
		case 2:
			return badGateway()
		}
		return nil
	})
	e := newEnv(t, api, envOpts{})
	const chats, per = 10, 5
	var ids []int64
	for i := range per {
		for c := range chats {
			ids = append(ids, api.push(textMsg(int64(7100+c), []string{"hello", "what is IOP?", "how long does it take", "thanks", "/help"}[i])))
		}
	}
	e.processed(t, ids...)
	total := 0
	for c := range chats {
		chat := int64(7100 + c)
		got, want := api.texts(chat), e.h.replyTexts(strconv.FormatInt(chat, 10))
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("chat %d: got %d messages, want the %d replies in order", chat, len(got), len(want))
		}
		total += len(want)
	}
	waits := e.waits.all()
	var asked int
	for _, d := range waits {
		if d >= time.Second && d%time.Second == 0 {
			asked++
		}
	}
	if asked < total {
		t.Errorf("waited retry_after %d times for %d messages (waits %v)", asked, total, waits[:min(len(waits), 10)])
	}
	if n := api.count("sendMessage"); n != 3*total {
		t.Errorf("sendMessage requests = %d, want %d (each message: 429, 502, ok)", n, 3*total)
	}
}

// TestManyChats: 100 chats send 20 messages each, all at once. Each chat's
// turns run in the order of its updates and its replies arrive in that
// order; no more turns run at once than there are workers.
func TestManyChats(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) { c.Workers = 16 }})
	const chats, per = 100, 20
	want := map[int64][]string{}
	var ids []int64
	for i := range per {
		for c := range chats {
			chat := int64(20000 + c)
			id := api.push(textMsg(chat, fmt.Sprintf("question %d: how long is IOP?", i)))
			ids = append(ids, id)
			want[chat] = append(want[chat], strconv.FormatInt(id, 10))
		}
	}
	e.processed(t, ids...)
	for c := range chats {
		chat := int64(20000 + c)
		key := strconv.FormatInt(chat, 10)
		e.h.mu.Lock()
		order := slices.Clone(e.h.order[key])
		e.h.mu.Unlock()
		if !slices.Equal(order, want[chat]) {
			t.Fatalf("chat %d: turns ran in order %v, want %v", chat, order, want[chat])
		}
		if got, replies := api.texts(chat), e.h.replyTexts(key); !slices.Equal(got, replies) {
			t.Fatalf("chat %d: messages differ from the turns' replies in order", chat)
		}
	}
	e.h.mu.Lock()
	maxRunning := e.h.maxRunning
	e.h.mu.Unlock()
	if maxRunning > 16 {
		t.Errorf("%d turns ran at once, with 16 workers", maxRunning)
	}
	t.Logf("at most %d turns at once", maxRunning)
}

// TestSlowChatDoesNotBlockOthers: while one chat's turn is stuck, other
// chats are answered, and the stuck chat's next update waits its turn.
func TestSlowChatDoesNotBlockOthers(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) { c.Workers = 2 }})
	started, release := make(chan struct{}), make(chan struct{})
	e.h.mu.Lock()
	e.h.before = func(in bot.Inbound) {
		if in.ChatID == "31" && in.Text == "slow" {
			close(started)
			<-release
		}
	}
	e.h.mu.Unlock()
	slow := api.push(textMsg(31, "slow"))
	<-started
	after := api.push(textMsg(31, "hello"))
	var others []int64
	for c := range 5 {
		others = append(others, api.push(textMsg(int64(40+c), "hello")))
	}
	e.processed(t, others...)
	if e.timesDone(slow) != 0 || e.timesDone(after) != 0 {
		t.Fatal("the slow chat's updates finished early or overtook each other")
	}
	close(release)
	e.processed(t, slow, after)
	e.h.mu.Lock()
	order := slices.Clone(e.h.order["31"])
	e.h.mu.Unlock()
	if !slices.Equal(order, []string{strconv.FormatInt(slow, 10), strconv.FormatInt(after, 10)}) {
		t.Errorf("chat 31 order %v", order)
	}
}

// TestBlockedChat: a 403 marks the conversation unreachable once, the
// rest of the turn's replies are not tried, and later attempts (a staff
// message) fail for good without a second report.
func TestBlockedChat(t *testing.T) {
	api := newFakeAPI(t)
	api.setFault(func(method string, form url.Values) *apiError {
		if method == "sendMessage" && form.Get("chat_id") == "8001" {
			return blocked()
		}
		return nil
	})
	e := newEnv(t, api, envOpts{})
	e.say(t, 8001, "/start")
	if n := len(e.h.replyTexts("8001")); n < 2 {
		t.Fatalf("want a turn with several replies, got %d", n)
	}
	if n := api.count("sendMessage"); n != 1 {
		t.Errorf("sendMessage requests = %d, want 1 (no retry, nothing after the 403)", n)
	}
	if got := e.h.unreachableCalls(); !slices.Equal(got, []string{"8001:blocked"}) {
		t.Errorf("MarkUnreachable calls = %v", got)
	}
	conv := e.store.Conversation(bot.Key{Channel: telegram.Channel, ChatID: "8001"})
	if conv == nil || !conv.State.Unreachable {
		t.Fatalf("conversation not marked unreachable: %+v", conv)
	}
	if !slices.ContainsFunc(e.store.Outbox, func(ev bot.Event) bool { return ev.Type == bot.EventUnreachable }) {
		t.Error("no unreachable event for staff")
	}
	err := e.ad.Notify(context.Background(), staffEvent("ev-1", "8001", "Hi, this is Sam from intake."))
	if !errors.Is(err, bot.ErrPermanent) || !errors.Is(err, telegram.ErrUnreachable) {
		t.Errorf("Notify to a blocked chat: %v, want permanent and unreachable", err)
	}
	if got := e.h.unreachableCalls(); len(got) != 1 {
		t.Errorf("MarkUnreachable calls = %v, want one", got)
	}
	if n := api.count("sendMessage"); n != 2 {
		t.Errorf("sendMessage requests = %d, want 2", n)
	}

	// Blocking seen as a membership update marks a chat at once.
	e.say(t, 8002, "hello")
	id := api.push(map[string]any{"my_chat_member": map[string]any{
		"chat": map[string]any{"id": 8002, "type": "private"}, "from": user(8002), "date": time.Now().Unix(),
		"old_chat_member": map[string]any{"status": "member", "user": user(123456)},
		"new_chat_member": map[string]any{"status": "kicked", "user": user(123456), "until_date": 0},
	}})
	e.processed(t, id)
	if got := e.h.unreachableCalls(); !slices.Contains(got, "8002:blocked") {
		t.Errorf("MarkUnreachable calls = %v", got)
	}
}

// TestFormatting: with a parse mode, text is escaped so it shows as
// written; when Telegram rejects the formatting anyway, the message goes
// out as plain text.
func TestFormatting(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{opts: []telegram.Option{telegram.WithParseMode("HTML")}})
	ctx := context.Background()
	if err := e.ad.Notify(ctx, staffEvent("ev-1", "9001", "Tom & Jerry <3 say hi")); err != nil {
		t.Fatal(err)
	}
	if m := api.last(t, 9001); m.ParseMode != "HTML" || m.Text != "Tom &amp; Jerry &lt;3 say hi" {
		t.Errorf("sent %q in %q", m.Text, m.ParseMode)
	}
	api.setFault(func(method string, form url.Values) *apiError {
		if method == "sendMessage" && form.Get("parse_mode") != "" {
			return cantParse()
		}
		return nil
	})
	if err := e.ad.Notify(ctx, staffEvent("ev-2", "9001", "a <b>bold</b> claim")); err != nil {
		t.Fatal(err)
	}
	if m := api.last(t, 9001); m.ParseMode != "" || m.Text != "a <b>bold</b> claim" {
		t.Errorf("fallback sent %q in %q", m.Text, m.ParseMode)
	}
	e.say(t, 9002, "hello")
	if got, want := api.texts(9002), e.h.replyTexts("9002"); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("turn replies after rejection: got %q, want %q", got, want)
	}
}

func TestFormatEscapes(t *testing.T) {
	for _, tc := range []struct{ mode, in, want string }{
		{"", "a <b> & _c_", "a <b> & _c_"},
		{"HTML", `a <b> & "c"`, `a &lt;b&gt; &amp; &#34;c&#34;`},
		{"MarkdownV2", `1. (a) b_c \ d!`, `1\. \(a\) b\_c \\ d\!`},
		{"Markdown", "a_b *c* `d` [e]", "a\\_b \\*c\\* \\`d\\` \\[e]"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if got := telegram.Format(tc.in, tc.mode); got != tc.want {
				t.Errorf("Format(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestLongTextSplit: a text longer than Telegram's 4096 characters goes
// out as several messages cut after sentences, nothing lost; emoji count
// as Telegram counts them (two UTF-16 units).
func TestLongTextSplit(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "Sentence number %d says something useful 😀. ", i)
		if i%50 == 49 {
			b.WriteString("\n\n")
		}
	}
	text := strings.TrimSpace(b.String())
	if err := e.ad.Notify(context.Background(), staffEvent("ev-long", "9101", text)); err != nil {
		t.Fatal(err)
	}
	ms := api.messages(9101)
	if len(ms) < 3 {
		t.Fatalf("%d messages for %d UTF-16 units", len(ms), len(utf16.Encode([]rune(text))))
	}
	var parts []string
	for i, m := range ms {
		if i < len(ms)-1 && !strings.HasSuffix(m.Text, ".") {
			t.Errorf("part %d ends mid-sentence: …%q", i, m.Text[max(0, len(m.Text)-20):])
		}
		parts = append(parts, m.Text)
	}
	if strings.Join(strings.Fields(strings.Join(parts, " ")), " ") != strings.Join(strings.Fields(text), " ") {
		t.Error("the parts do not add up to the text")
	}
}

func TestSplitText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
	}{
		{"no spaces", strings.Repeat("x", 10000), 4096},
		{"emoji", strings.Repeat("😀", 3000), 4096},
		{"lines", strings.Repeat("a line of text\n", 800), 4096},
		{"small limit", "One. Two. Three. Four.", 10},
		{"short", "hello", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := telegram.SplitText(tc.text, tc.limit)
			for _, p := range parts {
				if n := len(utf16.Encode([]rune(p))); n > tc.limit || n == 0 {
					t.Errorf("part of %d units", n)
				}
				if !utf8.ValidString(p) {
					t.Error("part cut inside a character")
				}
			}
			if strings.Join(strings.Fields(strings.Join(parts, "")), "") != strings.Join(strings.Fields(tc.text), "") {
				t.Error("parts lose text")
			}
		})
	}
}

// TestNotify covers the outbox contract of a staff message.
func TestNotify(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		ev        bot.Event
		fault     func(method string, form url.Values) *apiError
		check     func(t *testing.T, err error)
		wantSends int
	}{
		{"delivered", staffEvent("e1", "9201", "Message from the team: hello"), nil, func(t *testing.T, err error) {
			if err != nil {
				t.Error(err)
			}
		}, 1},
		{"rate limited", staffEvent("e2", "9202", "hello"), func(string, url.Values) *apiError { return tooMany(7) }, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			var tm *tgbot.TooManyRequestsError
			if !errors.As(err, &ra) || ra.RetryAfter != 7*time.Second || !errors.As(err, &tm) || errors.Is(err, bot.ErrPermanent) {
				t.Errorf("err = %v, want a RetryAfterError of 7s", err)
			}
		}, 1},
		{"outage", staffEvent("e3", "9203", "hello"), func(string, url.Values) *apiError { return badGateway() }, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			if err == nil || errors.Is(err, bot.ErrPermanent) || errors.As(err, &ra) {
				t.Errorf("err = %v, want a temporary error", err)
			}
		}, 2},
		{"server error", staffEvent("e4", "9204", "hello"), func(string, url.Values) *apiError { return serverError() }, func(t *testing.T, err error) {
			if err == nil || errors.Is(err, bot.ErrPermanent) {
				t.Errorf("err = %v, want a temporary error", err)
			}
		}, 2},
		{"blocked", staffEvent("e5", "9205", "hello"), func(string, url.Values) *apiError { return blocked() }, func(t *testing.T, err error) {
			if !errors.Is(err, bot.ErrPermanent) || !errors.Is(err, telegram.ErrUnreachable) {
				t.Errorf("err = %v, want permanent", err)
			}
		}, 1},
		{"unreadable result", staffEvent("e9", "9209", "hello"), func(string, url.Values) *apiError {
			return &apiError{Status: 200, Raw: `{"ok":true,"result":{"message_id":1,"date":1,"chat":{"id":9209,"type":"private"},"forward_origin":{"type":"future"}}}`}
		}, func(t *testing.T, err error) {
			if err != nil {
				t.Errorf("err = %v, want nil: Telegram took the message", err)
			}
		}, 1},
		{"other type", bot.Event{ID: "e6", Type: bot.EventHandoff, Data: map[string]any{"channel": "telegram", "chat_id": "9206", "text": "x"}}, nil, func(t *testing.T, err error) {
			if !errors.Is(err, bot.ErrPermanent) || !errors.Is(err, telegram.ErrBadEvent) {
				t.Errorf("err = %v", err)
			}
		}, 0},
		{"other channel", bot.Event{ID: "e7", Type: bot.EventStaffMessage, Data: map[string]any{"channel": "web", "chat_id": "9207", "text": "x"}}, nil, func(t *testing.T, err error) {
			if !errors.Is(err, bot.ErrPermanent) {
				t.Errorf("err = %v", err)
			}
		}, 0},
		{"no chat id", bot.Event{ID: "e8", Type: bot.EventStaffMessage, Data: map[string]any{"channel": "telegram", "text": "x"}}, nil, func(t *testing.T, err error) {
			if !errors.Is(err, bot.ErrPermanent) || !errors.Is(err, telegram.ErrBadEvent) {
				t.Errorf("err = %v", err)
			}
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			e := newEnv(t, api, envOpts{})
			api.setFault(func(method string, form url.Values) *apiError {
				if method == "sendMessage" && tc.fault != nil {
					return tc.fault(method, form)
				}
				return nil
			})
			err := e.ad.Notify(ctx, tc.ev)
			tc.check(t, err)
			if n := api.count("sendMessage"); n != tc.wantSends {
				t.Errorf("sendMessage requests = %d, want %d", n, tc.wantSends)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}

	t.Run("repeat and resume", func(t *testing.T) {
		api := newFakeAPI(t)
		e := newEnv(t, api, envOpts{})
		long := strings.Repeat("This sentence is part of a long staff message. ", 250)
		var mu sync.Mutex
		failing := true
		api.setFault(func(method string, form url.Values) *apiError {
			mu.Lock()
			defer mu.Unlock()
			// The second part fails until the outage ends.
			if method == "sendMessage" && failing && api.count("sendMessage") > 1 {
				return badGateway()
			}
			return nil
		})
		ev := staffEvent("e-long", "9301", long)
		if err := e.ad.Notify(ctx, ev); err == nil {
			t.Fatal("want an error during the outage")
		}
		mu.Lock()
		failing = false
		mu.Unlock()
		if err := e.ad.Notify(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := e.ad.Notify(ctx, ev); err != nil {
			t.Fatal(err)
		}
		parts := telegram.SplitText(long, 4096)
		if got := api.texts(9301); !slices.Equal(got, parts) {
			t.Errorf("delivered %d parts, want each of the %d once", len(got), len(parts))
		}
	})
}

// TestFloodingChat: one chat that sends far more than it can be answered
// keeps a bounded share of the queue; the excess is dropped (and logged by
// update id) and the other chats are still received and answered.
func TestFloodingChat(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) { c.Workers, c.QueueSize = 2, 40 }})
	started, release := make(chan struct{}), make(chan struct{})
	e.h.mu.Lock()
	e.h.before = func(in bot.Inbound) {
		if in.Text == "slow" {
			close(started)
			<-release
		}
	}
	e.h.mu.Unlock()
	api.push(textMsg(33, "slow"))
	<-started
	for range 60 {
		api.push(textMsg(33, "hello?"))
	}
	other := api.push(textMsg(34, "hello"))
	e.processed(t, other)
	close(release)
	e.stop(t)
	e.h.mu.Lock()
	n := len(e.h.order["33"])
	e.h.mu.Unlock()
	if n != 11 {
		t.Errorf("the flooding chat had %d turns, want 1 + 10 queued", n)
	}
	if got := strings.Count(e.logs.String(), "telegram.update_dropped"); got != 50 {
		t.Errorf("%d drops logged, want 50", got)
	}
}
