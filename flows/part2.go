package flows

import (
	"sort"
	"strings"
)

// Part2Element is one element a written consent must carry under 42 CFR
// 2.31(a) (confidentiality of substance use disorder patient records).
type Part2Element struct {
	// Key is how consent.part2_elements names the element.
	Key string
	// What says what the consent text must state, for the error message.
	What string
}

// Part2Elements are the elements of 42 CFR 2.31(a), in the order the
// regulation lists them. A Part 2 program's flows.yaml maps each key to the
// sentence (or phrase) of consent.text that carries it; validate checks that
// every element is mapped and that each mapped sentence is really in the
// text, so that an edit of the text cannot silently drop one.
var Part2Elements = []Part2Element{
	{"discloser", "who discloses: the name or general designation of the program or person permitted to make the disclosure"},
	{"recipients", "to whom: the name of the person(s) or organization, or class of persons, the information is disclosed to"},
	{"patient_name", "the name of the patient"},
	{"purpose", "why: the purpose of the disclosure"},
	{"information", "what: how much and what kind of information is disclosed, including an explicit description of the substance use disorder information"},
	{"signature", "the patient's signature (here, a typed full name)"},
	{"date", "the date on which the consent is signed"},
	{"revocation", "the right to revoke the consent at any time, except to the extent the program has already acted on it, and how to revoke"},
	{"expiration", "when the consent expires: a date, event or condition"},
}

// checkPart2 checks the consent of a program with program.part2: true:
// consent.part2_elements must map every 42 CFR 2.31(a) element to a
// sentence present in consent.text. Mapped sentences are checked against
// the text for any program, so a stale mapping is caught even before
// part2 is switched on.
func (v *validator) checkPart2() {
	c := v.spec.Consent
	known := map[string]bool{}
	for _, e := range Part2Elements {
		known[e.Key] = true
	}
	keys := make([]string, 0, len(c.Part2Elements))
	for k := range c.Part2Elements {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	text := normalizeSpace(c.Text)
	for _, k := range keys {
		path := "consent.part2_elements." + k
		if !known[k] {
			v.errf(path, "unknown Part 2 consent element %q (known: %s)", k, part2Keys())
			continue
		}
		want := normalizeSpace(c.Part2Elements[k])
		if want == "" {
			continue // reported below as missing
		}
		if !strings.Contains(text, want) {
			v.errf(path, "Part 2 consent element %s: %q is not in consent.text (it must be quoted from the text exactly)", k, strings.TrimSpace(c.Part2Elements[k]))
		}
	}
	if !v.spec.Program.Part2 {
		return
	}
	path := "consent.part2_elements"
	if c.Part2Elements == nil {
		path = "consent"
	}
	for _, e := range Part2Elements {
		if strings.TrimSpace(c.Part2Elements[e.Key]) == "" {
			v.errf(path, "program.part2 is true, so the consent must state %s (42 CFR 2.31(a)): add consent.part2_elements.%s quoting the sentence of consent.text that does", e.What, e.Key)
		}
	}
}

func part2Keys() string {
	keys := make([]string, len(Part2Elements))
	for i, e := range Part2Elements {
		keys[i] = e.Key
	}
	return strings.Join(keys, ", ")
}

// normalizeSpace lower-cases s and folds every run of white space into one
// space, so a sentence matches across the line breaks of a YAML block.
func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
