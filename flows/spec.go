// Package flows turns flows.yaml, the content an admin edits, into a
// validated, typed Spec: the program profile, the safety screen, the consent
// text, the FAQ and the conversation flows. It is pure: apart from reading the
// file it does no I/O, so the engine and its tests can rely on a Spec that has
// already been checked for broken references, unreachable steps and missing
// crisis replies.
package flows

import (
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Spec is the whole validated content of a flows.yaml file.
type Spec struct {
	// Version is the schema version of the file; only 1 exists.
	Version int `yaml:"version"`
	// Program holds the program-specific facts every answer may quote.
	Program Program `yaml:"program"`
	// Channels declares per-channel properties such as whether a channel is
	// covered by a business associate agreement.
	Channels []Channel `yaml:"channels"`
	// Safety configures the crisis screen that runs first on every message.
	Safety Safety `yaml:"safety"`
	// Consent is the versioned consent text shown before anything
	// identifying is collected.
	Consent Consent `yaml:"consent"`
	// Messages are the engine's own scripted texts.
	Messages Messages `yaml:"messages"`
	// Labels are the labels of the engine's own buttons.
	Labels Labels `yaml:"labels"`
	// Intents are phrases that trigger built-in actions (talk to a person,
	// start the pre-intake, "are you a bot?") when typed instead of tapped.
	Intents []Intent `yaml:"intents"`
	// Menu lists the choices of the main menu.
	Menu []Choice `yaml:"menu"`
	// Matching tunes the FAQ matcher's thresholds.
	Matching Matching `yaml:"matching"`
	// FAQ is the question-and-answer content, written from the IOP guide.
	FAQ []FAQEntry `yaml:"faq"`
	// Instruments are the validated self-assessment questionnaires.
	Instruments []Instrument `yaml:"instruments"`
	// Levels are the levels of care a classify step can suggest.
	Levels []Level `yaml:"levels"`
	// Flows are the step-by-step conversations (the pre-intake).
	Flows []Flow `yaml:"flows"`

	// Path is the file the spec was read from, for messages.
	Path string `yaml:"-"`

	faqByID   map[string]*FAQEntry
	flowByID  map[string]*Flow
	instrByID map[string]*Instrument
	levelByID map[string]*Level
	matcher   *Matcher
	screen    *Screen
}

// Program is the program profile. Every program-specific fact the bot states
// (its name, phone, hours, sites, insurance wording) comes from here, never
// from Go code, and is available to texts as {program.<field>}.
type Program struct {
	Name          string   `yaml:"name"`
	ShortName     string   `yaml:"short_name"`
	Phone         string   `yaml:"phone"`
	Email         string   `yaml:"email"`
	Website       string   `yaml:"website"`
	Hours         string   `yaml:"hours"`
	Timezone      string   `yaml:"timezone"`
	Sites         []Site   `yaml:"sites"`
	VirtualStates []string `yaml:"virtual_states"`
	Insurance     string   `yaml:"insurance"`
	CostHelp      string   `yaml:"cost_help"`
	SecureChannel string   `yaml:"secure_channel"`
	// Part2 marks a program with substance-use treatment covered by 42 CFR
	// Part 2; its consent text must carry the elements of 2.31(a).
	Part2 bool `yaml:"part2"`
	// Tracks are the clinical tracks offered (anxiety, dual diagnosis, …).
	Tracks []string `yaml:"tracks"`
	// Retention says how long data is kept, in words, for the consent text.
	Retention string `yaml:"retention"`
}

// Site is one physical location of the program.
type Site struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Address string   `yaml:"address"`
	Formats []string `yaml:"formats"`
	Tracks  []string `yaml:"tracks"`
	Hours   string   `yaml:"hours"`
}

// Channel declares how a participant channel is treated.
type Channel struct {
	ID string `yaml:"id"`
	// Secure is true only when the channel is covered by a business
	// associate agreement; an insecure channel shows Notice and records an
	// opt-in before the first health question.
	Secure bool   `yaml:"secure"`
	Notice string `yaml:"notice"`
}

