package bot

import (
	"context"
	"errors"
)

// ErrDuplicate reports an update that was already processed.
var ErrDuplicate = errors.New("duplicate update")

// ErrNotFound reports a conversation, intake or handoff that does not exist.
var ErrNotFound = errors.New("not found")

// TurnFunc computes a turn's changes from the conversation's current state.
// It must not block on I/O: it runs while the conversation is locked.
type TurnFunc func(conv *Conversation) (*Changes, error)

// Store keeps conversations and everything a turn changes.
type Store interface {
	// Turn runs fn on the conversation identified by key and commits the
	// returned Changes, and the record that updateID was processed, in one
	// transaction. Turns of one conversation are serialized, in this
	// process and across processes sharing the database.
	//
	// The conversation passed to fn is a fresh one (Version 0, a new ID)
	// when none exists for key. If updateID is not empty and was already
	// processed, Turn returns ErrDuplicate without calling fn. If fn returns
	// an error, nothing is written and Turn returns that error. If the
	// conversation changed under it (another writer with the same key),
	// Turn retries fn on the new state.
	Turn(ctx context.Context, key Key, updateID string, fn TurnFunc) error
}

// RephraseRequest is one text offered to the Rephraser.
type RephraseRequest struct {
	// Text is the scripted text flows.yaml marks rephrasable.
	Text string
	// Question is the participant's message that led to Text. A Rephraser
	// must not send it anywhere unless configured to, and then only with
	// contact details and numbers redacted.
	Question string
}

// Rephraser rewords a scripted text more naturally without changing any
// fact. Rephrase returns the text to send: the rephrased text when it passed
// every guardrail, otherwise req.Text unchanged. It never returns an error:
// a failure, a timeout or a rejected output all give the scripted text, so a
// person always gets an answer. The engine never offers it a crisis reply,
// consent or privacy text, or anything of a turn that answered a crisis.
type Rephraser interface {
	Rephrase(ctx context.Context, req RephraseRequest) string
}

// NopRephraser returns every text unchanged: rephrasing is off.
type NopRephraser struct{}

// Rephrase returns the scripted text unchanged.
func (NopRephraser) Rephrase(_ context.Context, req RephraseRequest) string { return req.Text }

// FAQOption is one FAQ entry offered to an FAQChooser.
type FAQOption struct {
	ID    string
	Title string
}

// FAQChooser picks, when the FAQ matcher is unsure, which of its best
// candidates a question is about. It only ever chooses among the options
// given; it never writes an answer. ChooseFAQ returns ok false when it
// cannot choose (disabled, timeout, failure, or an id not among options),
// and the engine then offers the options as buttons.
type FAQChooser interface {
	ChooseFAQ(ctx context.Context, question string, options []FAQOption) (id string, ok bool)
}
