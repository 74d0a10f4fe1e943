package llm_test

import (
	"strings"
	"testing"
	"time"

	"intakebot/adapters/llm"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    llm.Config
		wantErr string
	}{
		{"off by default", nil, llm.Config{Style: llm.StyleWarm, Timeout: 2500 * time.Millisecond}, ""},
		{"openai", map[string]string{"OPENAI_API_KEY": "sk-x", "INTAKEBOT_LLM_MODEL": "gpt-4o-mini"},
			llm.Config{APIKey: "sk-x", Model: "gpt-4o-mini", Style: llm.StyleWarm, Timeout: 2500 * time.Millisecond}, ""},
		{"local server, every setting", map[string]string{
			"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", "INTAKEBOT_LLM_MODEL": "qwen2.5-7b-instruct",
			"INTAKEBOT_LLM_STYLE": "Plain", "INTAKEBOT_LLM_TIMEOUT": "800ms",
			"INTAKEBOT_LLM_INCLUDE_QUESTION": "true", "INTAKEBOT_LLM_CHOOSE_FAQ": "on"},
			llm.Config{BaseURL: "http://127.0.0.1:8080/v1", Model: "qwen2.5-7b-instruct", Style: llm.StylePlain,
				Timeout: 800 * time.Millisecond, IncludeQuestion: true, ChooseFAQ: true}, ""},
		{"timeout in seconds", map[string]string{"INTAKEBOT_LLM_TIMEOUT": "1.5"},
			llm.Config{Style: llm.StyleWarm, Timeout: 1500 * time.Millisecond}, ""},
		{"bad style", map[string]string{"INTAKEBOT_LLM_STYLE": "fancy"}, llm.Config{}, "INTAKEBOT_LLM_STYLE"},
		{"bad timeout", map[string]string{"INTAKEBOT_LLM_TIMEOUT": "soon"}, llm.Config{}, "INTAKEBOT_LLM_TIMEOUT"},
		{"zero timeout", map[string]string{"INTAKEBOT_LLM_TIMEOUT": "0s"}, llm.Config{}, "INTAKEBOT_LLM_TIMEOUT"},
		{"huge timeout", map[string]string{"INTAKEBOT_LLM_TIMEOUT": "5m"}, llm.Config{}, "INTAKEBOT_LLM_TIMEOUT"},
		{"bad bool", map[string]string{"INTAKEBOT_LLM_INCLUDE_QUESTION": "maybe"}, llm.Config{}, "INTAKEBOT_LLM_INCLUDE_QUESTION"},
		{"bad url", map[string]string{"OPENAI_BASE_URL": "localhost:8080"}, llm.Config{}, "OPENAI_BASE_URL"},
		{"chooser without a model", map[string]string{"INTAKEBOT_LLM_CHOOSE_FAQ": "1"}, llm.Config{}, "INTAKEBOT_LLM_MODEL"},
		{"openai without a key", map[string]string{"INTAKEBOT_LLM_MODEL": "gpt-4o-mini"}, llm.Config{}, "OPENAI_API_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := llm.FromEnv(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigStringHidesKey(t *testing.T) {
	c := llm.Config{APIKey: "sk-secret", Model: "m", BaseURL: "https://user:pw@llm.example.org/v1", Style: llm.StyleWarm}
	if s := c.String(); strings.Contains(s, "sk-secret") || strings.Contains(s, "pw") {
		t.Errorf("String() = %q shows a secret", s)
	}
}