// Safety configures the crisis screen and the scripted crisis protocol.
type Safety struct {
	// Reply is the scripted crisis reply; never rephrased.
	Reply string `yaml:"reply"`
	// Replies holds the crisis reply in other languages, by locale ("es");
	// a person whose language has none gets Reply.
	Replies map[string]string `yaml:"replies"`
	// Resources holds extra resources per locale ("en", "es", …), shown by
	// the "more resources" button.
	Resources map[string]string `yaml:"resources"`
	// Paused is shown when a person writes something other than a crisis
	// message while the flow is paused after a crisis reply.
	Paused string `yaml:"paused"`
	// Safe is the reply to "I'm safe — continue".
	Safe string `yaml:"safe"`
	// Staff is the reply to "talk to staff now".
	Staff string `yaml:"staff"`
	// Buttons are the labels of the three crisis buttons.
	Buttons CrisisButtons `yaml:"buttons"`
	// AlertWindow groups repeated crisis messages of one conversation into
	// one urgent alert for staff ("30m").
	AlertWindow Duration `yaml:"alert_window"`
	// Categories are the crisis categories with their phrases and patterns.
	Categories []Category `yaml:"categories"`
	// Benign lists idioms that look like crisis language but are not
	// ("killing time", "dead tired"); they are removed before matching.
	// An entry is a phrase, or a regular expression written as /.../.
	Benign []string `yaml:"benign"`
	// Normalize tunes how the screen reads a message: slang, misspellings
	// and filler words, so that an admin can add one without Go.
	Normalize Normalization `yaml:"normalize"`
	// Lists name alternatives that many phrases share ("someone_close":
	// "my (friend|sister|…)"); a phrase uses one as <someone_close>, so a
	// new word is added in one place. The concept lexicons of the screen
	// (means of suicide, violence verbs, emergency signs, …) are lists too.
	Lists map[string]Alternatives `yaml:"lists"`
}

// Alternatives are the alternatives of a named list, written either on one
// line ("friend|sister|my (son|daughter)") or as a YAML sequence with one
// or more alternatives an entry, which reads better for a long concept
// lexicon and lets each entry carry its own comment.
type Alternatives []string

// UnmarshalYAML accepts a single string or a sequence of strings.
func (a *Alternatives) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*a = Alternatives{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("a list is one line of alternatives or a sequence of them: %w", err)
	}
	*a = many
	return nil
}

// String joins the alternatives as one "a|b|c" group body.
func (a Alternatives) String() string { return strings.Join(a, "|") }

// Normalization is how the crisis screen rewrites a message (and every
// phrase) before matching; see the flows package's safety.go.
type Normalization struct {
	// Spellings map one spelling to the slang, shorthand and misspellings
	// that mean it ("want to": [wanna], "suicide": [sucide, sewerslide]).
	Spellings map[string][]string `yaml:"spellings"`
	// Fillers are words dropped before matching ("just", "really"), so
	// that "I just really want to die" reads "I want to die".
	Fillers []string `yaml:"fillers"`
	// Typos are long words whose one-slip misspellings (a letter missing,
	// added, wrong, or two swapped) count as the word.
	Typos []string `yaml:"typos"`
}

// CrisisButtons are the labels of the buttons under the crisis reply.
type CrisisButtons struct {
	Staff     string `yaml:"staff"`
	Safe      string `yaml:"safe"`
	Resources string `yaml:"resources"`
}

// Category is one kind of crisis the screen recognizes.
type Category struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
	// Rules are phrases and regular expressions; each has an id that is
	// reported in the crisis event instead of the person's words.
	Rules []Rule `yaml:"rules"`
	Line  int    `yaml:"-"`
}

// Rule is one phrase or pattern of a crisis category.
type Rule struct {
	ID string `yaml:"id"`
	// Phrases match on word boundaries of the normalized text.
	Phrases []string `yaml:"phrases"`
	// Patterns are regular expressions over the normalized text.
	Patterns []string `yaml:"patterns"`
	// Together are combinations of concepts: "<means> + <intent> within 8
	// words" matches when every part (a phrase, usually a list) is found,
	// in any order, without overlapping, in one sentence (the default),
	// within N words, or within N consecutive sentences.
	Together []string `yaml:"together"`
}

// Consent is the versioned consent for the pre-intake.
type Consent struct {
	Version string `yaml:"version"`
	Text    string `yaml:"text"`
	// Declined is said when a person declines; the FAQ stays available.
	Declined string `yaml:"declined"`
	// Granted is said when a person agrees.
	Granted string `yaml:"granted"`
	Agree   string `yaml:"agree"`
	Decline string `yaml:"decline"`
	// Part2Elements names, for a Part 2 program, where each element of
	// 42 CFR 2.31(a) is covered in Text; validate checks every one is there.
	Part2Elements map[string]string `yaml:"part2_elements"`
}

