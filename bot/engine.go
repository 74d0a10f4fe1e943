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
	// KindSuggest offers FAQ topics as buttons when the matcher is unsure.
	KindSuggest = "suggest"
)

// Handle runs one turn for in: the safety screen first, then commands,
// button choices, and text (a question mid-flow is answered and the step
// asked again). Everything the turn changes is committed in one transaction
// before Handle returns.
//
// It returns ErrDuplicate, with no replies, when in.UpdateID was handled
// before. When the store fails, the returned Output still holds what the
// person must hear (the crisis reply for a crisis message, otherwise a calm
// error message) together with the error; nothing was saved. A crisis
// message never waits long for the store: when saving takes longer than a
// moment, Handle returns the crisis reply with an error wrapping
// ErrSaveDelayed while the turn (its urgent alert included) goes on saving.
func (e *Engine) Handle(ctx context.Context, in Inbound) (Output, error) {
	in.Text = sanitize(in.Text)
	if in.Time.IsZero() {
		in.Time = e.now()
	}
	// The screen reads the whole message, before it is cut to the input
	// limit, and before the store is touched, so that neither a long
	// message nor an outage can hide or delay the crisis reply.
	hit, isCrisis := e.screen(in.Text)
	in, cut := e.clip(in)
	if isCrisis {
		return e.crisisTurn(ctx, in, cut, hit)
	}
	out, err := e.turn(ctx, in, cut, nil)
	switch {
	case errors.Is(err, ErrDuplicate):
		return Output{}, err
	case err != nil:
		return Output{Replies: []Reply{{Text: e.spec.Messages.Error, Kind: KindSystem,
			Choices: []Choice{{ID: ChoiceHuman, Label: e.spec.Labels.Human}}}}}, fmt.Errorf("turn %s: %w", in.Channel, err)
	}
	// Calls to a model happen after the turn is saved and the conversation
	// unlocked, and never in a turn that answered a crisis.
	if !out.Crisis() {
		e.choose(ctx, in, &out)
		e.rephrase(ctx, in, &out)
	}
	return out, nil
}

// ErrSaveDelayed reports a crisis reply returned before its turn was saved:
// the store was slow, and the turn goes on saving in the background.
var ErrSaveDelayed = errors.New("crisis reply sent before the turn was saved")

// crisisWait is how long a crisis reply may wait for its turn to be saved;
// crisisSave bounds the save itself once the caller has its reply.
const (
	crisisWait = 750 * time.Millisecond
	crisisSave = time.Minute
)

// crisisTurn runs a crisis message's turn, but returns the scripted crisis
// reply after crisisWait at the latest, whatever the store does.
func (e *Engine) crisisTurn(ctx context.Context, in Inbound, cut bool, hit flows.Hit) (Output, error) {
	type result struct {
		out Output
		err error
	}
	done := make(chan result, 1)
	// The save must outlive a caller that stops waiting: it carries the
	// urgent alert for staff.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), crisisSave)
	go func() {
		defer cancel()
		out, err := e.turn(sctx, in, cut, &hit)
		done <- result{out, err}
	}()
	timer := time.NewTimer(crisisWait)
	defer timer.Stop()
	select {
	case r := <-done:
		switch {
		case errors.Is(r.err, ErrDuplicate):
			return Output{}, r.err
		case r.err != nil:
			return Output{Replies: []Reply{e.crisisReply(in.Lang)}}, fmt.Errorf("turn %s: %w", in.Channel, r.err)
		}
		return r.out, nil
	case <-timer.C:
		return Output{Replies: []Reply{e.crisisReply(in.Lang)}}, fmt.Errorf("turn %s: %w", in.Channel, ErrSaveDelayed)
	}
}

// turn runs one turn in the store and returns what it produced.
func (e *Engine) turn(ctx context.Context, in Inbound, cut bool, hit *flows.Hit) (Output, error) {
	var out Output
	err := e.store.Turn(ctx, Key{Channel: in.Channel, ChatID: in.ChatID}, in.UpdateID, func(conv *Conversation) (*Changes, error) {
		t := newTurn(e, conv, in)
		t.cut = cut
		t.hit = hit
		if err := t.run(); err != nil {
			return nil, err
		}
		out = t.output()
		return t.changes(), nil
	})
	if err != nil {
		return Output{}, err
	}
	for _, ev := range out.Events {
		e.log.LogAttrs(ctx, slog.LevelInfo, "event", slog.String("type", ev.Type), slog.String("conversation", ev.ConversationID), slog.String("event_id", ev.ID))
	}
	return out, nil
}

