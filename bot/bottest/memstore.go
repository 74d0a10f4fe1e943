// Package bottest holds test helpers for the engine: an in-memory Store and
// a runner for conversation transcripts, so engine tests need no database.
package bottest

import (
	"context"
	"fmt"
	"sync"

	"intakebot/bot"
)

// MemStore is an in-memory bot.Store that keeps everything a turn commits.
// It is safe for concurrent use; turns are serialized by one mutex.
type MemStore struct {
	mu            sync.Mutex
	convs         map[bot.Key]*bot.Conversation
	seen          map[string]bool
	Intakes       []bot.Intake
	Handoffs      []bot.Handoff
	Consents      []bot.Consent
	Outbox        []bot.Event
	Transcript    map[string][]bot.TranscriptEntry
	Deletions     int
	newID         func() string
	nextID        int
	FailNextTurns int
}

var (
	_ bot.Store      = (*MemStore)(nil)
	_ bot.StaffStore = (*MemStore)(nil)
)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		convs:      map[bot.Key]*bot.Conversation{},
		seen:       map[string]bool{},
		Transcript: map[string][]bot.TranscriptEntry{},
	}
}

// ErrUnavailable is returned by Turn while FailNextTurns is positive, to
// simulate an outage.
var ErrUnavailable = errUnavailable{}

type errUnavailable struct{}

func (errUnavailable) Error() string { return "memstore: unavailable" }

// Turn implements bot.Store.
func (m *MemStore) Turn(ctx context.Context, key bot.Key, updateID string, fn bot.TurnFunc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.FailNextTurns > 0 {
		m.FailNextTurns--
		return ErrUnavailable
	}
	if updateID != "" && m.seen[key.Channel+"/"+updateID] {
		return bot.ErrDuplicate
	}
	conv := m.convs[key]
	if conv == nil {
		m.nextID++
		conv = &bot.Conversation{ID: "conv-" + itoa(m.nextID), Key: key}
	}
	ch, err := fn(conv)
	if err != nil {
		return err
	}
	if updateID != "" {
		m.seen[key.Channel+"/"+updateID] = true
	}
	if ch.Delete {
		m.Deletions++
		delete(m.Transcript, conv.ID)
		m.Intakes = filter(m.Intakes, func(i bot.Intake) bool { return i.ConversationID != conv.ID })
		m.Consents = nil
	}
	if ch.Conversation != nil {
		c := *ch.Conversation
		c.Version++
		m.convs[key] = &c
	}
	if ch.Consent != nil {
		m.Consents = append(m.Consents, *ch.Consent)
	}
	if ch.Intake != nil {
		m.Intakes = append(m.Intakes, *ch.Intake)
	}
	m.Handoffs = append(m.Handoffs, ch.Handoffs...)
	for _, e := range ch.Events {
		if e.Deliver {
			m.Outbox = append(m.Outbox, e)
		}
	}
	if len(ch.Transcript) > 0 && ch.Conversation != nil {
		m.Transcript[ch.Conversation.ID] = append(m.Transcript[ch.Conversation.ID], ch.Transcript...)
	}
	return nil
}

// TurnByID implements bot.StaffStore.
func (m *MemStore) TurnByID(ctx context.Context, id string, fn bot.TurnFunc) error {
	m.mu.Lock()
	var key bot.Key
	found := false
	for k, c := range m.convs {
		if c.ID == id {
			key, found = k, true
		}
	}
	m.mu.Unlock()
	if !found {
		return fmt.Errorf("conversation %s: %w", id, bot.ErrNotFound)
	}
	return m.Turn(ctx, key, "", fn)
}

// Conversation returns a copy of the conversation for key, or nil.
func (m *MemStore) Conversation(key bot.Key) *bot.Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.convs[key]
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
