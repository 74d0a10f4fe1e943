package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"intakebot/flows"
)

// Engine runs conversations: one call of Handle is one turn.
type Engine struct {
	spec      *flows.Spec
	store     Store
	rephraser Rephraser
	chooser   FAQChooser
	now       func() time.Time
	newID     func() string
	log       *slog.Logger
	maxInput  int
	longAfter time.Duration
	humanGap  time.Duration
	loc       *time.Location
	intents   []intentPhrases
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithIDs sets the id generator (tests).
func WithIDs(newID func() string) Option { return func(e *Engine) { e.newID = newID } }

// WithLogger sets the logger. Logs carry ids and event names only.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithRephraser turns on rephrasing of texts flows.yaml marks rephrasable.
func WithRephraser(r Rephraser) Option { return func(e *Engine) { e.rephraser = r } }

// WithFAQChooser lets a chooser pick among the matcher's candidates when the
// matcher is unsure.
func WithFAQChooser(c FAQChooser) Option { return func(e *Engine) { e.chooser = c } }

// WithMaxInput sets how many characters of a message are read (default
// 2000); the rest is cut with a polite note.
func WithMaxInput(n int) Option { return func(e *Engine) { e.maxInput = n } }

// New returns an engine for the validated spec, keeping state in store.
func New(spec *flows.Spec, store Store, opts ...Option) *Engine {
	e := &Engine{
		spec:      spec,
		store:     store,
		rephraser: NopRephraser{},
		now:       time.Now,
		newID:     func() string { return uuid.Must(uuid.NewV7()).String() },
		log:       slog.New(slog.DiscardHandler),
		maxInput:  2000,
		longAfter: 3 * time.Hour,
		humanGap:  30 * time.Minute,
		loc:       time.UTC,
	}
	if tz := spec.Program.Timezone; tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			e.loc = loc
		}
	}
	for _, o := range opts {
		o(e)
	}
	e.intents = compileIntents(spec.Intents)
	return e
}

// Spec returns the engine's flows.
func (e *Engine) Spec() *flows.Spec { return e.spec }

// Output is what a turn produced: the replies to send, in order, and the
// turn's events.
type Output struct {
	Replies []Reply
	Events  []Event
}

// Crisis reports whether the turn answered a crisis.
func (o Output) Crisis() bool {
	for _, r := range o.Replies {
		if r.Kind == KindCrisis {
			return true
		}
	}
	return false
}

// Reply kinds.
const (
	KindCrisis = "crisis"
	KindFAQ    = "faq"
	KindStep   = "step"
	KindSystem = "system"
	KindStaff  = "staff"
)

// Handle runs one turn for in: the safety screen first, then commands,
// button choices, and text (a question mid-flow is answered and the step
// asked again). Everything the turn changes is committed in one transaction
// before Handle returns.
//
// It returns ErrDuplicate, with no replies, when in.UpdateID was handled
// before. When the store fails, the returned Output still holds what the
// person must hear (the crisis reply for a crisis message, otherwise a calm
// error message) together with the error; nothing was saved.
func (e *Engine) Handle(ctx context.Context, in Inbound) (Output, error) {
	in, cut := e.clean(in)
	if in.Time.IsZero() {
		in.Time = e.now()
	}
	// The screen runs before the store is touched, so that an outage can
	// never delay or block the crisis reply.
	hit, isCrisis := e.screen(in)
	// A chooser may call a model: never while the conversation is locked,
	// and never for a crisis message.
	chosen := ""
	if !isCrisis {
		chosen = e.chooseFAQ(ctx, in)
	}
	var out Output
	err := e.store.Turn(ctx, Key{Channel: in.Channel, ChatID: in.ChatID}, in.UpdateID, func(conv *Conversation) (*Changes, error) {
		t := newTurn(e, conv, in)
		t.cut = cut
		t.chosenFAQ = chosen
		if isCrisis {
			t.hit = &hit
		}
		if err := t.run(); err != nil {
			return nil, err
		}
		out = t.output()
		return t.changes(), nil
	})
	switch {
	case errors.Is(err, ErrDuplicate):
		return Output{}, err
	case err != nil:
		if isCrisis {
			return Output{Replies: []Reply{e.crisisReply()}}, fmt.Errorf("turn %s: %w", in.Channel, err)
		}
		return Output{Replies: []Reply{{Text: e.spec.Messages.Error, Kind: KindSystem,
			Choices: []Choice{{ID: ChoiceHuman, Label: e.spec.Labels.Human}}}}}, fmt.Errorf("turn %s: %w", in.Channel, err)
	}
	for _, ev := range out.Events {
		e.log.LogAttrs(ctx, slog.LevelInfo, "event", slog.String("type", ev.Type), slog.String("conversation", ev.ConversationID), slog.String("event_id", ev.ID))
	}
	if !out.Crisis() {
		// In parallel, so that a turn with several rephrasable replies
		// waits at most one Rephraser timeout, not one per reply.
		var wg sync.WaitGroup
		for i := range out.Replies {
			if out.Replies[i].Rephrasable {
				req := RephraseRequest{Text: out.Replies[i].Text}
				if out.Replies[i].Kind == KindFAQ {
					// Only a question an FAQ answer answers, never an
					// answer to a step (a name, a phone number).
					req.Question = in.Text
				}
				wg.Go(func() { out.Replies[i].Text = e.rephraser.Rephrase(ctx, req) })
			}
		}
		wg.Wait()
	}
	return out, nil
}

