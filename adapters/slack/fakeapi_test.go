package slack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeSlack is a fake of the few Slack Web API methods the adapter uses,
// on loopback, plus a Socket Mode websocket. It keeps the channel's
// messages (so chat.update and conversations.history behave) and records
// every call for the tests to assert on.
type fakeSlack struct {
	t   testing.TB
	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	calls    []apiCall
	msgs     []*fakeMsg
	seq      int
	members  []string
	fail     func(method string) *fakeFailure
	changed  chan struct{}
	wsConns  []*websocket.Conn
	acks     []string
	wsOpened int
}

// apiCall is one recorded Web API call.
type apiCall struct {
	Method string
	Form   url.Values
}

// fakeMsg is a message in the fake workspace.
type fakeMsg struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   string // the blocks as JSON, as sent
	Meta     string // the metadata as JSON, as sent
	BotID    string
	User     string
	Edits    int
}

// fakeFailure is an injected failure of one call.
type fakeFailure struct {
	Status     int    // HTTP status (500, 429…); 0 for a 200 with ok:false
	RetryAfter int    // seconds, with 429
	Error      string // Slack's error code, with ok:false
	// AfterEffect makes the call take effect and still answer Status: the
	// answer is lost, the work is done.
	AfterEffect bool
}

const (
	botUserID = "UBOT"
	botID     = "BBOT"
)

func newFakeSlack(t testing.TB, now func() time.Time, members ...string) *fakeSlack {
	f := &fakeSlack{t: t, now: now, members: members, changed: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.api)
	mux.HandleFunc("/ws", f.websocket)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.wsConns {
			c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

// URL is the API base URL for SLACK_API_URL.
func (f *fakeSlack) URL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) setFail(fn func(method string) *fakeFailure) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeSlack) bump() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeSlack) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.Form
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		form = url.Values{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				form.Set(k, s)
			} else {
				b, _ := json.Marshal(v)
				form.Set(k, string(b))
			}
		}
	}
	token := form.Get("token")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.bump()
	if f.fail != nil {
		if fl := f.fail(method); fl != nil {
			f.calls = append(f.calls, apiCall{Method: method + "!failed", Form: form})
			if fl.AfterEffect {
				f.handle(httptest.NewRecorder(), method, form, token)
				http.Error(w, "<html>bad gateway</html>", fl.Status)
				return
			}
			if fl.Status != 0 {
				if fl.RetryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
				}
				http.Error(w, "<html>unavailable</html>", fl.Status)
				return
			}
			f.reply(w, map[string]any{"ok": false, "error": fl.Error})
			return
		}
	}
	f.calls = append(f.calls, apiCall{Method: method, Form: form})
	f.handle(w, method, form, token)
}