// Messages are the engine's scripted texts. Each may use {program.*}
// placeholders.
type Messages struct {
	Welcome        string `yaml:"welcome"`
	WelcomeBack    string `yaml:"welcome_back"`
	Help           string `yaml:"help"`
	Menu           string `yaml:"menu"`
	Abstain        string `yaml:"abstain"`
	Unsure         string `yaml:"unsure"`
	Human          string `yaml:"human"`
	BotDisclosure  string `yaml:"bot_disclosure"`
	LongDisclosure string `yaml:"long_disclosure"`
	TooLong        string `yaml:"too_long"`
	Empty          string `yaml:"empty"`
	NonText        string `yaml:"non_text"`
	StaleChoice    string `yaml:"stale_choice"`
	OfferHuman     string `yaml:"offer_human"`
	Restarted      string `yaml:"restarted"`
	Stopped        string `yaml:"stopped"`
	DeleteConfirm  string `yaml:"delete_confirm"`
	Deleted        string `yaml:"deleted"`
	DeleteKept     string `yaml:"delete_kept"`
	UnknownCommand string `yaml:"unknown_command"`
	BackToStep     string `yaml:"back_to_step"`
	Greeting       string `yaml:"greeting"`
	Thanks         string `yaml:"thanks"`
	Error          string `yaml:"error"`
	HumanMode      string `yaml:"human_mode"`
	BackToBot      string `yaml:"back_to_bot"`
	StaffPrefix    string `yaml:"staff_prefix"`
	IntakeDone     string `yaml:"intake_done"`
	// GroupOnly is said once in a group chat: the bot works only in
	// private chats.
	GroupOnly string `yaml:"group_only"`
	// NoticeDeclined answers a decline of an insecure channel's notice with
	// the secure ways to reach the program.
	NoticeDeclined string `yaml:"notice_declined"`
	OtherPrompt    string `yaml:"other_prompt"`
	PickOne        string `yaml:"pick_one"`
	EditWhich      string `yaml:"edit_which"`
	Example        string `yaml:"example"`
	InvalidName    string `yaml:"invalid_name"`
	InvalidPhone   string `yaml:"invalid_phone"`
	InvalidEmail   string `yaml:"invalid_email"`
	InvalidZIP     string `yaml:"invalid_zip"`
	InvalidDate    string `yaml:"invalid_date"`
	InvalidPast    string `yaml:"invalid_past"`
	InvalidText    string `yaml:"invalid_text"`
	InvalidChoice  string `yaml:"invalid_choice"`
	InvalidItem    string `yaml:"invalid_item"`
}

// Labels are the labels of buttons the engine adds itself.
type Labels struct {
	Human   string `yaml:"human"`
	Menu    string `yaml:"menu"`
	Skip    string `yaml:"skip"`
	Done    string `yaml:"done"`
	Confirm string `yaml:"confirm"`
	Edit    string `yaml:"edit"`
	Yes     string `yaml:"yes"`
	No      string `yaml:"no"`
	Resume  string `yaml:"resume"`
	// NoticeAccept and NoticeDecline answer an insecure channel's notice.
	NoticeAccept  string `yaml:"notice_accept"`
	NoticeDecline string `yaml:"notice_decline"`
}

// Intent is a built-in action a person can trigger with their own words.
type Intent struct {
	// ID is one of the engine's intents: human, bot, intake, menu, help,
	// greeting, thanks, delete, stop, restart.
	ID      string   `yaml:"id"`
	Phrases []string `yaml:"phrases"`
	Line    int      `yaml:"-"`
}

// Matching holds the FAQ matcher's thresholds (scores are 0..1).
type Matching struct {
	// Answer is the score at or above which the best FAQ entry is answered.
	Answer float64 `yaml:"answer"`
	// Suggest is the score at or above which the best 2–3 entries are offered
	// as buttons; below it the matcher abstains.
	Suggest float64 `yaml:"suggest"`
	// Margin is how far ahead of the second the best entry must be to be
	// answered outright.
	Margin float64 `yaml:"margin"`
	// Synonyms map a word or phrase to the words it should count as.
	Synonyms map[string][]string `yaml:"synonyms"`
}

// FAQEntry is one question-and-answer topic.
type FAQEntry struct {
	ID string `yaml:"id"`
	// Title is the short label used on a button ("Formats").
	Title string `yaml:"title"`
	// Group names the topic group for the menu and tests ("about-iop").
	Group string `yaml:"group"`
	// Questions are example questions the matcher learns from.
	Questions []string `yaml:"questions"`
	// Keywords are words or phrases that point strongly to this entry.
	Keywords []string `yaml:"keywords"`
	// Answer is the scripted answer, short enough for a phone screen.
	Answer string `yaml:"answer"`
	// Followups are the actions offered as buttons with the answer:
	// "faq:<id>", "flow:<id>", "human" or "menu".
	Followups []string `yaml:"followups"`
	// Rephrasable allows the optional LLM rephraser to reword the answer.
	Rephrasable bool `yaml:"rephrasable"`
	Line        int  `yaml:"-"`
}