// chooseFAQ asks the chooser, when there is one and the matcher is unsure
// about a typed question, which candidate the question is about.
func (e *Engine) chooseFAQ(ctx context.Context, in Inbound) string {
	if e.chooser == nil || in.Text == "" || strings.HasPrefix(in.Text, "/") {
		return ""
	}
	res := e.spec.Matcher().Match(in.Text)
	if res.Decision != flows.Suggest {
		return ""
	}
	var opts []FAQOption
	for i, c := range res.Candidates {
		if i == 3 {
			break
		}
		if f := e.spec.FAQEntry(c.ID); f != nil {
			opts = append(opts, FAQOption{ID: f.ID, Title: f.Title})
		}
	}
	id, ok := e.chooser.ChooseFAQ(ctx, in.Text, opts)
	if !ok {
		return ""
	}
	for _, o := range opts {
		if o.ID == id {
			return id
		}
	}
	return ""
}

func (e *Engine) screen(in Inbound) (flows.Hit, bool) {
	if strings.TrimSpace(in.Text) == "" {
		return flows.Hit{}, false
	}
	return e.spec.Screen().Check(in.Text)
}

// clean makes in safe to process: valid UTF-8, trimmed, and at most
// maxInput characters (cut reports a cut).
func (e *Engine) clean(in Inbound) (Inbound, bool) {
	t := in.Text
	if !utf8.ValidString(t) {
		t = strings.ToValidUTF8(t, "\uFFFD")
	}
	t = strings.TrimSpace(strings.ReplaceAll(t, "\x00", ""))
	cut := false
	if utf8.RuneCountInString(t) > e.maxInput {
		r := []rune(t)
		t = string(r[:e.maxInput])
		cut = true
	}
	in.Text = t
	in.Choice = strings.TrimSpace(in.Choice)
	if len(in.Choice) > 128 {
		in.Choice = in.Choice[:128]
	}
	return in, cut
}

func (e *Engine) crisisReply() Reply {
	s := e.spec.Safety
	return Reply{Text: s.Reply, Kind: KindCrisis, Choices: []Choice{
		{ID: ChoiceCrisisStaff, Label: s.Buttons.Staff},
		{ID: ChoiceCrisisSafe, Label: s.Buttons.Safe},
		{ID: ChoiceCrisisMore, Label: s.Buttons.Resources},
	}}
}

// MarkUnreachable records that the channel refuses messages to the chat
// (the person blocked the bot) and reports it to staff once. It returns an
// error wrapping ErrNotFound, and creates nothing, when no conversation
// exists for key.
func (e *Engine) MarkUnreachable(ctx context.Context, key Key, reason string) error {
	err := e.store.Turn(ctx, key, "", func(conv *Conversation) (*Changes, error) {
		if conv.Version == 0 {
			return nil, ErrNotFound
		}
		c := *conv
		c.State = cloneState(conv.State)
		ch := &Changes{Conversation: &c}
		if c.State.Unreachable {
			return ch, nil
		}
		c.State.Unreachable = true
		c.Updated = e.now()
		ch.Events = append(ch.Events, Event{ID: e.newID(), Type: EventUnreachable, ConversationID: c.ID,
			Data: map[string]any{"channel": key.Channel, "reason": reason}, At: c.Updated, Deliver: true})
		return ch, nil
	})
	if err != nil {
		return fmt.Errorf("mark unreachable: %w", err)
	}
	return nil
}
