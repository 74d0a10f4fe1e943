// Package bot is the channel-agnostic engine of intakebot and its domain:
// conversations, intakes, handoffs and events, and the interfaces the engine
// needs from the outside (Store, Rephraser, Notifier). It imports flows for
// the content and nothing of the adapters or the store, so it can be tested
// with no network and no database.
package bot

import (
	"time"
)

// Inbound is one thing a participant sent, as an adapter saw it.
type Inbound struct {
	// Channel names the participant channel: "telegram", "web", "console".
	Channel string
	// ChatID identifies the chat within the channel.
	ChatID string
	// UpdateID is the channel's id for this update; a repeated id is a
	// no-op. Empty disables de-duplication.
	UpdateID string
	// Text is the typed text, if any. A text starting with "/" is a command.
	Text string
	// Choice is the id of the tapped button, if any.
	Choice string
	// NonText names content the bot cannot read ("photo", "voice"), if any.
	NonText string
	// Time is when the person sent it.
	Time time.Time
	// Lang is the person's language hint ("en", "es"), if known.
	Lang string
}

// Key identifies a conversation: one chat on one channel.
type Key struct {
	Channel string
	ChatID  string
}

// Choice is one button under a reply.
type Choice struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Reply is one message to the participant.
type Reply struct {
	Text    string
	Choices []Choice
	// Rephrasable is true only for text flows.yaml marks rephrasable; the
	// Rephraser never sees anything else.
	Rephrasable bool
	// Kind names what the reply is, for adapters and tests: "crisis",
	// "faq", "step", "system", "staff".
	Kind string
}

// Event types. Events are reported to the caller of Handle and, when they
// need delivery to staff or to a participant, written to the outbox in the
// same transaction as the turn.
const (
	EventCrisis       = "crisis"
	EventHandoff      = "handoff"
	EventIntakeSaved  = "intake_saved"
	EventConsent      = "consent"
	EventDeleted      = "deleted"
	EventRelay        = "relay"         // participant message to the staff thread (human mode)
	EventStaffMessage = "staff_message" // staff message to the participant
	EventUnreachable  = "unreachable"   // the participant's channel refuses messages
)

// Event is a side effect of a turn. Data never holds message text, except
// the relay of a participant's message to the staff who have their case and
// a staff message on its way to the participant.
type Event struct {
	ID             string         `json:"id"`
	Type           string         `json:"type"`
	ConversationID string         `json:"conversation_id"`
	Data           map[string]any `json:"data,omitempty"`
	At             time.Time      `json:"at"`
	// Deliver is true when the event goes to the outbox for a Notifier.
	Deliver bool `json:"-"`
}

// Answer is one stored answer to a step.
type Answer struct {
	// Value is the normalized value: a choice id, an E.164 phone number, an
	// ISO date, or the text.
	Value string `json:"v,omitempty"`
	// Values are the choice ids of a multi-choice answer.
	Values []string `json:"vs,omitempty"`
	// Display is how the answer reads in a summary.
	Display string `json:"d,omitempty"`
	// Other is the free text given with an "other" choice.
	Other string `json:"o,omitempty"`
	// Skipped marks an optional step the person skipped.
	Skipped bool `json:"s,omitempty"`
}

// Consent is a participant's consent decision.
type Consent struct {
	Version string    `json:"version"`
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	Scope   string    `json:"scope"`
}

// Score is the result of one assessment instrument.
type Score struct {
	Instrument string         `json:"instrument"`
	Total      int            `json:"total"`
	Band       string         `json:"band,omitempty"`
	Items      map[string]int `json:"items,omitempty"`
	// Screen is true when only the screening items were asked.
	Screen   bool   `json:"screen,omitempty"`
	Positive bool   `json:"positive,omitempty"`
	Triage   string `json:"triage,omitempty"`
	Done     bool   `json:"done,omitempty"`
}

// Suggestion is the suggested level of care with its readable trace.
type Suggestion struct {
	Level  string   `json:"level"`
	Label  string   `json:"label"`
	Rule   string   `json:"rule,omitempty"`
	Trace  []string `json:"trace"`
	Urgent bool     `json:"urgent,omitempty"`
}

// Conversation modes.
const (
	ModeBot    = ""       // the bot answers
	ModeCrisis = "crisis" // paused after a crisis reply until the person chooses
	ModeHuman  = "human"  // a staff member has the conversation; the bot stays quiet
)

