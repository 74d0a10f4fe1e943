package flows_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"intakebot/flows"
)

// shippedText returns the shipped flows.yaml, which every case below breaks
// in one place.
func shippedText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestValidateNamesTheLine breaks the shipped file in one way at a time
// and checks that the problem is reported at the line an admin must fix.
func TestValidateNamesTheLine(t *testing.T) {
	tests := []struct {
		name string
		old  string // replaced once by new
		new  string
		// at is text on the line the problem must name; msg a fragment of
		// the message.
		at, msg string
	}{
		{"unknown field", "  short_name:", "  shortname:", "shortname:", `unknown field "shortname"`},
		{"unknown field in a step", "        validate: name\n", "        validate: name\n        colour: blue\n", "colour: blue", `unknown field "colour"`},
		{"duplicate FAQ id", "  - id: what_is_iop\n", "  - id: what_is_iop\n    title: dup\n    group: about\n    questions: [\"dup?\"]\n    answer: dup\n    followups: [menu]\n  - id: what_is_iop\n",
			"  - id: what_is_iop\n    title: \"What is IOP?\"", `duplicate FAQ id "what_is_iop"`},
		{"duplicate step id", "      - id: email\n", "      - id: phone\n", "      - id: phone\n        kind: ask\n        validate: email", `duplicate step id "phone"`},
		{"missing step", "        next: call_days", "        next: call_dayz", "next: call_dayz", `missing step "call_dayz"`},
		{"missing FAQ in a menu", `action: "faq:what_is_iop"`, `action: "faq:what_is_it"`, `faq:what_is_it`, `missing FAQ entry "what_is_it"`},
		{"missing flow", `action: "faq:what_is_iop"`, `action: "flow:signup"`, `flow:signup`, `missing flow "signup"`},
		{"unreachable step", "      - id: done\n        kind: end\n        text: \"\"\n", "      - id: done\n        kind: end\n        text: \"\"\n      - id: orphan\n        kind: say\n        text: \"never said\"\n        next: done\n",
			"id: orphan", `step "orphan" is unreachable`},
		{"no way out", "      - id: done\n        kind: end\n", "      - id: done\n        kind: say\n", "id: done", `step "done" has no way out`},
		{"a loop with no exit", "      - id: done\n        kind: end\n        text: \"\"\n", "      - id: done\n        kind: say\n        text: \"again\"\n        next: done\n",
			"id: done", `step "done" has no way out: every path from it loops`},
		{"missing crisis reply", "  reply: |\n", "  reply_old: |\n", "reply_old:", `unknown field "reply_old"`},
		{"undefined placeholder", `  email: "intake@example.org"`, `  email: ""`, "", "program.email is not defined"},
		{"unknown placeholder", "How would you like us to reach you, {answer.name}?", "Reach you at {program.fax}?", "{program.fax}", "{program.fax}"},
		{"unknown answer placeholder", "How would you like us to reach you, {answer.name}?", "Hi {answer.nickname}?", "{answer.nickname}", `missing field "nickname"`},
		{"unknown step kind", "        kind: summary\n", "        kind: recap\n", "kind: recap", `unknown step kind "recap"`},
		{"unknown validator", "        validate: zip\n", "        validate: postcode\n", "validate: postcode", `unknown validator "postcode"`},
		{"bad condition", "      - id: name\n", "      - id: name\n        if: \"answers.contact_method ==\"\n", `if: "answers.contact_method =="`, "condition"},
		{"reserved choice id", `{id: anytime, label: "Any time", exclusive: true}`, `{id: done, label: "Any time", exclusive: true}`, `{id: done, label: "Any time"`, "reserved"},
		{"YAML syntax", "  short_name: \"Sample Harbor\"", "  short_name: \"Sample Harbor", "", ""},
	}
	src := shippedText(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, tc.old) {
				t.Fatalf("the shipped file no longer contains %q: update the test", tc.old)
			}
			broken := strings.Replace(src, tc.old, tc.new, 1)
			_, err := flows.Parse("flows.yaml", []byte(broken))
			var verr *flows.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if tc.msg == "" {
				// Syntax: any located problem will do.
				if verr.Problems[0].Line == 0 {
					t.Fatalf("no line in %v", err)
				}
				return
			}
			want := fmt.Sprintf("%q", tc.msg)
			for _, p := range verr.Problems {
				if !strings.Contains(p.Msg, tc.msg) {
					continue
				}
				if tc.at != "" {
					line := 1 + strings.Count(broken[:strings.Index(broken, tc.at)], "\n")
					if p.Line != line {
						t.Fatalf("%q reported at line %d, want %d", p.Msg, p.Line, line)
					}
				} else if p.Line == 0 {
					t.Fatalf("%q has no line", p.Msg)
				}
				if !strings.HasPrefix(p.String(), fmt.Sprintf("flows.yaml:%d: ", p.Line)) {
					t.Fatalf("problem reads %q", p.String())
				}
				return
			}
			t.Fatalf("no problem mentions %s in:\n%v", want, err)
		})
	}
}

// TestMissingCrisisReply: the file must carry the crisis reply.
func TestMissingCrisisReply(t *testing.T) {
	src := shippedText(t)
	start := strings.Index(src, "  reply: |\n")
	end := strings.Index(src, "  # The crisis reply in other languages")
	if start < 0 || end < start {
		t.Fatal("cannot find safety.reply in the shipped file: update the test")
	}
	_, err := flows.Parse("flows.yaml", []byte(src[:start]+src[end:]))
	if err == nil || !strings.Contains(err.Error(), "crisis reply") {
		t.Fatalf("err = %v, want the missing crisis reply named", err)
	}
}

// TestEveryProblemAtOnce: an admin sees every problem in one pass, in line
// order.
func TestEveryProblemAtOnce(t *testing.T) {
	src := shippedText(t)
	broken := strings.Replace(src, "        next: call_days", "        next: call_dayz", 1)
	broken = strings.Replace(broken, "        validate: zip\n", "        validate: postcode\n", 1)
	_, err := flows.Parse("flows.yaml", []byte(broken))
	var verr *flows.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) < 2 {
		t.Fatalf("err = %v, want two problems", err)
	}
	for i := 1; i < len(verr.Problems); i++ {
		if verr.Problems[i].Line < verr.Problems[i-1].Line {
			t.Fatalf("problems out of line order: %v", err)
		}
	}
}

func TestShippedFileIsValid(t *testing.T) {
	spec, err := flows.Load("../flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Flow(flows.IntakeFlow) == nil || len(spec.FAQ) == 0 || spec.Matcher() == nil || spec.Screen() == nil {
		t.Fatal("the shipped spec lacks the intake flow, the FAQ, the matcher or the screen")
	}
}
