package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"intakebot/flows"
)

// fakeLLM is an OpenAI-compatible endpoint that rewords like a faithful
// model ("Happy to help. " + the text, tokens kept), or fails with status.
func fakeLLM(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			ResponseFormat *struct {
				Type string `json:"type"`
			} `json:"response_format"`
		}
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/chat/completions" || json.Unmarshal(body, &req) != nil || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, `{"error":{"message":"unavailable","type":"server_error"}}`)
			return
		}
		content := "Happy to help. " + req.Messages[len(req.Messages)-1].Content
		if req.ResponseFormat != nil {
			// The FAQ chooser: pick the first topic.
			var in struct {
				Topics []struct{ ID string } `json:"topics"`
			}
			json.Unmarshal([]byte(req.Messages[len(req.Messages)-1].Content), &in)
			content = `{"id": "` + in.Topics[0].ID + `"}`
		}
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": content}}},
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// testFlowsPath is the shipped flows.yaml, or $INTAKEBOT_TEST_FLOWS.
func testFlowsPath() string {
	if p := os.Getenv("INTAKEBOT_TEST_FLOWS"); p != "" {
		return p
	}
	return "flows.yaml"
}

func TestEvalRephraseUsage(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no model", nil, nil, "INTAKEBOT_LLM_MODEL"},
		{"bad style", map[string]string{"INTAKEBOT_LLM_MODEL": "m", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "INTAKEBOT_LLM_STYLE": "poetic"}, nil, "INTAKEBOT_LLM_STYLE"},
		{"bad timeout", map[string]string{"INTAKEBOT_LLM_MODEL": "m", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "INTAKEBOT_LLM_TIMEOUT": "later"}, nil, "INTAKEBOT_LLM_TIMEOUT"},
		{"stray argument", map[string]string{"INTAKEBOT_LLM_MODEL": "m", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, []string{"extra"}, "unexpected argument"},
		{"unknown flag", nil, []string{"--model", "x"}, "eval-rephrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runArgs(t, tt.env, "", append([]string{"eval-rephrase"}, tt.args...)...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (exit %d), want a usage error naming %s", err, exitCode(err), tt.want)
			}
		})
	}
}

func TestEvalRephrase(t *testing.T) {
	path := testFlowsPath()
	spec, err := flows.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	texts := rephrasableTexts(spec)
	if len(texts) == 0 {
		t.Skip("flows.yaml marks no text rephrasable")
	}
	crisis := 0
	for _, tx := range texts {
		if regexp.MustCompile(`(^|\D)(988|741741|911)(\D|$)`).MatchString(tx.text) {
			crisis++
		}
	}
	srv, calls := fakeLLM(t, 0)
	env := map[string]string{"OPENAI_BASE_URL": srv.URL + "/v1", "INTAKEBOT_LLM_MODEL": "test-model", "INTAKEBOT_FLOWS": path}
	out, err := runArgs(t, env, "", "eval-rephrase", "-v")
	if strings.Contains(out, "chooser") {
		t.Errorf("chooser evaluated though INTAKEBOT_LLM_CHOOSE_FAQ is off:\n%s", out)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantPassed := len(texts) - crisis
	if !strings.Contains(out, fmt.Sprintf("passed    %3d", wantPassed)) {
		t.Errorf("want %d passed (%d texts, %d with crisis numbers):\n%s", wantPassed, len(texts), crisis, out)
	}
	if crisis > 0 && !strings.Contains(out, fmt.Sprintf("crisis_text      %3d", crisis)) {
		t.Errorf("want %d crisis_text fallbacks:\n%s", crisis, out)
	}
	if int(calls.Load()) > len(texts)-crisis {
		t.Errorf("%d calls for %d sendable texts", calls.Load(), len(texts)-crisis)
	}
	t.Logf("\n%s", out)
}

func TestEvalRephraseEndpointDown(t *testing.T) {
	path := testFlowsPath()
	spec, err := flows.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rephrasableTexts(spec)) == 0 {
		t.Skip("flows.yaml marks no text rephrasable")
	}
	srv, _ := fakeLLM(t, http.StatusServiceUnavailable)
	env := map[string]string{"OPENAI_BASE_URL": srv.URL + "/v1", "INTAKEBOT_LLM_MODEL": "test-model", "OPENAI_API_KEY": "k", "INTAKEBOT_FLOWS": path}
	out, err := runArgs(t, env, "", "eval-rephrase")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "failed every call") {
		t.Fatalf("err = %v, want a runtime error\n%s", err, out)
	}
	if !strings.Contains(out, "api_error") {
		t.Errorf("the report does not count api_error:\n%s", out)
	}
}

func TestEvalRephraseChooser(t *testing.T) {
	path := testFlowsPath()
	spec, err := flows.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.FAQ) < 2 {
		t.Skip("flows.yaml has fewer than two FAQ entries")
	}
	srv, _ := fakeLLM(t, 0)
	env := map[string]string{"OPENAI_BASE_URL": srv.URL + "/v1", "INTAKEBOT_LLM_MODEL": "test-model", "INTAKEBOT_LLM_CHOOSE_FAQ": "on", "INTAKEBOT_FLOWS": path}
	out, err := runArgs(t, env, "", "eval-rephrase")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The fake always picks the first option; the right one is first for
	// every third entry or so.
	m := regexp.MustCompile(`chooser +(\d+) of (\d+) example questions routed right, (\d+) wrong, (\d+) no choice`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no chooser line:\n%s", out)
	}
	var right, n, wrong, none int
	fmt.Sscan(m[1]+" "+m[2]+" "+m[3]+" "+m[4], &right, &n, &wrong, &none)
	if n == 0 || right == 0 || wrong == 0 || none != 0 || right+wrong+none != n {
		t.Errorf("chooser counts right %d wrong %d none %d of %d:\n%s", right, wrong, none, n, out)
	}
}
