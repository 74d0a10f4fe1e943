package flows_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"intakebot/flows"
)

// part2Consent is a consent section for a Part 2 program: each element of
// 42 CFR 2.31(a) is a sentence of the text, and part2_elements quotes it.
const part2Consent = `consent:
  version: "2026-11-01-part2"
  text: |
    Before I ask anything personal, please read this consent. Our program treats substance use, so federal law (42 CFR Part 2) protects your records and needs your written consent to share them.
    • Patient: you, named by the full name you type below.
    • Who shares it: {program.name}.
    • What is shared: your answers here, including anything about alcohol or drug use and your screening results.
    • With whom: the {program.name} intake team only.
    • Why: to call you back and plan your intake.
    • You can take back (revoke) this consent at any time by typing /delete or calling {program.phone}, except for anything already done because of it.
    • This consent ends 90 days from today, or when your intake call is done, whichever comes first.
    • Signature: typing your full name below is your signature.
    • Date: today's date is recorded with your signature.
    I'm an automated assistant: I can't give medical advice or a diagnosis. Do you agree?
  part2_elements:
    patient_name: "Patient: you, named by the full name you type below."
    discloser: "Who shares it: {program.name}."
    information: "What is shared: your answers here, including anything about alcohol or drug use and your screening results."
    recipients: "With whom: the {program.name} intake team only."
    purpose: "Why: to call you back and plan your intake."
    revocation: "You can take back (revoke) this consent at any time by typing /delete or calling {program.phone}, except for anything already done because of it."
    expiration: "This consent ends 90 days from today, or when your intake call is done, whichever comes first."
    signature: "Signature: typing your full name below is your signature."
    date: "Date: today's date is recorded with your signature."
  agree: "I agree"
  decline: "No thanks"
  granted: "Thank you. Let's start; it takes about 5 minutes. You can type /human at any time to reach a person."
  declined: "No problem: nothing about you has been saved. You can still ask me any question about IOP care, or call us at {program.phone} ({program.hours})."
`

var consentSection = regexp.MustCompile(`(?ms)^consent:\n.*?\n(?:[a-z_]+:)`)

// part2Variant returns the shipped flows.yaml with program.part2 set and
// the consent section replaced by consent (a whole "consent:" section).
func part2Variant(tb testing.TB, part2 bool, consent string) string {
	tb.Helper()
	base, err := os.ReadFile("../flows.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	s := string(base)
	if !strings.Contains(s, "  part2: false\n") {
		tb.Fatal("flows.yaml has no program.part2: false line to switch")
	}
	if part2 {
		s = strings.Replace(s, "  part2: false\n", "  part2: true\n", 1)
	}
	loc := consentSection.FindStringIndex(s)
	if loc == nil {
		tb.Fatal("flows.yaml has no consent section")
	}
	// Keep the next section's key, which the pattern consumed.
	end := loc[0] + strings.LastIndex(s[loc[0]:loc[1]], "\n") + 1
	return s[:loc[0]] + consent + "\n" + s[end:]
}

// writeVariant writes a variant to a temporary flows.yaml and loads it, as
// `intakebot validate` would.
func writeVariant(tb testing.TB, content string) (*flows.Spec, error) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "flows.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return flows.Load(path)
}

func lineOf(tb testing.TB, content, needle string) int {
	tb.Helper()
	i := strings.Index(content, needle)
	if i < 0 {
		tb.Fatalf("variant has no %q", needle)
	}
	return 1 + strings.Count(content[:i], "\n")
}

// TestPart2Consent checks that a Part 2 program's consent must carry every
// element of 42 CFR 2.31(a), and that validate names the line of what is
// missing or misquoted.
func TestPart2Consent(t *testing.T) {
	t.Run("the shipped file is not Part 2", func(t *testing.T) {
		if shipped(t).Program.Part2 {
			t.Skip("the shipped program is Part 2; the complete case below covers it")
		}
	})
	t.Run("complete", func(t *testing.T) {
		spec, err := writeVariant(t, part2Variant(t, true, part2Consent))
		if err != nil {
			t.Fatalf("a complete Part 2 consent is rejected:\n%v", err)
		}
		if !spec.Program.Part2 || len(spec.Consent.Part2Elements) != len(flows.Part2Elements) {
			t.Errorf("part2 %v, %d elements", spec.Program.Part2, len(spec.Consent.Part2Elements))
		}
	})
	t.Run("the same consent without part2 is fine", func(t *testing.T) {
		if _, err := writeVariant(t, part2Variant(t, false, part2Consent)); err != nil {
			t.Fatal(err)
		}
	})

	tests := []struct {
		name   string
		part2  bool
		edit   func(string) string
		line   string // the line the problem must be on: the first line containing this
		msgs   []string
		nProbs int
	}{
		{
			name:  "no elements at all",
			part2: true,
			edit: func(c string) string {
				i := strings.Index(c, "  part2_elements:")
				j := strings.Index(c, "  agree:")
				return c[:i] + c[j:]
			},
			line:   "consent:",
			msgs:   []string{"who discloses", "to whom", "the name of the patient", "purpose", "what:", "signature", "date", "revoke", "expires"},
			nProbs: len(flows.Part2Elements),
		},
		{
			name:   "revocation missing",
			part2:  true,
			edit:   func(c string) string { return deleteLine(c, "    revocation:") },
			line:   "  part2_elements:",
			msgs:   []string{"right to revoke", "part2_elements.revocation"},
			nProbs: 1,
		},
		{
			name:   "expiry blank",
			part2:  true,
			edit:   func(c string) string { return replaceLine(c, "    expiration:", `    expiration: ""`) },
			line:   "  part2_elements:",
			msgs:   []string{"when the consent expires"},
			nProbs: 1,
		},
		{
			name:  "signature sentence edited out of the text",
			part2: true,
			edit: func(c string) string {
				return strings.Replace(c, "    • Signature: typing your full name below is your signature.\n", "", 1)
			},
			line:   "    signature:",
			msgs:   []string{"signature", "is not in consent.text"},
			nProbs: 1,
		},
		{
			name:   "a stale quote is caught even before part2 is on",
			part2:  false,
			edit:   func(c string) string { return strings.Replace(c, "90 days from today, or", "90 days from today or", 1) },
			line:   "    expiration:",
			msgs:   []string{"expiration", "is not in consent.text"},
			nProbs: 1,
		},
		{
			name:   "unknown element",
			part2:  true,
			edit:   func(c string) string { return strings.Replace(c, "    date:", "    dated:", 1) },
			line:   "    dated:",
			msgs:   []string{`unknown Part 2 consent element "dated"`},
			nProbs: 2, // and date is missing
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := part2Variant(t, tc.part2, tc.edit(part2Consent))
			_, err := writeVariant(t, content)
			var verr *flows.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("validate accepted it (err %v)", err)
			}
			if len(verr.Problems) != tc.nProbs {
				t.Errorf("%d problems, want %d:\n%v", len(verr.Problems), tc.nProbs, err)
			}
			want := lineOf(t, content, "\n"+tc.line) + 1
			found := false
			for _, p := range verr.Problems {
				if p.Line == want {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem on line %d (%q):\n%v", want, tc.line, err)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("no problem mentions %q:\n%v", m, err)
				}
			}
		})
	}
}

func deleteLine(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func replaceLine(s, prefix, with string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = with
		}
	}
	return strings.Join(lines, "\n")
}
