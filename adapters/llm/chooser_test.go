package llm_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"

	"intakebot/adapters/llm"
	"intakebot/bot"
)

var faqOptions = []bot.FAQOption{
	{ID: "cost", Title: "Cost and insurance"},
	{ID: "schedule", Title: "Schedule"},
	{ID: "duration", Title: "How long it lasts"},
}

func TestChooseFAQ(t *testing.T) {
	tests := []struct {
		name    string
		reply   fakeReply
		wantID  string
		wantOK  bool
		counted string
	}{
		{"an id from the list", fakeReply{Content: `{"id": "cost"}`}, "cost", true, llm.ChooseChosen},
		{"in a code fence", fakeReply{Content: "```json\n{\"id\": \"schedule\"}\n```"}, "schedule", true, llm.ChooseChosen},
		{"an invented id", fakeReply{Content: `{"id": "refunds"}`}, "", false, llm.ChooseInvalid},
		{"none fits", fakeReply{Content: `{"id": "none"}`}, "", false, llm.ChooseNone},
		{"an answer instead of an id", fakeReply{Content: "IOP usually costs less than inpatient care."}, "", false, llm.ChooseInvalid},
		{"no id field", fakeReply{Content: `{"topic": "cost"}`}, "", false, llm.ChooseInvalid},
		{"server error", fakeReply{Status: 503, Raw: `{"error":{"message":"down","type":"server_error"}}`}, "", false, llm.ChooseError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return tt.reply })
			reg := prometheus.NewRegistry()
			c, err := llm.NewChooser(f.config(), llm.WithRegisterer(reg))
			if err != nil {
				t.Fatal(err)
			}
			id, ok := c.ChooseFAQ(context.Background(), "how much will it cost me? my number is 206 555 0187", faqOptions)
			if id != tt.wantID || ok != tt.wantOK {
				t.Errorf("ChooseFAQ = %q, %t; want %q, %t", id, ok, tt.wantID, tt.wantOK)
			}
			if n := counter(t, reg, "intakebot_llm_choose_total", "result", tt.counted); n != 1 {
				t.Errorf("counter %s = %v, want 1", tt.counted, n)
			}
		})
	}
}

func TestChooseFAQRequest(t *testing.T) {
	f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Content: `{"id":"cost"}`} })
	c, err := llm.NewChooser(f.config())
	if err != nil {
		t.Fatal(err)
	}
	c.ChooseFAQ(context.Background(), "I'm Zephyrine, what does it cost? call 206-555-0187", faqOptions)
	bodies := f.allBodies()
	if len(bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(bodies))
	}
	var req struct {
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Strict bool `json:"strict"`
				Schema struct {
					Properties struct {
						ID struct {
							Enum []string `json:"enum"`
						} `json:"id"`
					} `json:"properties"`
				} `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &req); err != nil {
		t.Fatal(err)
	}
	if req.ResponseFormat.Type != "json_schema" || !req.ResponseFormat.JSONSchema.Strict {
		t.Errorf("response_format = %+v, want a strict json_schema", req.ResponseFormat)
	}
	if got, want := req.ResponseFormat.JSONSchema.Schema.Properties.ID.Enum, []string{"cost", "schedule", "duration", "none"}; !slices.Equal(got, want) {
		t.Errorf("enum = %q, want %q", got, want)
	}
	for _, leak := range []string{"Zephyrine", "555-0187", "0187"} {
		if strings.Contains(bodies[0], leak) {
			t.Errorf("request contains %q:\n%s", leak, bodies[0])
		}
	}
}

func TestChooseFAQNoOptions(t *testing.T) {
	f := newFake(t, func(openai.ChatCompletionRequest) fakeReply { return fakeReply{Content: `{"id":"cost"}`} })
	c, err := llm.NewChooser(f.config())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.ChooseFAQ(context.Background(), "what does it cost", nil); ok || f.requests() != 0 {
		t.Errorf("no options: ok %t, %d requests; want false and none", ok, f.requests())
	}
}
