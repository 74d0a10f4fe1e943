package llm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"

	"intakebot/adapters/llm"
)

// fakeReply is what the fake endpoint answers to one request.
type fakeReply struct {
	// Content is the assistant message (with FinishReason, default stop).
	Content      string
	FinishReason openai.FinishReason
	// Status and Raw, when Status is set, answer with that status and body.
	Status int
	Raw    string
	// Block holds the answer until the channel is closed or the client
	// goes away.
	Block <-chan struct{}
}

// fakeServer is an OpenAI-compatible chat completions endpoint on loopback
// that records every request body.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	reply  func(req openai.ChatCompletionRequest) fakeReply
}

// newFake starts a fake endpoint answering with reply.
func newFake(t testing.TB, reply func(req openai.ChatCompletionRequest) fakeReply) *fakeServer {
	t.Helper()
	f := &fakeServer{reply: reply}
	f.Server = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer test-key" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	reply := f.reply
	f.mu.Unlock()
	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`)
		return
	}
	rep := reply(req)
	if rep.Block != nil {
		select {
		case <-rep.Block:
		case <-r.Context().Done():
			return
		}
	}
	if rep.Status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.Status)
		io.WriteString(w, rep.Raw)
		return
	}
	if rep.FinishReason == "" {
		rep.FinishReason = openai.FinishReasonStop
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(openai.ChatCompletionResponse{
		ID: "chatcmpl-test", Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		Choices: []openai.ChatCompletionChoice{{
			Index:        0,
			Message:      openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: rep.Content},
			FinishReason: rep.FinishReason,
		}},
		Usage: openai.Usage{PromptTokens: 10, CompletionTokens: 10, TotalTokens: 20},
	})
}

// setReply changes how the fake answers.
func (f *fakeServer) setReply(reply func(req openai.ChatCompletionRequest) fakeReply) {
	f.mu.Lock()
	f.reply = reply
	f.mu.Unlock()
}

// requests returns how many requests the fake received.
func (f *fakeServer) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

// allBodies returns every request body received so far.
func (f *fakeServer) allBodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

// config points an llm.Config at the fake.
func (f *fakeServer) config() llm.Config {
	return llm.Config{APIKey: "test-key", BaseURL: f.URL + "/v1", Model: "test-model",
		Style: llm.StyleWarm, Timeout: 5 * time.Second}
}

// maskedText is the text the model is asked to reword.
func maskedText(req openai.ChatCompletionRequest) string {
	u := req.Messages[len(req.Messages)-1].Content
	if i := strings.LastIndex(u, "Message to reword:\n"); i >= 0 {
		return u[i+len("Message to reword:\n"):]
	}
	return u
}

// faithful rewords like a well-behaved model: a friendly opening, every
// token kept.
func faithful(req openai.ChatCompletionRequest) fakeReply {
	return fakeReply{Content: "Happy to help. " + maskedText(req)}
}

// with returns a reply function that rewrites the masked text with fn.
func with(fn func(masked string) string) func(openai.ChatCompletionRequest) fakeReply {
	return func(req openai.ChatCompletionRequest) fakeReply { return fakeReply{Content: fn(maskedText(req))} }
}

// counter reads a counter of reg with one label.
func counter(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var tokenRe = regexp.MustCompile(`⟦\d+⟧`)
