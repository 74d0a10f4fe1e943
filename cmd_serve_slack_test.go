package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/store"
)

// miniSlack is the least of the Slack Web API serve's wiring needs:
// auth.test, and chat.postMessage recorded.
type miniSlack struct {
	mu    sync.Mutex
	posts []string // "channel: text"
	seq   int
}

func (f *miniSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, "/api/") {
	case "auth.test":
		io.WriteString(w, `{"ok":true,"user_id":"UBOT","bot_id":"BBOT","team_id":"T1"}`)
	case "chat.postMessage":
		f.mu.Lock()
		f.seq++
		f.posts = append(f.posts, r.Form.Get("channel")+": "+r.Form.Get("text"))
		ts := fmt.Sprintf("1700000000.%06d", f.seq)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.Form.Get("channel"), ts)
	default:
		io.WriteString(w, `{"ok":true}`)
	}
}

func (f *miniSlack) posted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.posts...)
}

// TestServeSlack starts serve with Telegram and Slack (HTTP mode) against
// fakes: a participant asking for a person becomes a case in the triage
// channel, Slack's signed URL verification is answered on
// /slack/events, an unsigned request is refused, and /readyz counts Slack.
func TestServeSlack(t *testing.T) {
	api := &miniBotAPI{wake: make(chan struct{}, 1)}
	tgSrv := httptest.NewServer(api)
	defer tgSrv.Close()
	sl := &miniSlack{}
	slSrv := httptest.NewServer(sl)
	defer slSrv.Close()
	const secret = "0123456789abcdef0123456789abcdef"
	env := map[string]string{
		"INTAKEBOT_DB":         filepath.Join(t.TempDir(), "serve.db"),
		"INTAKEBOT_DATA_KEY":   store.NewKey(),
		"INTAKEBOT_ADDR":       "127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN":   "123:serve-test",
		"TELEGRAM_API_URL":     tgSrv.URL,
		"SLACK_BOT_TOKEN":      "xoxb-serve-test",
		"SLACK_SIGNING_SECRET": secret,
		"SLACK_CHANNEL":        "C0TRIAGE",
		"SLACK_API_URL":        slSrv.URL + "/api", // the slash is added
		"INTAKEBOT_LOG_LEVEL":  "error",
	}
	base, stop := startServe(t, env)
	waitFor(t, "readiness", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	post := func(body string, signed bool) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/slack/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if signed {
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			mac := hmac.New(sha256.New, []byte(secret))
			fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
			req.Header.Set("X-Slack-Request-Timestamp", stamp)
			req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	challenge := `{"token":"x","challenge":"abc123","type":"url_verification"}`
	if code, body := post(challenge, true); code != 200 || body != "abc123" {
		t.Errorf("url verification = %d %q", code, body)
	}
	if code, _ := post(challenge, false); code != http.StatusUnauthorized {
		t.Errorf("unsigned = %d, want 401", code)
	}

	msg, _ := json.Marshal(map[string]any{"update_id": 1, "message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "/human",
		"chat": map[string]any{"id": 42, "type": "private"}, "from": map[string]any{"id": 42, "is_bot": false, "first_name": "P"},
	}})
	api.push(string(msg))
	waitFor(t, "a case in Slack", func() bool {
		for _, p := range sl.posted() {
			if strings.HasPrefix(p, "C0TRIAGE: ") && strings.Contains(p, "Asked for a person") {
				return true
			}
		}
		return false
	})
	stop()
}

// TestServeRejectsBadSlackConfig: a bad Slack setting stops serve at once
// with exit 2 and a message naming the variable.
func TestServeRejectsBadSlackConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		name string
	}{
		"channel name":      {map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-abcdef", "SLACK_APP_TOKEN": "xapp-1-abcdef", "SLACK_CHANNEL": "#intake"}, "SLACK_CHANNEL"},
		"no app token":      {map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-abcdef", "SLACK_CHANNEL": "C0TRIAGE"}, "SLACK_APP_TOKEN"},
		"channel, no token": {map[string]string{"SLACK_CHANNEL": "C0TRIAGE"}, "SLACK_BOT_TOKEN"},
	} {
		t.Run(name, func(t *testing.T) {
			env := tc.env
			env["INTAKEBOT_DATA_KEY"] = store.NewKey()
			env["INTAKEBOT_DB"] = filepath.Join(t.TempDir(), "x.db")
			env["INTAKEBOT_ADDR"] = "127.0.0.1:0"
			_, err := runArgs(t, env, "", "serve")
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want exit 2 naming %s", err, tc.name)
			}
		})
	}
}