// State is everything the engine remembers about a conversation. Answers
// and scores are health and contact information: the store encrypts State.
type State struct {
	Flow    string            `json:"flow,omitempty"`
	Step    string            `json:"step,omitempty"`
	Answers map[string]Answer `json:"answers,omitempty"`
	// Pending is a question the engine asked outside the flow and awaits:
	// "delete", "edit", "notice".
	Pending string `json:"pending,omitempty"`
	// ReturnTo is the step to come back to after editing one answer.
	ReturnTo string `json:"return_to,omitempty"`
	// Picked holds the choices of a multi-choice step not yet confirmed.
	Picked []string `json:"picked,omitempty"`
	// AwaitOther is true when the "other" choice was picked and its text is
	// awaited.
	AwaitOther bool `json:"await_other,omitempty"`
	// Misses counts invalid answers to the current step.
	Misses  int      `json:"misses,omitempty"`
	Offered []string `json:"offered,omitempty"`
	Mode    string   `json:"mode,omitempty"`
	// Consent is the latest consent decision, if any.
	Consent *Consent `json:"consent,omitempty"`
	// NoticeAccepted records the opt-in to an insecure channel's notice.
	NoticeAccepted bool `json:"notice_accepted,omitempty"`
	// Scores are assessment results by instrument; Item is the item being
	// asked; ItemAnswers the answers to the current instrument so far.
	Scores      map[string]Score `json:"scores,omitempty"`
	Item        string           `json:"item,omitempty"`
	ItemAnswers map[string]int   `json:"item_answers,omitempty"`
	Suggestion  *Suggestion      `json:"suggestion,omitempty"`
	// Welcomed is when the welcome (with the automated-assistant
	// disclosure) was last shown.
	Welcomed time.Time `json:"welcomed,omitempty"`
	// CrisisAlertAt is when the current urgent crisis alert was raised;
	// CrisisCount counts crisis messages within its window.
	CrisisAlertAt time.Time `json:"crisis_alert_at,omitempty"`
	CrisisCount   int       `json:"crisis_count,omitempty"`
	CrisisHandoff string    `json:"crisis_handoff,omitempty"`
	HumanAskedAt  time.Time `json:"human_asked_at,omitempty"`
	// IntakeID is the intake saved by this conversation, if any.
	IntakeID string `json:"intake_id,omitempty"`
	// Source is the campaign source from a /start deep link.
	Source string `json:"source,omitempty"`
	Lang   string `json:"lang,omitempty"`
	// Unreachable is set when the channel refuses messages to this chat.
	Unreachable bool `json:"unreachable,omitempty"`
}

// Conversation is one participant's chat with the bot.
type Conversation struct {
	ID      string
	Key     Key
	Version int64
	Created time.Time
	Updated time.Time
	State   State
}

// TranscriptEntry is one message of a conversation, kept only with consent.
type TranscriptEntry struct {
	Direction string // "in" or "out"
	Text      string
	At        time.Time
}

// Intake statuses.
const (
	IntakeNew       = "new"
	IntakeClaimed   = "claimed"
	IntakeContacted = "contacted"
	IntakeClosed    = "closed"
)

// Intake is a completed pre-intake, ready for staff.
type Intake struct {
	ID             string            `json:"id"`
	ConversationID string            `json:"conversation_id"`
	Channel        string            `json:"channel"`
	Status         string            `json:"status"`
	Urgency        string            `json:"urgency"`
	ConsentVersion string            `json:"consent_version"`
	Answers        map[string]Answer `json:"answers"`
	// Summary is the answers as labelled lines, in the flow's order.
	Summary    []SummaryLine    `json:"summary"`
	Scores     map[string]Score `json:"scores,omitempty"`
	Suggestion *Suggestion      `json:"suggestion,omitempty"`
	Source     string           `json:"source,omitempty"`
	Created    time.Time        `json:"created"`
}

// SummaryLine is one labelled answer of a summary.
type SummaryLine struct {
	Field string `json:"field"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// Handoff urgencies and reasons.
const (
	UrgencyRoutine = "routine"
	UrgencyUrgent  = "urgent"

	ReasonIntake = "intake"
	ReasonHuman  = "human"
	ReasonCrisis = "crisis"
)

// Handoff is a case for staff: an intake to call back, a request for a
// person, or a crisis alert.
type Handoff struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	IntakeID       string    `json:"intake_id,omitempty"`
	Reason         string    `json:"reason"`
	Urgency        string    `json:"urgency"`
	Status         string    `json:"status"`
	Created        time.Time `json:"created"`
}

// Changes is everything one turn writes; the store commits it in one
// transaction with the conversation's new state.
type Changes struct {
	// Conversation is the conversation's new state.
	Conversation *Conversation
	// Transcript holds the turn's messages, only when consent is granted.
	Transcript []TranscriptEntry
	// Consent is a consent decision made in this turn.
	Consent *Consent
	// Intake is an intake saved in this turn.
	Intake *Intake
	// Handoffs are cases opened in this turn.
	Handoffs []Handoff
	// Events are the turn's events; those with Deliver go to the outbox.
	Events []Event
	// Delete erases the participant's conversation, transcript, intakes and
	// consents before anything else is applied, leaving a tombstone.
	Delete bool
}
