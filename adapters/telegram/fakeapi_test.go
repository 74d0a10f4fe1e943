package telegram_test

import (
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// testToken is the bot token of every test; the logs must never show it.
const testToken = "123456:TEST-token_Zq9"

// fakeAPI is a Telegram Bot API server on loopback speaking the real
// protocol: every request is a multipart/form-data POST to
// /bot<token>/<method>, reply_markup is a JSON string inside the form, and
// every answer is {"ok":true,"result":...} or Telegram's error shape. It
// keeps what a chat would show: messages with their keyboards, edits,
// answered callbacks, typing actions. Updates wait in a list that
// getUpdates long-polls, and leave it when a later offset confirms them.
type fakeAPI struct {
	tb  testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	changed    chan struct{}
	pending    []pendingUpdate
	nextUpdate int64
	nextMsg    int
	nextCB     int
	chatTypes  map[int64]string
	msgs       []*sentMsg
	edits      []edit
	answered   []string
	typing     []int64
	attempts   map[string]int // method -> requests, failed ones included
	webhook    url.Values
	deleted    int
	// keep stops offsets from confirming (dropping) updates, so that a
	// late request of a stopped client cannot drop redelivered ones.
	keep bool
	// fault, if set, may answer a request with an error instead.
	fault func(method string, form url.Values) *apiError
}

type pendingUpdate struct {
	id   int64
	body json.RawMessage
}

// sentMsg is a message the bot sent, as the chat shows it now.
type sentMsg struct {
	ID        int
	Chat      int64
	Text      string // as sent (escaped for a parse mode)
	ParseMode string
	Keyboard  [][]button
	Edited    bool
}

type button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

type edit struct {
	Method string
	Chat   int64
	MsgID  int
	Text   string
}

// apiError is an error answer: Telegram's JSON shape, or a raw body (an
// HTML page from a proxy) when Raw is set.
type apiError struct {
	Status     int
	Desc       string
	RetryAfter int
	Raw        string
}

func tooMany(after int) *apiError {
	return &apiError{Status: 429, Desc: fmt.Sprintf("Too Many Requests: retry after %d", after), RetryAfter: after}
}
func blocked() *apiError {
	return &apiError{Status: 403, Desc: "Forbidden: bot was blocked by the user"}
}
func badGateway() *apiError {
	return &apiError{Status: 502, Raw: "<html><body>502 Bad Gateway</body></html>"}
}
func serverError() *apiError {
	return &apiError{Status: 500, Desc: "Internal Server Error"}
}
func cantParse() *apiError {
	return &apiError{Status: 400, Desc: "Bad Request: can't parse entities: unexpected end tag at byte offset 12"}
}

func newFakeAPI(tb testing.TB) *fakeAPI {
	f := &fakeAPI{tb: tb, changed: make(chan struct{}), chatTypes: map[int64]string{}, attempts: map[string]int{}}
	f.srv = httptest.NewServer(f)
	tb.Cleanup(f.srv.Close)
	return f
}

// URL is the server's base URL, for Config.APIURL.
func (f *fakeAPI) URL() string { return f.srv.URL }

// broadcast wakes whoever waits for a change; call with f.mu held.
func (f *fakeAPI) broadcast() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor polls cond under the lock until it holds, waking on every change,
// and fails the test after a deadline.
func (f *fakeAPI) waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeAPI) setFault(fn func(method string, form url.Values) *apiError) {
	f.mu.Lock()
	f.fault = fn
	f.mu.Unlock()
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + testToken + "/"
	if r.Method != http.MethodPost {
		f.tb.Errorf("fake api: %s %s: want POST", r.Method, r.URL.Path)
		writeErr(w, &apiError{Status: 405, Desc: "Method Not Allowed"})
		return
	}
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeErr(w, &apiError{Status: 401, Desc: "Unauthorized"})
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		f.tb.Errorf("fake api: %s: content type %q, want multipart/form-data", method, r.Header.Get("Content-Type"))
	}
	form := url.Values{}
	if err := r.ParseMultipartForm(1 << 20); err == nil && r.MultipartForm != nil {
		form = url.Values(r.MultipartForm.Value)
	}
	f.mu.Lock()
	f.attempts[method]++
	fault := f.fault
	f.broadcast()
	f.mu.Unlock()
	if fault != nil {
		if e := fault(method, form); e != nil {
			writeErr(w, e)
			return
		}
	}
	switch method {
	case "getMe":
		writeOK(w, map[string]any{"id": 123456, "is_bot": true, "first_name": "Intake", "username": "intake_test_bot"})
	case "getUpdates":
		f.getUpdates(w, r, form)
	case "deleteWebhook":
		f.mu.Lock()
		f.deleted++
		f.broadcast()
		f.mu.Unlock()
		writeOK(w, true)
	case "setWebhook":
		f.mu.Lock()
		f.webhook = form
		f.broadcast()
		f.mu.Unlock()
		writeOK(w, true)
	case "sendMessage":
		f.sendMessage(w, form)
	case "editMessageText", "editMessageReplyMarkup":
		f.editMessage(w, method, form)
	case "answerCallbackQuery":
		f.mu.Lock()
		f.answered = append(f.answered, form.Get("callback_query_id"))
		f.broadcast()
		f.mu.Unlock()
		writeOK(w, true)
	case "sendChatAction":
		if form.Get("action") != "typing" {
			f.tb.Errorf("fake api: chat action %q", form.Get("action"))
		}
		f.mu.Lock()
		f.typing = append(f.typing, atoi64(form.Get("chat_id")))
		f.broadcast()
		f.mu.Unlock()
		writeOK(w, true)
	default:
		f.tb.Errorf("fake api: unexpected method %s", method)
		writeErr(w, &apiError{Status: 404, Desc: "Not Found: method not found"})
	}
}