// rephrase rewords the replies flows.yaml marks rephrasable, in parallel,
// so that a turn with several waits at most one Rephraser timeout.
func (e *Engine) rephrase(ctx context.Context, in Inbound, out *Output) {
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

// choose asks the chooser, when there is one and the turn offered FAQ
// topics because the matcher was unsure, which of them the question is
// about, and answers it instead. The chooser only ever picks among the
// offered topics.
func (e *Engine) choose(ctx context.Context, in Inbound, out *Output) {
	if e.chooser == nil || in.Text == "" {
		return
	}
	for i := range out.Replies {
		r := &out.Replies[i]
		if r.Kind != KindSuggest {
			continue
		}
		var opts []FAQOption
		for _, c := range r.Choices {
			if id, ok := strings.CutPrefix(c.ID, "faq:"); ok {
				opts = append(opts, FAQOption{ID: id, Title: c.Label})
			}
		}
		id, ok := e.chooser.ChooseFAQ(ctx, in.Text, opts)
		if !ok {
			return
		}
		for _, o := range opts {
			if o.ID == id {
				*r = e.faqReply(e.spec.FAQEntry(id), "")
				if !hasChoice(r.Choices, ChoiceHuman) {
					r.Choices = append(r.Choices, Choice{ID: ChoiceHuman, Label: e.spec.Labels.Human})
				}
				return
			}
		}
		return
	}
}

// faqReply is an FAQ answer with its follow-ups as buttons; flow is the
// flow under way, if any, whose button becomes "continue".
func (e *Engine) faqReply(f *flows.FAQEntry, flow string) Reply {
	r := Reply{Text: strings.TrimSpace(f.Answer), Kind: KindFAQ, Rephrasable: f.Rephrasable}
	for _, a := range f.Followups {
		if c, ok := e.actionChoice(a, flow); ok {
			r.Choices = append(r.Choices, c)
		}
	}
	return r
}

// actionChoice renders a follow-up action as a button.
func (e *Engine) actionChoice(action, flow string) (Choice, bool) {
	kind, id, _ := strings.Cut(action, ":")
	switch kind {
	case "faq":
		if f := e.spec.FAQEntry(id); f != nil {
			return Choice{ID: action, Label: f.Title}, true
		}
	case "flow":
		if f := e.spec.Flow(id); f != nil {
			if flow == id {
				return Choice{ID: ChoiceResume, Label: e.spec.Labels.Resume}, true
			}
			return Choice{ID: action, Label: f.Title}, true
		}
	case "human":
		return Choice{ID: ChoiceHuman, Label: e.spec.Labels.Human}, true
	case "menu":
		return Choice{ID: ChoiceMenu, Label: e.spec.Labels.Menu}, true
	}
	return Choice{}, false
}

// maxScreen bounds how much of one message the crisis screen reads: far
// more than any channel delivers, so only a pathological input is cut.
const maxScreen = 64 << 10

func (e *Engine) screen(text string) (flows.Hit, bool) {
	if strings.TrimSpace(text) == "" {
		return flows.Hit{}, false
	}
	if len(text) > maxScreen {
		text = strings.ToValidUTF8(text[:maxScreen], "")
	}
	return e.spec.Screen().Check(text)
}

// sanitize makes text safe to process: valid UTF-8, no NUL bytes, trimmed.
func sanitize(t string) string {
	if !utf8.ValidString(t) {
		t = strings.ToValidUTF8(t, "\uFFFD")
	}
	return strings.TrimSpace(strings.ReplaceAll(t, "\x00", ""))
}

// clip cuts the text to at most maxInput characters (cut reports a cut)
// and bounds the button id.
func (e *Engine) clip(in Inbound) (Inbound, bool) {
	cut := false
	if utf8.RuneCountInString(in.Text) > e.maxInput {
		r := []rune(in.Text)
		in.Text = strings.TrimSpace(string(r[:e.maxInput]))
		cut = true
	}
	in.Choice = strings.TrimSpace(in.Choice)
	if len(in.Choice) > 128 {
		in.Choice = in.Choice[:128]
	}
	return in, cut
}

// crisisReply is the scripted crisis reply, in the person's language when
// flows.yaml has it.
func (e *Engine) crisisReply(lang string) Reply {
	s := e.spec.Safety
	text := s.Reply
	if r := s.Replies[lang]; strings.TrimSpace(r) != "" {
		text = r
	}
	return Reply{Text: text, Kind: KindCrisis, Choices: []Choice{
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
