package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/store"
)

// syncBuffer is a writer the test can read while serve writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// miniBotAPI is the least of the Telegram Bot API that serve's wiring
// needs: getUpdates hands out queued updates (long-polling briefly), and
// sendMessage records what the bot said.
type miniBotAPI struct {
	mu      sync.Mutex
	updates []string
	sent    []string
	next    int64
	wake    chan struct{}
}

func (f *miniBotAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		_ = r.ParseForm()
	}
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "getUpdates":
		select {
		case <-f.wake:
		case <-time.After(50 * time.Millisecond):
		case <-r.Context().Done():
		}
		f.mu.Lock()
		ups := "[" + strings.Join(f.updates, ",") + "]"
		f.updates = nil
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"result":%s}`, ups)
	case "sendMessage":
		f.mu.Lock()
		f.next++
		f.sent = append(f.sent, r.FormValue("text"))
		id := f.next
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"date":0,"chat":{"id":%s,"type":"private"}}}`, id, r.FormValue("chat_id"))
	case "getMe":
		io.WriteString(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"t","username":"t_bot"}}`)
	default:
		io.WriteString(w, `{"ok":true,"result":true}`)
	}
}

func (f *miniBotAPI) push(update string) {
	f.mu.Lock()
	f.updates = append(f.updates, update)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *miniBotAPI) said() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startServe runs serve with env until the test stops it: it returns the
// base URL serve listens on and stop, which ends serve as SIGTERM would and
// fails the test unless serve stops cleanly.
func startServe(t *testing.T, env map[string]string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), out, func(k string) string { return env[k] })
	}()
	addrRE := regexp.MustCompile(`serving on (http://\S+)`)
	waitFor(t, "serve to listen", func() bool { return addrRE.MatchString(out.String()) })
	return addrRE.FindStringSubmatch(out.String())[1], func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

// TestServe starts serve with Telegram against a fake Bot API: a message
// is answered, health, readiness and metrics answer, and a stop is clean.
func TestServe(t *testing.T) {
	api := &miniBotAPI{wake: make(chan struct{}, 1)}
	tgSrv := httptest.NewServer(api)
	defer tgSrv.Close()
	dir := t.TempDir()
	env := map[string]string{
		"INTAKEBOT_DB":        filepath.Join(dir, "serve.db"),
		"INTAKEBOT_DATA_KEY":  store.NewKey(),
		"INTAKEBOT_ADDR":      "127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN":  "123:serve-test",
		"TELEGRAM_API_URL":    tgSrv.URL,
		"INTAKEBOT_LOG_LEVEL": "error",
	}
	base, stop := startServe(t, env)

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	waitFor(t, "readiness", func() bool { code, _ := get("/readyz"); return code == 200 })

	msg, _ := json.Marshal(map[string]any{"update_id": 1, "message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "what is an iop?",
		"chat": map[string]any{"id": 42, "type": "private"}, "from": map[string]any{"id": 42, "is_bot": false, "first_name": "P"},
	}})
	api.push(string(msg))
	waitFor(t, "a reply on Telegram", func() bool {
		for _, s := range api.said() {
			if strings.Contains(s, "intensive outpatient") {
				return true
			}
		}
		return false
	})
	if _, body := get("/metrics"); !strings.Contains(body, `intakebot_turns_total{channel="telegram",result="ok"} 1`) {
		t.Errorf("/metrics lacks the turn:\n%s", grepLines(body, "intakebot_"))
	}
	stop()
}

func TestServeRefusesWithoutKey(t *testing.T) {
	env := map[string]string{"INTAKEBOT_DB": filepath.Join(t.TempDir(), "x.db"), "INTAKEBOT_ADDR": "127.0.0.1:0"}
	_, err := runArgs(t, env, "", "serve")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "INTAKEBOT_DATA_KEY") {
		t.Fatalf("err = %v, want a configuration error naming INTAKEBOT_DATA_KEY", err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	key := store.NewKey()
	for name, env := range map[string]map[string]string{
		"bad address":        {"INTAKEBOT_ADDR": "nowhere"},
		"bad telegram token": {"TELEGRAM_BOT_TOKEN": "not a token"},
		"webhook no secret":  {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_URL": "https://example.org/tg"},
		"bad llm timeout":    {"INTAKEBOT_LLM_TIMEOUT": "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			env["INTAKEBOT_DATA_KEY"] = key
			env["INTAKEBOT_DB"] = filepath.Join(t.TempDir(), "x.db")
			_, err := runArgs(t, env, "", "serve")
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("err = %v, want exit 2", err)
			}
		})
	}
}

func grepLines(s, frag string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, frag) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