func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, form url.Values) {
	if form.Get("timeout") == "" {
		// The form was cut off: the client gave up mid-request, and the
		// server would not notice it leave while this handler waits.
		writeErr(w, &apiError{Status: 400, Desc: "Bad Request: no timeout"})
		return
	}
	offset := atoi64(form.Get("offset"))
	if au := form.Get("allowed_updates"); au != "" {
		var list []string
		if err := json.Unmarshal([]byte(au), &list); err != nil {
			f.tb.Errorf("fake api: allowed_updates %q: %v", au, err)
		}
	}
	wait := time.NewTimer(time.Second)
	defer wait.Stop()
	// The offset confirms every update before it when the request
	// arrives, as on Telegram; a request that waits never confirms more.
	f.mu.Lock()
	if !f.keep {
		kept := f.pending[:0]
		for _, p := range f.pending {
			if p.id >= offset {
				kept = append(kept, p)
			}
		}
		f.pending = kept
	}
	f.mu.Unlock()
	for {
		f.mu.Lock()
		var batch []json.RawMessage
		for _, p := range f.pending {
			if p.id >= offset && len(batch) < 100 {
				batch = append(batch, p.body)
			}
		}
		if len(batch) > 0 {
			f.mu.Unlock()
			writeOK(w, batch)
			return
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-wait.C:
			writeOK(w, []any{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (f *fakeAPI) sendMessage(w http.ResponseWriter, form url.Values) {
	chat := atoi64(form.Get("chat_id"))
	text, pm := form.Get("text"), form.Get("parse_mode")
	if bad := checkText(text, pm); bad != "" {
		f.tb.Errorf("fake api: sendMessage: %s", bad)
		writeErr(w, &apiError{Status: 400, Desc: "Bad Request: " + bad})
		return
	}
	kb, bad := f.parseKeyboard(form.Get("reply_markup"))
	if bad != "" {
		f.tb.Errorf("fake api: sendMessage: %s", bad)
		writeErr(w, &apiError{Status: 400, Desc: "Bad Request: " + bad})
		return
	}
	if lp := form.Get("link_preview_options"); lp != "" && !strings.Contains(lp, `"is_disabled":true`) {
		f.tb.Errorf("fake api: link_preview_options %s", lp)
	}
	f.mu.Lock()
	f.nextMsg++
	m := &sentMsg{ID: f.nextMsg, Chat: chat, Text: text, ParseMode: pm, Keyboard: kb}
	f.msgs = append(f.msgs, m)
	res := f.messageJSON(m)
	f.broadcast()
	f.mu.Unlock()
	writeOK(w, res)
}

func (f *fakeAPI) editMessage(w http.ResponseWriter, method string, form url.Values) {
	chat, id := atoi64(form.Get("chat_id")), int(atoi64(form.Get("message_id")))
	kb, bad := f.parseKeyboard(form.Get("reply_markup"))
	if bad != "" {
		f.tb.Errorf("fake api: %s: %s", method, bad)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var m *sentMsg
	for _, x := range f.msgs {
		if x.ID == id && x.Chat == chat {
			m = x
		}
	}
	if m == nil {
		writeErr(w, &apiError{Status: 400, Desc: "Bad Request: message to edit not found"})
		return
	}
	if method == "editMessageText" {
		text := form.Get("text")
		if bad := checkText(text, form.Get("parse_mode")); bad != "" {
			f.tb.Errorf("fake api: %s: %s", method, bad)
		}
		m.Text, m.ParseMode = text, form.Get("parse_mode")
	}
	m.Keyboard, m.Edited = kb, true
	f.edits = append(f.edits, edit{Method: method, Chat: chat, MsgID: id, Text: form.Get("text")})
	f.broadcast()
	writeOK(w, f.messageJSON(m))
}

// checkText applies Telegram's rules on a message text.
func checkText(text, parseMode string) string {
	plain := text
	if parseMode == "HTML" {
		plain = html.UnescapeString(text)
	}
	switch {
	case strings.TrimSpace(plain) == "":
		return "message text is empty"
	case len(utf16.Encode([]rune(plain))) > 4096:
		return "message is too long"
	}
	return ""
}

// parseKeyboard reads reply_markup, a JSON string, checking every button:
// only text and callback_data, data of 1 to 64 bytes.
func (f *fakeAPI) parseKeyboard(s string) ([][]button, string) {
	if s == "" {
		return nil, ""
	}
	var raw struct {
		InlineKeyboard [][]map[string]any `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, "can't parse reply keyboard markup JSON object"
	}
	var kb [][]button
	for _, row := range raw.InlineKeyboard {
		var r []button
		for _, b := range row {
			for k := range b {
				if k != "text" && k != "callback_data" {
					return nil, "BUTTON_" + strings.ToUpper(k) + "_INVALID"
				}
			}
			text, _ := b["text"].(string)
			data, _ := b["callback_data"].(string)
			if text == "" || len(data) < 1 || len(data) > 64 {
				return nil, fmt.Sprintf("BUTTON_DATA_INVALID (%d bytes)", len(data))
			}
			r = append(r, button{Text: text, Data: data})
		}
		kb = append(kb, r)
	}
	return kb, ""
}

// messageJSON is a Message object as Telegram returns it; call with f.mu
// held.
func (f *fakeAPI) messageJSON(m *sentMsg) map[string]any {
	typ := f.chatTypes[m.Chat]
	if typ == "" {
		typ = "private"
	}
	text := m.Text
	if m.ParseMode == "HTML" {
		text = html.UnescapeString(text)
	}
	res := map[string]any{
		"message_id": m.ID, "date": time.Now().Unix(), "text": text,
		"chat": map[string]any{"id": m.Chat, "type": typ},
		"from": map[string]any{"id": 123456, "is_bot": true, "first_name": "Intake"},
	}
	if len(m.Keyboard) > 0 {
		res["reply_markup"] = map[string]any{"inline_keyboard": m.Keyboard}
	}
	return res
}

func writeOK(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func writeErr(w http.ResponseWriter, e *apiError) {
	if e.Raw != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte(e.Raw))
		return
	}
	body := map[string]any{"ok": false, "error_code": e.Status, "description": e.Desc}
	if e.RetryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": e.RetryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(body)
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// ---- updates, as a participant's app would cause them ----

// push queues an update for getUpdates and returns its update_id.
func (f *fakeAPI) push(upd map[string]any) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextUpdate++
	return f.pushLocked(f.nextUpdate, upd)
}

// redeliver queues an update again under an id it had before, as Telegram
// does when its confirmation was lost. From then on offsets no longer
// drop updates (a stopped client's late request must not confirm these).
func (f *fakeAPI) redeliver(id int64, upd map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keep = true
	f.pushLocked(id, upd)
}

func (f *fakeAPI) pushLocked(id int64, upd map[string]any) int64 {
	body := map[string]any{"update_id": id}
	for k, v := range upd {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		f.tb.Fatal(err)
	}
	f.pending = append(f.pending, pendingUpdate{id: id, body: b})
	f.broadcast()
	return id
}

// updateJSON is the JSON an update id would carry, for a webhook request.
func updateJSON(tb testing.TB, id int64, upd map[string]any) []byte {
	tb.Helper()
	body := map[string]any{"update_id": id}
	for k, v := range upd {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var msgSeq struct {
	sync.Mutex
	n int
}

func nextMsgID() int {
	msgSeq.Lock()
	defer msgSeq.Unlock()
	msgSeq.n++
	return 100000 + msgSeq.n
}

func user(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Pat", "language_code": "en"}
}

// message is a "message" update in a chat of the given type, with extra
// fields (text, photo, …).
func message(chat int64, chatType string, fields map[string]any) map[string]any {
	m := map[string]any{
		"message_id": nextMsgID(), "date": time.Now().Unix(),
		"chat": map[string]any{"id": chat, "type": chatType},
		"from": user(chat),
	}
	for k, v := range fields {
		m[k] = v
	}
	return map[string]any{"message": m}
}

func textMsg(chat int64, text string) map[string]any {
	return message(chat, "private", map[string]any{"text": text})
}

// callback is the update a tap on a button of m causes.
func (f *fakeAPI) callback(m *sentMsg, data string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextCB++
	return map[string]any{"callback_query": map[string]any{
		"id": fmt.Sprintf("cb-%d", f.nextCB), "from": user(m.Chat), "chat_instance": "ci-1",
		"data": data, "message": f.messageJSON(m),
	}}
}

// messages returns copies of the messages sent to chat, in order.
func (f *fakeAPI) messages(chat int64) []sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messagesLocked(chat)
}

func (f *fakeAPI) messagesLocked(chat int64) []sentMsg {
	var out []sentMsg
	for _, m := range f.msgs {
		if m.Chat == chat {
			out = append(out, *m)
		}
	}
	return out
}

// last returns the last message sent to chat.
func (f *fakeAPI) last(tb testing.TB, chat int64) sentMsg {
	tb.Helper()
	ms := f.messages(chat)
	if len(ms) == 0 {
		tb.Fatalf("no message in chat %d", chat)
	}
	return ms[len(ms)-1]
}

// find returns the live message with that id.
func (f *fakeAPI) find(id int) *sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (f *fakeAPI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[method]
}

func (f *fakeAPI) texts(chat int64) []string {
	var out []string
	for _, m := range f.messages(chat) {
		out = append(out, m.Text)
	}
	return out
}
