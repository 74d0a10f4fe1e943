package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// StaffStore is the part of the store that staff actions need: a turn on a
// conversation found by its id rather than by its chat.
type StaffStore interface {
	// TurnByID runs fn on the conversation with id, exactly like
	// Store.Turn (serialized with every other turn of it, committed in one
	// transaction), with no update id. It returns an error wrapping
	// ErrNotFound, without calling fn, when no such conversation exists
	// (never created, or deleted at the participant's request).
	TurnByID(ctx context.Context, conversationID string, fn TurnFunc) error
}

// Staff is the engine's side of what staff do from their tools: write to a
// participant, and hand the conversation back to the bot.
type Staff struct {
	e     *Engine
	store StaffStore
}

// NewStaff returns staff actions on the engine's conversations.
func NewStaff(e *Engine, store StaffStore) *Staff { return &Staff{e: e, store: store} }

// Message sends a staff member's message to the participant through the
// outbox, so an outage delays it and never drops it. The first message
// puts the conversation in human mode: from then on the bot relays the
// participant's messages to staff instead of answering them (the crisis
// screen still runs). It returns an error wrapping ErrNotFound when the
// conversation no longer exists.
func (s *Staff) Message(ctx context.Context, conversationID, staff, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	spec := s.e.spec
	err := s.store.TurnByID(ctx, conversationID, func(conv *Conversation) (*Changes, error) {
		c := *conv
		c.State = cloneState(conv.State)
		now := s.e.now()
		ch := &Changes{Conversation: &c}
		var texts []string
		if c.State.Mode != ModeHuman {
			c.State.Mode = ModeHuman
			c.State.Pending = ""
			texts = append(texts, spec.Messages.HumanMode)
		}
		texts = append(texts, spec.Messages.StaffPrefix+" "+text)
		for _, t := range texts {
			ch.Events = append(ch.Events, s.toParticipant(&c, t, staff, now))
			if consented(&c, spec.Consent.Version) {
				ch.Transcript = append(ch.Transcript, TranscriptEntry{Direction: "out", Text: t, At: now})
			}
		}
		c.Updated = now
		return ch, nil
	})
	if err != nil {
		return fmt.Errorf("staff message: %w", err)
	}
	return nil
}

// ReturnToBot ends human mode: the bot answers again, and tells the
// participant so. It is a no-op when the bot already has the conversation.
func (s *Staff) ReturnToBot(ctx context.Context, conversationID, staff string) error {
	spec := s.e.spec
	err := s.store.TurnByID(ctx, conversationID, func(conv *Conversation) (*Changes, error) {
		c := *conv
		c.State = cloneState(conv.State)
		ch := &Changes{Conversation: &c}
		if c.State.Mode != ModeHuman {
			return ch, nil
		}
		now := s.e.now()
		c.State.Mode = ModeBot
		c.Updated = now
		ch.Events = append(ch.Events, s.toParticipant(&c, spec.Messages.BackToBot, staff, now))
		return ch, nil
	})
	if err != nil {
		return fmt.Errorf("return to bot: %w", err)
	}
	return nil
}

// toParticipant is an outbox event carrying a message to the participant's
// channel.
func (s *Staff) toParticipant(c *Conversation, text, staff string, now time.Time) Event {
	return Event{ID: s.e.newID(), Type: EventStaffMessage, ConversationID: c.ID, At: now, Deliver: true,
		Data: map[string]any{"channel": c.Key.Channel, "chat_id": c.Key.ChatID, "text": text, "staff": staff}}
}

func consented(c *Conversation, version string) bool {
	return c.State.Consent != nil && c.State.Consent.Granted && c.State.Consent.Version == version
}
