package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"intakebot/adapters/console"
	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
)

func engine(t *testing.T) *bot.Engine {
	t.Helper()
	spec, err := flows.Load("../../flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return bot.New(spec, bottest.NewMemStore())
}

func TestReplayContract(t *testing.T) {
	input := strings.Join([]string{
		`{"command": "/start"}`,
		`{not json at all`,
		``,
		`{"choice": "flow:intake"}`,
		`{"choice": "consent.yes"}`,
		`{"text": "Jordan"}`,
		`{"unknown": 1}`,
	}, "\n")
	var out strings.Builder
	if err := console.Replay(context.Background(), engine(t), "local", strings.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	find := func(typ, frag string) map[string]any {
		for _, m := range lines {
			if m["type"] == typ && strings.Contains(strings.ToLower(m["text"].(string)+""), strings.ToLower(frag)) {
				return m
			}
		}
		return nil
	}
	if find("message", "automated assistant") == nil {
		t.Error("no welcome message")
	}
	// A line that is not JSON is text: the matcher or the fallback answers it.
	consent := false
	for _, m := range lines {
		if m["type"] == "consent" && m["granted"] == true {
			consent = true
		}
		if m["type"] == "message" {
			if _, ok := m["choices"].([]any); !ok {
				t.Errorf("message without a choices array: %v", m)
			}
		}
	}
	if !consent {
		t.Error("no consent event with granted=true")
	}
	if find("message", "How would you like us to reach you, Jordan?") == nil {
		t.Error("the text turn was not handled")
	}
}

func TestChatNumbersTapButtons(t *testing.T) {
	var out strings.Builder
	in := strings.NewReader("what is an iop?\n/menu\n1\n/quit\n")
	if err := console.Chat(context.Background(), engine(t), "local", in, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"automated assistant", "[1]", "intensive outpatient", "Bye"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