// handle answers one call (f.mu held).
func (f *fakeSlack) handle(w http.ResponseWriter, method string, form url.Values, token string) {
	wantToken := "xoxb-"
	if method == "apps.connections.open" {
		wantToken = "xapp-"
	}
	if !strings.HasPrefix(token, wantToken) {
		f.reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "auth.test":
		f.reply(w, map[string]any{"ok": true, "user_id": botUserID, "bot_id": botID, "team_id": "T1", "user": "intakebot", "team": "Sample"})
	case "chat.postMessage":
		f.seq++
		m := &fakeMsg{Channel: form.Get("channel"), TS: fmt.Sprintf("%d.%06d", f.now().Unix(), f.seq), ThreadTS: form.Get("thread_ts"),
			Text: form.Get("text"), Blocks: unescapeJSON(form.Get("blocks")), Meta: form.Get("metadata"), BotID: botID, User: botUserID}
		if m.ThreadTS != "" && f.find(m.Channel, m.ThreadTS) == nil {
			f.reply(w, map[string]any{"ok": false, "error": "thread_not_found"})
			return
		}
		f.msgs = append(f.msgs, m)
		f.reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}})
	case "chat.update":
		m := f.find(form.Get("channel"), form.Get("ts"))
		if m == nil {
			f.reply(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		m.Text, m.Blocks = form.Get("text"), unescapeJSON(form.Get("blocks"))
		m.Edits++
		f.reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
	case "chat.postEphemeral":
		f.seq++
		f.reply(w, map[string]any{"ok": true, "message_ts": fmt.Sprintf("%d.%06d", f.now().Unix(), f.seq)})
	case "conversations.members":
		f.reply(w, map[string]any{"ok": true, "members": f.members, "response_metadata": map[string]any{"next_cursor": ""}})
	case "reactions.add":
		f.reply(w, map[string]any{"ok": true})
	case "conversations.history":
		oldest, _ := strconv.ParseFloat(form.Get("oldest"), 64)
		var out []map[string]any
		for i := len(f.msgs) - 1; i >= 0; i-- {
			m := f.msgs[i]
			ts, _ := strconv.ParseFloat(m.TS, 64)
			if m.Channel != form.Get("channel") || (m.ThreadTS != "" && m.ThreadTS != m.TS) || ts < oldest {
				continue
			}
			out = append(out, m.wire())
		}
		f.reply(w, map[string]any{"ok": true, "messages": out, "has_more": false})
	case "conversations.replies":
		var out []map[string]any
		for _, m := range f.msgs {
			if m.Channel == form.Get("channel") && (m.TS == form.Get("ts") || m.ThreadTS == form.Get("ts")) {
				out = append(out, m.wire())
			}
		}
		f.reply(w, map[string]any{"ok": true, "messages": out, "has_more": false})
	case "apps.connections.open":
		f.wsOpened++
		f.reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"})
	default:
		f.reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (m *fakeMsg) wire() map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "user": m.User}
	if m.BotID != "" {
		out["bot_id"] = m.BotID
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Meta != "" {
		var meta any
		json.Unmarshal([]byte(m.Meta), &meta)
		out["metadata"] = meta
	}
	return out
}

// find returns the message at ts in channel (f.mu held).
func (f *fakeSlack) find(channel, ts string) *fakeMsg {
	for _, m := range f.msgs {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// addStaffMessage puts a message written by a person in the fake channel
// (the Events API event about it is sent separately).
func (f *fakeSlack) addStaffMessage(channel, threadTS, user, text string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	m := &fakeMsg{Channel: channel, TS: fmt.Sprintf("%d.%06d", f.now().Unix(), f.seq), ThreadTS: threadTS, Text: text, User: user}
	f.msgs = append(f.msgs, m)
	return m.TS
}

// Calls returns the successful calls of method ("" for all), in order.
func (f *fakeSlack) Calls(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of the messages of channel, top-level only when
// thread is "", or the replies of thread.
func (f *fakeSlack) Messages(channel, thread string) []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMsg
	for _, m := range f.msgs {
		if m.Channel != channel {
			continue
		}
		if thread == "" && m.ThreadTS == "" || thread != "" && m.ThreadTS == thread {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns a copy of the message at ts.
func (f *fakeSlack) Message(channel, ts string) (fakeMsg, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.find(channel, ts); m != nil {
		return *m, true
	}
	return fakeMsg{}, false
}

// waitFor polls cond until it holds, or fails the test after a deadline.
// It wakes on every API call rather than sleeping.
func (f *fakeSlack) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-f.changed:
		case <-tick.C:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// ---- Socket Mode ----

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (f *fakeSlack) websocket(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A1"}})
	c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
	f.mu.Lock()
	f.wsConns = append(f.wsConns, c)
	f.mu.Unlock()
	f.bump()
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		f.mu.Lock()
		f.acks = append(f.acks, ack.EnvelopeID)
		f.mu.Unlock()
		f.bump()
	}
}

// connected reports whether a Socket Mode client is connected.
func (f *fakeSlack) connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.wsConns) > 0
}

// sendEnvelope sends a Socket Mode envelope to the connected client.
func (f *fakeSlack) sendEnvelope(id, typ string, payload any, retry int) {
	f.t.Helper()
	f.mu.Lock()
	c := f.wsConns[len(f.wsConns)-1]
	f.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": false,
		"retry_attempt": retry, "retry_reason": ""}
	if err := c.WriteJSON(env); err != nil {
		f.t.Fatalf("send envelope: %v", err)
	}
}

// acked reports whether envelope id was acknowledged.
func (f *fakeSlack) acked(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.acks, id)
}

// unescapeJSON undoes encoding/json's HTML escapes, so tests read <@U1> as
// Slack shows it.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// dropSockets closes every Socket Mode connection from Slack's side.
func (f *fakeSlack) dropSockets() {
	f.mu.Lock()
	conns := f.wsConns
	f.wsConns = nil
	f.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// opened counts the apps.connections.open calls that succeeded.
func (f *fakeSlack) opened() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wsOpened
}
