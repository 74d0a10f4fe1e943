package llm

import "strings"

// PromptVersion names the system prompt and the checks. It is part of the
// cache key: change it whenever the prompt or a check changes, so no output
// produced or validated under the old one is reused.
const PromptVersion = "rephrase-v1"

// ChoosePromptVersion names the FAQ chooser's prompt.
const ChoosePromptVersion = "choose-v1"

// styleGuides describe each style to the model.
var styleGuides = map[Style]string{
	StyleWarm:  "Warm and kind, calm and reassuring, like a friendly receptionist; everyday words; speak to the reader as \"you\".",
	StylePlain: "Plain language: short sentences, common words, no jargon (explain a term in a few words if the message uses one), about a 6th-grade reading level.",
	StyleShort: "As short as possible: keep every fact and every marker, drop filler and repetition.",
}

// systemPrompt is the instruction for a style. It holds no participant
// data: only the rules and the style.
func systemPrompt(s Style) string {
	guide, ok := styleGuides[s]
	if !ok {
		guide = styleGuides[StyleWarm]
	}
	return strings.Join([]string{
		"You reword one message that an automated intake assistant of an adult mental-health intensive outpatient program (IOP) sends to a person who asked about the program.",
		"Rewrite the message in the style below. Its meaning must not change.",
		"Rules:",
		"- Keep every fact. Do not add facts, numbers, amounts, times, dates, phone numbers, links, names, advice, promises or questions.",
		"- Markers such as " + token(1) + " stand for protected words (names, numbers, phone numbers, links, hours). Copy every marker exactly as written, exactly once each. Never change, translate, split, remove or add a marker, and never replace a marker by words.",
		"- Write in the same language as the message.",
		"- The assistant is automated. Never say or suggest that it is a person, a therapist, a counselor, a doctor or any clinician. Never diagnose or give therapy.",
		"- Keep \"we\" for the program and \"you\" for the reader. Keep lists as lists and keep line breaks between list items.",
		"- If the message asks a question, ask the same question.",
		"- Answer with the reworded message only: no preface, no quotes, no notes, no greeting or sign-off that the message does not have.",
		"Style: " + guide,
	}, "\n")
}

// userPrompt is the message to reword, masked, and, only when the admin
// turned include_question on, the participant's redacted question.
func userPrompt(maskedText, redactedQuestion string) string {
	if redactedQuestion == "" {
		return maskedText
	}
	return "The person wrote (for tone only: do not answer it, do not quote it, do not add anything from it):\n" +
		redactedQuestion + "\n\nMessage to reword:\n" + maskedText
}

// chooseSystemPrompt instructs the FAQ chooser.
const chooseSystemPrompt = `You route a question a person asked an automated intake assistant of an adult mental-health intensive outpatient program (IOP) to one FAQ topic.
You get the question and a list of topics, each with an id and a title. Answer with JSON {"id": "<id>"} using exactly one id from the list, the topic the question is about.
If no topic clearly fits, answer {"id": "none"}. Never write an answer to the question and never invent an id.`
