package telegram_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/adapters/telegram"
	"intakebot/bot"
	"intakebot/bot/bottest"
)

func media(chat int64, fields map[string]any) map[string]any {
	return message(chat, "private", fields)
}

var (
	file     = map[string]any{"file_id": "f1", "file_unique_id": "u1"}
	location = map[string]any{"latitude": 47.6, "longitude": -122.3}
)

func memberUpdate(chat int64, chatType, status string) map[string]any {
	return map[string]any{"my_chat_member": map[string]any{
		"chat": map[string]any{"id": chat, "type": chatType, "title": "A group"}, "from": user(77), "date": time.Now().Unix(),
		"old_chat_member": map[string]any{"status": "left", "user": user(123456)},
		"new_chat_member": map[string]any{"status": status, "user": user(123456)},
	}}
}

// TestEverythingElse sends every other kind of update a chat can produce.
// Each gets a short polite answer or is ignored by rule, and none stops
// the adapter.
func TestEverythingElse(t *testing.T) {
	const nonText = "only read text"
	const groupNotice = "only work in private chats"
	type tc struct {
		name string
		chat int64
		upds []map[string]any
		// want: a fragment of the one reply, or "" for no reply at all.
		want string
	}
	chat := int64(50000)
	next := func() int64 { chat++; return chat }
	var cases []tc
	add := func(name, want string, build func(c int64) []map[string]any) {
		c := next()
		cases = append(cases, tc{name: name, chat: c, upds: build(c), want: want})
	}
	one := func(f func(c int64) map[string]any) func(c int64) []map[string]any {
		return func(c int64) []map[string]any { return []map[string]any{f(c)} }
	}
	for kind, v := range map[string]any{
		"photo":      []any{map[string]any{"file_id": "p", "file_unique_id": "u", "width": 90, "height": 90}},
		"voice":      map[string]any{"file_id": "v", "file_unique_id": "u", "duration": 3},
		"video_note": map[string]any{"file_id": "v", "file_unique_id": "u", "length": 240, "duration": 3},
		"video":      map[string]any{"file_id": "v", "file_unique_id": "u", "width": 1, "height": 1, "duration": 3},
		"animation":  map[string]any{"file_id": "v", "file_unique_id": "u", "width": 1, "height": 1, "duration": 3},
		"audio":      map[string]any{"file_id": "a", "file_unique_id": "u", "duration": 3},
		"sticker":    map[string]any{"file_id": "s", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1, "is_animated": false, "is_video": false},
		"document":   file,
		"location":   location,
		"venue":      map[string]any{"location": location, "title": "Cafe", "address": "1 Main St"},
		"contact":    map[string]any{"phone_number": "+12065550100", "first_name": "Alex"},
		"poll":       map[string]any{"id": "p1", "question": "?", "options": []any{}, "total_voter_count": 0, "is_closed": false, "is_anonymous": true, "type": "regular", "allows_multiple_answers": false},
		"dice":       map[string]any{"emoji": "🎲", "value": 3},
	} {
		add(kind, nonText, one(func(c int64) map[string]any { return media(c, map[string]any{kind: v}) }))
	}
	add("photo with a crisis caption", "988", one(func(c int64) map[string]any {
		return media(c, map[string]any{"photo": []any{map[string]any{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}}, "caption": "i want to kill myself"})
	}))
	add("service message", "", one(func(c int64) map[string]any {
		return media(c, map[string]any{"pinned_message": map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": c, "type": "private"}}})
	}))
	add("message from a bot", "", one(func(c int64) map[string]any {
		u := textMsg(c, "hello")
		u["message"].(map[string]any)["from"] = map[string]any{"id": 99, "is_bot": true, "first_name": "OtherBot"}
		return u
	}))
	add("edited message", "", one(func(c int64) map[string]any {
		return map[string]any{"edited_message": textMsg(c, "i want to kill myself")["message"]}
	}))
	add("channel post", "", one(func(c int64) map[string]any {
		return map[string]any{"channel_post": message(c, "channel", map[string]any{"text": "news"})["message"]}
	}))
	add("edited channel post", "", one(func(c int64) map[string]any {
		return map[string]any{"edited_channel_post": message(c, "channel", map[string]any{"text": "news"})["message"]}
	}))
	add("channel message", "", one(func(c int64) map[string]any { return message(c, "channel", map[string]any{"text": "hi"}) }))
	add("inline query", "", one(func(c int64) map[string]any {
		return map[string]any{"inline_query": map[string]any{"id": "iq", "from": user(c), "query": "iop", "offset": ""}}
	}))
	add("chosen inline result", "", one(func(c int64) map[string]any {
		return map[string]any{"chosen_inline_result": map[string]any{"result_id": "r", "from": user(c), "query": "iop"}}
	}))
	add("poll answer", "", one(func(c int64) map[string]any {
		return map[string]any{"poll_answer": map[string]any{"poll_id": "p", "user": user(c), "option_ids": []int{0}}}
	}))
	add("reaction", "", one(func(c int64) map[string]any {
		return map[string]any{"message_reaction": map[string]any{"chat": map[string]any{"id": c, "type": "private"}, "message_id": 1, "date": 1, "old_reaction": []any{}, "new_reaction": []any{}}}
	}))
	add("join request", "", one(func(c int64) map[string]any {
		return map[string]any{"chat_join_request": map[string]any{"chat": map[string]any{"id": c, "type": "supergroup"}, "from": user(c), "user_chat_id": c, "date": 1}}
	}))
	add("business message", "", one(func(c int64) map[string]any {
		return map[string]any{"business_message": textMsg(c, "hello")["message"]}
	}))
	add("empty update", "", one(func(int64) map[string]any { return map[string]any{} }))
	add("button under an inline message", "", one(func(c int64) map[string]any {
		return map[string]any{"callback_query": map[string]any{"id": "cb-inline", "from": user(c), "inline_message_id": "im", "chat_instance": "ci", "data": "menu"}}
	}))
	add("button on an old, inaccessible message", "earlier question", one(func(c int64) map[string]any {
		return map[string]any{"callback_query": map[string]any{"id": "cb-old", "from": user(c), "chat_instance": "ci", "data": "consent.yes",
			"message": map[string]any{"chat": map[string]any{"id": c, "type": "private"}, "message_id": 5, "date": 0}}}
	}))
	add("button with unknown hashed data", "earlier question", one(func(c int64) map[string]any {
		return map[string]any{"callback_query": map[string]any{"id": "cb-hash", "from": user(c), "chat_instance": "ci", "data": "~AAAAAAAAAAAAAAAAAAAAAA",
			"message": map[string]any{"chat": map[string]any{"id": c, "type": "private"}, "message_id": 5, "date": 1, "text": "x"}}}
	}))
	add("game button without data", "", one(func(c int64) map[string]any {
		return map[string]any{"callback_query": map[string]any{"id": "cb-game", "from": user(c), "chat_instance": "ci", "game_short_name": "g",
			"message": map[string]any{"chat": map[string]any{"id": c, "type": "private"}, "message_id": 5, "date": 1, "text": "x"}}}
	}))
	add("blocked by a stranger", "", one(func(c int64) map[string]any { return memberUpdate(c, "private", "kicked") }))
	add("group messages", groupNotice, func(c int64) []map[string]any {
		return []map[string]any{
			message(-c, "group", map[string]any{"text": "hello bot"}),
			message(-c, "group", map[string]any{"text": "/start"}),
			message(-c, "group", map[string]any{"photo": []any{map[string]any{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}}}),
		}
	})
	add("supergroup message", groupNotice, one(func(c int64) map[string]any { return message(-c, "supergroup", map[string]any{"text": "hi"}) }))
	add("added to a group", groupNotice, func(c int64) []map[string]any {
		return []map[string]any{memberUpdate(-c, "group", "member"), message(-c, "group", map[string]any{"text": "hi"})}
	})

	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.chat
			if strings.Contains(tc.name, "group") {
				target = -tc.chat
			}
			var ids []int64
			for _, u := range tc.upds {
				ids = append(ids, api.push(u))
			}
			e.processed(t, ids...)
			got := api.texts(target)
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("want no reply, got %q", got)
			case tc.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want)):
				t.Errorf("want a reply with %q, got %q", tc.want, got)
			case tc.want == groupNotice && len(got) != 1:
				t.Errorf("a group got %d notices, want 1", len(got))
			}
		})
	}
	api.mu.Lock()
	answered := slices.Clone(api.answered)
	api.mu.Unlock()
	for _, id := range []string{"cb-inline", "cb-old", "cb-game", "cb-hash"} {
		if !slices.Contains(answered, id) {
			t.Errorf("callback %s not answered", id)
		}
	}
	if strings.Contains(e.logs.String(), "telegram.panic") {
		t.Error("a panic was logged")
	}
	// The adapter still works.
	e.say(t, 59999, "hello")
	if len(api.messages(59999)) == 0 {
		t.Error("no reply after the odd updates")
	}
}