// Flow is one step-by-step conversation.
type Flow struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Start is the id of the first step; the first listed step if empty.
	Start string `yaml:"start"`
	Steps []Step `yaml:"steps"`
	Line  int    `yaml:"-"`

	stepByID map[string]*Step
}

// Step kinds.
const (
	KindSay      = "say"
	KindAsk      = "ask"
	KindChoose   = "choose"
	KindConsent  = "consent"
	KindAssess   = "assess"
	KindClassify = "classify"
	KindSummary  = "summary"
	KindHandoff  = "handoff"
	KindGoto     = "goto"
	KindEnd      = "end"
)

// Validators of ask steps.
const (
	ValidateName  = "name"
	ValidatePhone = "phone"
	ValidateEmail = "email"
	ValidateZIP   = "zip"
	ValidateDate  = "date"
	ValidateText  = "text"
)

// Step is one step of a flow.
type Step struct {
	ID   string `yaml:"id"`
	Kind string `yaml:"kind"`
	// Text is what the bot says or asks.
	Text string `yaml:"text"`
	// Field is the answer's name, for ask, choose and assess steps; later
	// conditions and the summary refer to it.
	Field string `yaml:"field"`
	// Label is how the field is named in the summary.
	Label string `yaml:"label"`
	// Validate is the validator of an ask step.
	Validate string `yaml:"validate"`
	// Example is shown when an answer is not valid.
	Example string `yaml:"example"`
	// Invalid overrides the message shown when an answer is not valid.
	Invalid string `yaml:"invalid"`
	// MaxLen bounds free-text answers (runes).
	MaxLen int `yaml:"max_len"`
	// Optional lets the person skip the step with the skip button.
	Optional bool `yaml:"optional"`
	// Choices are the buttons of a choose step.
	Choices []Choice `yaml:"choices"`
	// Multi lets the person pick several choices, ending with "done".
	Multi bool `yaml:"multi"`
	// Other is the id of a choice that asks for free text ("other").
	Other string `yaml:"other"`
	// If skips the step when the condition (an expr expression over
	// answers) is false.
	If string `yaml:"if"`
	// Next is the step that follows; the next listed step if empty.
	Next string `yaml:"next"`
	// Branches choose the next step by condition, first match wins.
	Branches []Branch `yaml:"branches"`
	// Goto is the target of a goto step: a step id, or "flow:<id>".
	Goto string `yaml:"goto"`
	// Instrument is the questionnaire of an assess step.
	Instrument string `yaml:"instrument"`
	// Rules are the classify step's rules, first match wins.
	Rules []ClassRule `yaml:"rules"`
	// Default is the classify step's level when no rule matches.
	Default string `yaml:"default"`
	// Fields are the fields a summary step shows and lets the person edit.
	Fields []string `yaml:"fields"`
	// Urgency of a handoff step: routine or urgent.
	Urgency string `yaml:"urgency"`
	// Rephrasable lets the LLM rephraser reword the step's text.
	Rephrasable bool `yaml:"rephrasable"`
	// Health marks a step whose answer is health information; on an
	// insecure channel the risk notice must have been accepted before it.
	Health bool `yaml:"health"`
	Line   int  `yaml:"-"`

	cond *vm.Program
}

// Choice is one button.
type Choice struct {
	ID    string `yaml:"id"`
	Label string `yaml:"label"`
	// Next overrides the step's next step when this choice is picked.
	Next string `yaml:"next"`
	// Action is what a menu choice does: "faq:<id>", "flow:<id>",
	// "human" or "menu".
	Action string `yaml:"action"`
	// Exclusive, in a multi choice, clears the others ("none of these").
	Exclusive bool `yaml:"exclusive"`
}

// Branch picks the next step when its condition holds.
type Branch struct {
	If   string `yaml:"if"`
	Next string `yaml:"next"`

	cond *vm.Program
}

// ClassRule maps a condition on answers and scores to a level of care.
type ClassRule struct {
	ID     string `yaml:"id"`
	If     string `yaml:"if"`
	Level  string `yaml:"level"`
	Reason string `yaml:"reason"`

	cond *vm.Program
}

// Duration is a time.Duration written as "30m" in YAML.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