// TestPanicInATurn: a turn that panics is logged by update id; the chat
// and the other chats go on.
func TestPanicInATurn(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	e.h.mu.Lock()
	e.h.before = func(in bot.Inbound) {
		if in.Text == "boom" {
			panic("test panic with private words")
		}
	}
	e.h.mu.Unlock()
	boom := api.push(textMsg(61, "boom"))
	other := api.push(textMsg(62, "hello"))
	again := api.push(textMsg(61, "hello"))
	e.processed(t, boom, other, again)
	if len(api.messages(61)) == 0 || len(api.messages(62)) == 0 {
		t.Errorf("messages: chat 61 %d, chat 62 %d", len(api.messages(61)), len(api.messages(62)))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"telegram.panic","update_id":`+strconv.FormatInt(boom, 10)) {
		t.Errorf("panic not logged with its update id:\n%s", logs)
	}
	if strings.Contains(logs, "private words") {
		t.Error("the panic value was logged")
	}
}

// TestRestart: the process stops mid-conversation and a new one starts on
// the same store; Telegram redelivers the last updates (their
// confirmation was lost). They are not answered again, and the
// conversation goes on where it was.
func TestRestart(t *testing.T) {
	api := newFakeAPI(t)
	store := bottest.NewMemStore()
	const chat = 9501
	e1 := newEnv(t, api, envOpts{store: store})
	u1 := textMsg(chat, "/start")
	id1 := api.push(u1)
	e1.processed(t, id1)
	u2 := api.callback(ptr(api.last(t, chat)), "flow:intake")
	id2 := api.push(u2)
	e1.processed(t, id2)
	u3 := api.callback(ptr(api.last(t, chat)), buttonFor(t, api.last(t, chat), "consent.yes"))
	id3 := api.push(u3)
	e1.processed(t, id3)
	e1.stop(t)
	sent := len(api.messages(chat))
	key := bot.Key{Channel: telegram.Channel, ChatID: strconv.Itoa(chat)}
	if st := store.Conversation(key).State; st.Step != "name" {
		t.Fatalf("before the restart the conversation waits at %q, want name", st.Step)
	}

	e2 := newEnv(t, api, envOpts{store: store})
	for i, u := range []map[string]any{u1, u2, u3} {
		api.redeliver([]int64{id1, id2, id3}[i], u)
	}
	e2.processed(t, id1, id2, id3)
	if n := len(api.messages(chat)); n != sent {
		t.Errorf("redelivered updates were answered: %d messages, had %d", n, sent)
	}
	e2.h.mu.Lock()
	seen := len(e2.h.order[strconv.Itoa(chat)])
	e2.h.mu.Unlock()
	if seen != 3 {
		t.Errorf("the new process saw %d of the 3 redelivered updates", seen)
	}
	e2.say(t, chat, "Jordan Lee")
	if st := store.Conversation(key).State; st.Step == "name" || st.Answers["name"].Value == "" {
		t.Errorf("after the restart the name was not taken: step %q", st.Step)
	}
	if n := len(api.messages(chat)); n == sent {
		t.Error("no reply after the restart")
	}
}

func ptr[T any](v T) *T { return &v }

// TestShutdownDrains: Shutdown stops receiving, lets the turn in flight
// and the queued one finish and send their replies, then returns.
func TestShutdownDrains(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	started, release := make(chan struct{}), make(chan struct{})
	e.h.mu.Lock()
	e.h.before = func(in bot.Inbound) {
		if in.Text == "slow" {
			close(started)
			<-release
		}
	}
	e.h.mu.Unlock()
	slow := api.push(textMsg(71, "slow"))
	<-started
	queued := api.push(textMsg(71, "hello"))
	api.waitFor(t, "the queued update fetched", func() bool {
		for _, p := range api.pending {
			if p.id == queued {
				return false
			}
		}
		return true
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.ad.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a turn in flight: %v", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.timesDone(slow) != 1 || e.timesDone(queued) != 1 {
		t.Fatal("Shutdown returned before the turns finished")
	}
	if got, want := api.texts(71), e.h.replyTexts("71"); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("replies after shutdown: %q, want %q", got, want)
	}
}

// TestWebhookAfterShutdown: a stopped adapter answers 503 so Telegram
// redelivers the update to a live process.
func TestWebhookAfterShutdown(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) {
		c.WebhookURL, c.WebhookSecret = "https://bot.example.org/hook", "secret"
	}})
	srv := httptest.NewServer(e.ad.WebhookHandler())
	defer srv.Close()
	e.stop(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(updateJSON(t, 1, textMsg(81, "hello")))))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", resp.StatusCode)
	}
}

// TestCallbackData: every button id of the shipped flows fits Telegram's
// 64 bytes as is; a longer id is sent as a short stable hash that decodes
// back, after a restart too.
func TestCallbackData(t *testing.T) {
	api := newFakeAPI(t)
	store := bottest.NewMemStore()
	e := newEnv(t, api, envOpts{store: store})
	for _, id := range telegram.ChoiceIDs(mustSpec(t)) {
		data := telegram.CallbackData(e.ad, id)
		if len(data) > 64 || telegram.ChoiceOf(e.ad, data) != id {
			t.Errorf("id %q -> data %q", id, data)
		}
		if len(id) <= 64 && data != id {
			t.Errorf("short id %q sent as %q", id, data)
		}
	}
	long := "assessment_step_with_a_long_name.instrument_item_forty_two-" + strings.Repeat("x", 40)
	longText := strings.Repeat("A long question that needs more than one message. ", 120)
	e.h.mu.Lock()
	e.h.extra = func(in bot.Inbound, out *bot.Output) {
		if in.Text == "long please" {
			out.Replies = append(out.Replies, bot.Reply{Text: longText, Kind: bot.KindStep,
				Choices: []bot.Choice{{ID: long, Label: "The long one"}, {ID: bot.ChoiceHuman, Label: "Talk to a person"}}})
		}
	}
	e.h.mu.Unlock()
	e.say(t, 9601, "long please")
	ms := api.messages(9601)
	m := ms[len(ms)-1]
	if len(m.Keyboard) == 0 || m.Keyboard[0][0].Text != "The long one" {
		t.Fatalf("last part keyboard %v", m.Keyboard)
	}
	if prev := ms[len(ms)-2]; len(prev.Keyboard) != 0 {
		t.Error("buttons on a part before the last")
	}
	data := m.Keyboard[0][0].Data
	if len(data) > 64 || data == long {
		t.Fatalf("callback data %q", data)
	}
	e.tap(t, m, data)
	if got := lastInbound(e, "9601").Choice; got != long {
		t.Errorf("choice = %q, want the long id", got)
	}
	e.stop(t)

	e2 := newEnv(t, api, envOpts{store: store, opts: []telegram.Option{telegram.WithChoiceIDs(long)}})
	e2.tap(t, m, data)
	if got := lastInbound(e2, "9601").Choice; got != long {
		t.Errorf("after a restart choice = %q, want the long id", got)
	}
}

func lastInbound(e *env, chat string) bot.Inbound {
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	ins := e.h.inbound[chat]
	return ins[len(ins)-1]
}

// TestConfig checks the configuration a deployment gives.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		enabled bool
		err     string
	}{
		{"unset", nil, false, ""},
		{"token", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc_DEF-1"}, true, ""},
		{"bad token", map[string]string{"TELEGRAM_BOT_TOKEN": "not a token"}, true, "TELEGRAM_BOT_TOKEN"},
		{"webhook without secret", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://x.org/hook"}, true, "TELEGRAM_WEBHOOK_SECRET"},
		{"webhook", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://x.org/hook", "TELEGRAM_WEBHOOK_SECRET": "s-1"}, true, ""},
		{"http webhook", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "http://x.org/hook", "TELEGRAM_WEBHOOK_SECRET": "s"}, true, "https"},
		{"bad secret", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://x.org/hook", "TELEGRAM_WEBHOOK_SECRET": "a b"}, true, "TELEGRAM_WEBHOOK_SECRET"},
		{"webhook without token", map[string]string{"TELEGRAM_WEBHOOK_URL": "https://x.org/hook"}, false, "TELEGRAM_BOT_TOKEN"},
		{"bad api url", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": "ftp://x"}, true, "TELEGRAM_API_URL"},
		{"workers", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WORKERS": "0"}, true, "TELEGRAM_WORKERS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, enabled, err := telegram.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if enabled != tc.enabled {
				t.Errorf("enabled = %v", enabled)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("err = %v, want one naming %s", err, tc.err)
			case err != nil && strings.Contains(err.Error(), tc.env["TELEGRAM_BOT_TOKEN"]) && tc.env["TELEGRAM_BOT_TOKEN"] != "":
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestTokenNeverInErrors: the library's URLs hold the token; no error or
// log line of ours shows it.
func TestTokenNeverInErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	_, err := telegram.New(telegram.Config{Token: testToken, APIURL: url}, bot.New(mustSpec(t), bottest.NewMemStore()))
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("New on a dead server: %v", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"ok":false,"error_code":401,"description":"Unauthorized: ` + r.URL.Path + `"}`))
	}))
	defer bad.Close()
	_, err = telegram.New(telegram.Config{Token: testToken, APIURL: bad.URL}, bot.New(mustSpec(t), bottest.NewMemStore()))
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "<token>") {
		t.Errorf("New with a refused token: %v", err)
	}
}

// gate is a Limiter that holds every paced message until opened.
type gate struct{ open chan struct{} }

func (g gate) Wait(ctx context.Context, _ int64) error {
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestCrisisReplyIsNotPaced: the crisis reply goes out even while the
// pacing holds every other message.
func TestCrisisReplyIsNotPaced(t *testing.T) {
	api := newFakeAPI(t)
	g := gate{open: make(chan struct{})}
	e := newEnv(t, api, envOpts{opts: []telegram.Option{telegram.WithLimiter(g)}})
	id := api.push(textMsg(91, "i want to kill myself"))
	api.waitFor(t, "the crisis reply", func() bool {
		for _, m := range api.msgs {
			if m.Chat == 91 && strings.Contains(m.Text, "988") {
				return true
			}
		}
		return false
	})
	close(g.open)
	e.processed(t, id)
	if got := e.h.replyTexts("91"); len(got) == 0 || !slices.Equal(api.texts(91), got) {
		t.Errorf("messages %q, replies %q", api.texts(91), got)
	}
}

func TestRateLimiter(t *testing.T) {
	l := telegram.NewRateLimiter(1, 2, 1000, 3)
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	for i := range 2 {
		if err := l.Wait(short(), 1); err != nil {
			t.Fatalf("message %d of a burst of 2: %v", i+1, err)
		}
	}
	if err := l.Wait(short(), 1); err == nil {
		t.Error("a third message in the same second went through")
	}
	if err := l.Wait(short(), 2); err != nil {
		t.Errorf("another chat waited: %v", err)
	}
	// The global bucket (burst 3) is now spent.
	if err := l.Wait(short(), 3); err != nil {
		t.Errorf("global refill too slow: %v", err)
	}
}

// TestLogsHideBodies: when Telegram's answer is not JSON (a cut-off
// getUpdates body holds people's messages), the logged error omits it.
func TestLogsHideBodies(t *testing.T) {
	api := newFakeAPI(t)
	var once sync.Once
	api.setFault(func(method string, _ url.Values) *apiError {
		var e *apiError
		if method == "getUpdates" {
			once.Do(func() {
				e = &apiError{Status: 200, Raw: `{"ok":true,"result":[{"update_id":1,"message":{"text":"my private diagnosis`}
			})
		}
		return e
	})
	e := newEnv(t, api, envOpts{})
	api.waitFor(t, "a second getUpdates", func() bool { return api.attempts["getUpdates"] >= 2 })
	e.say(t, 92, "hello")
	logs := e.logs.String()
	if !strings.Contains(logs, "telegram.library_error") || !strings.Contains(logs, "body omitted") {
		t.Errorf("the failed getUpdates was not logged as expected:\n%s", logs)
	}
	if strings.Contains(logs, "diagnosis") || strings.Contains(logs, testToken) {
		t.Errorf("logs show the body or the token:\n%s", logs)
	}
	if err := e.ad.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
	e.stop(t)
	if err := e.ad.Ready(); err == nil {
		t.Error("Ready after stop")
	}
}

// TestLanguage: the engine gets the primary language of the person's app.
func TestLanguage(t *testing.T) {
	api := newFakeAPI(t)
	e := newEnv(t, api, envOpts{})
	for i, tc := range []struct{ code, want string }{{"es-MX", "es"}, {"EN", "en"}, {"", ""}, {"pt_br", "pt"}} {
		chat := int64(9700 + i)
		u := textMsg(chat, "hello")
		u["message"].(map[string]any)["from"].(map[string]any)["language_code"] = tc.code
		e.processed(t, api.push(u))
		if got := lastInbound(e, strconv.FormatInt(chat, 10)).Lang; got != tc.want {
			t.Errorf("language_code %q -> %q, want %q", tc.code, got, tc.want)
		}
	}
}

// TestStoreOutage: when the turn cannot be saved, the person still hears
// the engine's calm error message, and the next message works.
func TestStoreOutage(t *testing.T) {
	api := newFakeAPI(t)
	store := bottest.NewMemStore()
	store.FailNextTurns = 1
	e := newEnv(t, api, envOpts{store: store})
	e.say(t, 9801, "hello")
	if got := api.texts(9801); len(got) != 1 || !strings.Contains(got[0], "went wrong") {
		t.Errorf("during the outage: %q", got)
	}
	if !strings.Contains(e.logs.String(), "telegram.turn_failed") {
		t.Error("the failed turn was not logged")
	}
	e.say(t, 9801, "hello")
	if got := api.texts(9801); len(got) < 2 {
		t.Errorf("after the outage: %q", got)
	}
}

// TestUnreadableUpdates: updates carrying values the library cannot decode
// (types Telegram added later) do not stop polling: the bad field is
// dropped and the rest is answered, or the update is ignored; the same in
// webhook mode.
func TestUnreadableUpdates(t *testing.T) {
	future := map[string]any{"type": "future_origin", "date": 1}
	forwarded := textMsg(9901, "what is IOP?")
	forwarded["message"].(map[string]any)["forward_origin"] = future
	member := memberUpdate(9902, "private", "future_status")

	t.Run("polling", func(t *testing.T) {
		api := newFakeAPI(t)
		e := newEnv(t, api, envOpts{})
		e.say(t, 9903, "/start")
		menu := api.last(t, 9903)
		tap := api.callback(&menu, "menu")
		tap["callback_query"].(map[string]any)["message"].(map[string]any)["forward_origin"] = future
		ids := []int64{api.push(forwarded), api.push(member), api.push(tap), api.push(textMsg(9904, "hello"))}
		e.processed(t, ids...)
		if len(api.messages(9901)) == 0 || len(api.messages(9904)) == 0 {
			t.Errorf("replies: chat 9901 %d, chat 9904 %d", len(api.messages(9901)), len(api.messages(9904)))
		}
		if got := lastInbound(e, "9903").Choice; got != "menu" {
			t.Errorf("the repaired button press gave choice %q", got)
		}
		if !strings.Contains(e.logs.String(), "telegram.update_repaired") {
			t.Error("repair not logged")
		}
	})
	t.Run("webhook", func(t *testing.T) {
		api := newFakeAPI(t)
		e := newEnv(t, api, envOpts{cfg: func(c *telegram.Config) {
			c.WebhookURL, c.WebhookSecret = "https://bot.example.org/hook", "secret"
		}})
		srv := httptest.NewServer(e.ad.WebhookHandler())
		defer srv.Close()
		for i, body := range [][]byte{updateJSON(t, 1, forwarded), updateJSON(t, 2, member), []byte(`[1,2]`), []byte(`{"message":{}}`)} {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "secret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusOK
			if i >= 2 {
				want = http.StatusBadRequest
			}
			if resp.StatusCode != want {
				t.Errorf("body %d: status %d, want %d", i, resp.StatusCode, want)
			}
		}
		e.processed(t, 1, 2)
		if len(api.messages(9901)) == 0 {
			t.Error("no reply to the repaired update")
		}
	})
}
