package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/bot/bottest"
	"intakebot/flows"
)

// The crisis protocol, end to end through the engine: a crisis message at
// every point of the pre-intake gets the scripted reply first and unchanged,
// an event that never carries the words, and one urgent alert per window;
// the flow pauses until the person chooses, and "I'm safe" returns to the
// very same question.

const crisisText = "honestly i just want to kill myself"

// crisisPoint is a place where the intake flow waits for the person, and
// the inputs that lead there from a fresh chat.
type crisisPoint struct {
	key    string
	step   string
	inputs []bot.Inbound
	// prompt is the question the step asked when the walk reached it.
	prompt string
}

// pointKey names where a conversation waits: the step, the questionnaire
// item, and any sub-state (free text for "other", an edit, a notice).
func pointKey(st bot.State) string {
	k := st.Step
	if st.Item != "" {
		k += "/" + st.Item
	}
	if st.AwaitOther {
		k += "+other"
	}
	if st.Pending != "" {
		k += "+" + st.Pending
	}
	return k
}

// walkIntake walks the intake flow from the menu to the end, answering
// every step by a policy (which choice to pick), and records each new
// point where the flow waited. Different policies take different branches.
func walkIntake(t *testing.T, spec *flows.Spec, policy int) []crisisPoint {
	t.Helper()
	h := bottest.NewHarness(t, spec)
	flow := spec.Flow(flows.IntakeFlow)
	inputs := []bot.Inbound{{Choice: "flow:" + flows.IntakeFlow}}
	out := h.Send(inputs[0])
	seen := map[string]bool{}
	edited := false
	var points []crisisPoint
	for range 400 {
		st := h.State()
		if st.Flow == "" {
			return points
		}
		var in bot.Inbound
		switch {
		case st.Mode == bot.ModeCrisis:
			// The questionnaire itself may start the protocol (C-SSRS).
			in = bot.Inbound{Choice: bot.ChoiceCrisisSafe}
		default:
			key := pointKey(st)
			if !seen[key] {
				seen[key] = true
				points = append(points, crisisPoint{key: key, step: st.Step, inputs: slices.Clone(inputs), prompt: lastText(out)})
			}
			in = answer(t, flow, st, out, policy, &edited)
		}
		out = h.Send(in)
		inputs = append(inputs, in)
	}
	t.Fatalf("policy %d: the walk did not reach the end of the intake flow", policy)
	return nil
}

// answer picks a valid input for the step the conversation waits at.
func answer(t *testing.T, flow *flows.Flow, st bot.State, out bot.Output, policy int, edited *bool) bot.Inbound {
	t.Helper()
	step := flow.Step(st.Step)
	if step == nil {
		t.Fatalf("waiting at unknown step %q", st.Step)
	}
	switch {
	case st.AwaitOther:
		return bot.Inbound{Text: "panic attacks at work"}
	case st.Pending == "edit":
		for _, c := range lastChoices(out) {
			if strings.HasPrefix(c.ID, "edit.") {
				return bot.Inbound{Choice: c.ID}
			}
		}
		t.Fatalf("edit offered no field: %+v", out.Replies)
	case st.Pending == "notice":
		return bot.Inbound{Choice: bot.ChoiceNoticeYes}
	}
	switch step.Kind {
	case flows.KindConsent:
		return bot.Inbound{Choice: step.ID + ".yes"}
	case flows.KindSummary:
		if policy == 1 && !*edited {
			*edited = true
			return bot.Inbound{Choice: step.ID + ".edit"}
		}
		return bot.Inbound{Choice: step.ID + ".confirm"}
	case flows.KindAssess:
		var opts []bot.Choice
		for _, c := range lastChoices(out) {
			if strings.HasPrefix(c.ID, step.ID+".") {
				opts = append(opts, c)
			}
		}
		if len(opts) == 0 {
			t.Fatalf("assess step %s offered no options: %+v", step.ID, out.Replies)
		}
		return bot.Inbound{Choice: opts[policy%len(opts)].ID}
	case flows.KindChoose:
		if step.Multi && len(st.Picked) > 0 {
			return bot.Inbound{Choice: step.ID + ".done"}
		}
		c := step.Choices[policy%len(step.Choices)]
		return bot.Inbound{Choice: step.ID + "." + c.ID}
	case flows.KindAsk:
		if len(step.Choices) > 0 && policy%2 == 1 {
			return bot.Inbound{Choice: step.ID + "." + step.Choices[policy%len(step.Choices)].ID}
		}
		if step.Optional && policy%3 == 2 {
			return bot.Inbound{Choice: step.ID + ".skip"}
		}
		return bot.Inbound{Text: validAnswer(step.Validate)}
	}
	t.Fatalf("the flow waits at step %s of kind %s", step.ID, step.Kind)
	return bot.Inbound{}
}

func validAnswer(validator string) string {
	switch validator {
	case flows.ValidateName:
		return "Jordan Lee"
	case flows.ValidatePhone:
		return "(206) 555-0123"
	case flows.ValidateEmail:
		return "jordan@example.com"
	case flows.ValidateZIP:
		return "98101"
	case flows.ValidateDate:
		return "next monday"
	default:
		return "Blue Cross"
	}
}

func lastText(out bot.Output) string {
	if len(out.Replies) == 0 {
		return ""
	}
	return out.Replies[len(out.Replies)-1].Text
}

func lastChoices(out bot.Output) []bot.Choice {
	if len(out.Replies) == 0 {
		return nil
	}
	return out.Replies[len(out.Replies)-1].Choices
}

// allPoints walks the flow under several policies and returns every
// distinct waiting point, first path found.
func allPoints(t *testing.T, spec *flows.Spec) []crisisPoint {
	t.Helper()
	var all []crisisPoint
	seen := map[string]bool{}
	for policy := range 7 {
		for _, p := range walkIntake(t, spec, policy) {
			if !seen[p.key] {
				seen[p.key] = true
				all = append(all, p)
			}
		}
	}
	return all
}

// checkCrisisTurn asserts what every crisis turn must produce.
func checkCrisisTurn(t *testing.T, spec *flows.Spec, out bot.Output, text string) {
	t.Helper()
	if len(out.Replies) == 0 {
		t.Fatalf("no reply to a crisis message")
	}
	first := out.Replies[0]
	if first.Kind != bot.KindCrisis || first.Text != spec.Safety.Reply {
		t.Fatalf("first reply is not the scripted crisis reply: %+v", first)
	}
	wantButtons := []bot.Choice{
		{ID: bot.ChoiceCrisisStaff, Label: spec.Safety.Buttons.Staff},
		{ID: bot.ChoiceCrisisSafe, Label: spec.Safety.Buttons.Safe},
		{ID: bot.ChoiceCrisisMore, Label: spec.Safety.Buttons.Resources},
	}
	if !slices.Equal(first.Choices, wantButtons) {
		t.Errorf("crisis buttons = %+v, want %+v", first.Choices, wantButtons)
	}
	for _, r := range out.Replies {
		for _, bad := range []string{spec.Messages.InvalidPhone, spec.Messages.InvalidName, spec.Messages.InvalidEmail,
			spec.Messages.InvalidZIP, spec.Messages.InvalidDate, spec.Messages.InvalidChoice, spec.Messages.InvalidItem} {
			if r.Text == bad || strings.Contains(r.Text, bad) {
				t.Errorf("a crisis turn answered as if it were a step answer: %q", r.Text)
			}
		}
	}
	crisis := eventsOf(out, bot.EventCrisis)
	if len(crisis) != 1 || crisis[0].Data["category"] == nil || crisis[0].Data["rule"] == nil {
		t.Errorf("crisis events = %+v, want one with category and rule", crisis)
	}
	handoffs := eventsOf(out, bot.EventHandoff)
	if len(handoffs) != 1 || handoffs[0].Data["urgency"] != bot.UrgencyUrgent {
		t.Errorf("handoff events = %+v, want one urgent", handoffs)
	}
	noWordsInEvents(t, out, text)
}

// noWordsInEvents fails when any event but a relay to staff who have the
// conversation carries the person's words.
func noWordsInEvents(t *testing.T, out bot.Output, text string) {
	t.Helper()
	for _, e := range out.Events {
		if e.Type == bot.EventRelay {
			continue
		}
		if s := fmt.Sprint(e.Data); strings.Contains(s, text) || strings.Contains(strings.ToLower(s), "kill myself") {
			t.Errorf("event %s carries the message text: %v", e.Type, e.Data)
		}
	}
}

func eventsOf(out bot.Output, typ string) []bot.Event {
	var es []bot.Event
	for _, e := range out.Events {
		if e.Type == typ {
			es = append(es, e)
		}
	}
	return es
}

func replay(t *testing.T, spec *flows.Spec, p crisisPoint, opts ...bot.Option) *bottest.Harness {
	t.Helper()
	h := bottest.NewHarness(t, spec, opts...)
	for _, in := range p.inputs {
		h.Send(in)
	}
	if got := pointKey(h.State()); got != p.key {
		t.Fatalf("replay reached %q, want %q", got, p.key)
	}
	return h
}

// TestCrisisAtEveryStep sends a crisis message at every point where the
// intake flow waits, and checks the whole protocol there.
func TestCrisisAtEveryStep(t *testing.T) {
	spec := mustSpec(t)
	points := allPoints(t, spec)
	reached := map[string]bool{}
	for _, p := range points {
		reached[p.step] = true
	}
	for _, st := range spec.Flow(flows.IntakeFlow).Steps {
		switch st.Kind {
		case flows.KindAsk, flows.KindChoose, flows.KindConsent, flows.KindSummary, flows.KindAssess:
			if !reached[st.ID] {
				if st.If == "" {
					t.Errorf("the walk never reached step %s: teach walkIntake a policy that does", st.ID)
				} else {
					t.Logf("step %s (if: %s) not reached by the walk", st.ID, st.If)
				}
			}
		}
	}
	t.Logf("crisis checked at %d waiting points of the intake flow", len(points))
	for _, p := range points {
		t.Run(p.key, func(t *testing.T) {
			h := replay(t, spec, p)
			before := h.State()

			out := h.Say(crisisText)
			checkCrisisTurn(t, spec, out, crisisText)
			if len(out.Replies) != 1 {
				t.Errorf("a crisis turn says only the crisis reply; got %d replies", len(out.Replies))
			}
			st := h.State()
			if st.Mode != bot.ModeCrisis || st.Step != before.Step || st.Item != before.Item {
				t.Fatalf("after the crisis: mode %q step %q item %q, want paused at %q", st.Mode, st.Step, st.Item, before.Step)
			}
			if !reflectEqualAnswers(st.Answers, before.Answers) {
				t.Errorf("the crisis message was stored as an answer: %v", st.Answers)
			}

			// The flow waits for a choice; other text gets the pause note.
			out = h.Say("ok")
			if len(out.Replies) != 1 || out.Replies[0].Text != spec.Safety.Paused || len(out.Replies[0].Choices) != 3 {
				t.Errorf("paused reply = %+v", out.Replies)
			}
			if h.State().Step != before.Step {
				t.Errorf("the pause moved the flow to %q", h.State().Step)
			}

			// A further crisis message gets the reply again, and updates the
			// same alert.
			out = h.Say("i want to die")
			checkCrisisTurn(t, spec, out, "i want to die")
			if hd := eventsOf(out, bot.EventHandoff); len(hd) == 1 && hd[0].Data["update"] != true {
				t.Errorf("second crisis message opened a new alert: %v", hd[0].Data)
			}
			if n := len(h.Store.Handoffs); n != 1 {
				t.Errorf("%d handoffs for one crisis window, want 1", n)
			}

			// "I'm safe — continue" asks the very same question again.
			out = h.Tap(bot.ChoiceCrisisSafe)
			if len(out.Replies) < 2 || out.Replies[0].Text != spec.Safety.Safe {
				t.Fatalf("safe reply = %+v", out.Replies)
			}
			st = h.State()
			if st.Mode != bot.ModeBot || pointKey(st) != p.key {
				t.Errorf("after safe: mode %q at %q, want the bot at %q", st.Mode, pointKey(st), p.key)
			}
			if p.prompt != "" && lastText(out) != p.prompt {
				t.Errorf("after safe the bot asks %q, want the step's question %q", lastText(out), p.prompt)
			}
		})
	}
}

func reflectEqualAnswers(a, b map[string]bot.Answer) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Value != w.Value || v.Display != w.Display || v.Other != w.Other || !slices.Equal(v.Values, w.Values) {
			return false
		}
	}
	return true
}

// TestCrisisButtons checks "talk to staff now" and "more resources" while
// paused, in English and Spanish.
func TestCrisisButtons(t *testing.T) {
	spec := mustSpec(t)
	t.Run("more resources", func(t *testing.T) {
		for lang, want := range map[string]string{"en": spec.Safety.Resources["en"], "es": spec.Safety.Resources["es"], "fr": spec.Safety.Resources["en"]} {
			h := bottest.NewHarness(t, spec)
			h.Send(bot.Inbound{Text: crisisText, Lang: lang})
			out := h.Send(bot.Inbound{Choice: bot.ChoiceCrisisMore, Lang: lang})
			if len(out.Replies) != 1 || out.Replies[0].Text != strings.TrimSpace(want) || len(out.Replies[0].Choices) != 3 {
				t.Errorf("%s: resources reply = %+v", lang, out.Replies)
			}
			if h.State().Mode != bot.ModeCrisis {
				t.Errorf("%s: resources ended the pause", lang)
			}
		}
	})
	t.Run("talk to staff now", func(t *testing.T) {
		h := bottest.NewHarness(t, spec)
		h.Tap("flow:" + flows.IntakeFlow)
		h.Tap("consent.yes")
		h.Say(crisisText)
		out := h.Tap(bot.ChoiceCrisisStaff)
		if len(out.Replies) == 0 || out.Replies[0].Text != spec.Safety.Staff {
			t.Fatalf("staff reply = %+v", out.Replies)
		}
		hd := eventsOf(out, bot.EventHandoff)
		if len(hd) != 1 || hd[0].Data["urgency"] != bot.UrgencyUrgent || hd[0].Data["staff_requested"] != true {
			t.Errorf("tapping staff must tell staff, on the urgent alert: %+v", hd)
		}
		if n := len(h.Store.Handoffs); n != 1 {
			t.Errorf("%d handoffs, want the one urgent alert updated", n)
		}
		if !hasLabelIn(out, spec.Labels.Resume) {
			t.Errorf("no way back to the form after asking for staff: %+v", out.Replies)
		}
	})
	t.Run("talk to staff after the alert window", func(t *testing.T) {
		h := bottest.NewHarness(t, spec)
		h.Say(crisisText)
		h.Clock.Advance(2 * spec.Safety.AlertWindow.Std())
		out := h.Tap(bot.ChoiceCrisisStaff)
		hd := eventsOf(out, bot.EventHandoff)
		if len(hd) != 1 || hd[0].Data["urgency"] != bot.UrgencyUrgent || hd[0].Data["update"] == true {
			t.Errorf("a staff request after the window must raise a new urgent alert: %+v", hd)
		}
		if n := len(h.Store.Handoffs); n != 2 {
			t.Errorf("%d handoffs, want 2", n)
		}
	})
	t.Run("typed button labels and /human", func(t *testing.T) {
		for _, tc := range []struct{ text, want string }{
			{spec.Safety.Buttons.Safe, spec.Safety.Safe},
			{"I'm safe - continue", spec.Safety.Safe},
			{spec.Safety.Buttons.Staff, spec.Safety.Staff},
			{"/human", spec.Safety.Staff},
			{spec.Safety.Buttons.Resources, strings.TrimSpace(spec.Safety.Resources["en"])},
		} {
			h := bottest.NewHarness(t, spec)
			h.Say(crisisText)
			out := h.Say(tc.text)
			if len(out.Replies) == 0 || out.Replies[0].Text != tc.want {
				t.Errorf("typed %q while paused: replies = %+v", tc.text, out.Replies)
			}
		}
	})
}

func hasLabelIn(out bot.Output, label string) bool {
	for _, r := range out.Replies {
		for _, c := range r.Choices {
			if c.Label == label {
				return true
			}
		}
	}
	return false
}

// TestCrisisAlertWindow: repeated crisis messages in one conversation make
// one urgent alert, updated with a count; after the window, a new alert.
func TestCrisisAlertWindow(t *testing.T) {
	spec := mustSpec(t)
	window := spec.Safety.AlertWindow.Std()
	h := bottest.NewHarness(t, spec)
	var ids []string
	for i := range 5 {
		out := h.Say(crisisText)
		hd := eventsOf(out, bot.EventHandoff)
		if len(hd) != 1 {
			t.Fatalf("message %d: handoff events = %+v", i, hd)
		}
		ids = append(ids, fmt.Sprint(hd[0].Data["handoff_id"]))
		if i > 0 && (hd[0].Data["update"] != true || hd[0].Data["count"] != i+1) {
			t.Errorf("message %d: want an update with count %d, got %v", i, i+1, hd[0].Data)
		}
		h.Clock.Advance(window / 10)
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Errorf("alert ids within the window differ: %v", ids)
		}
	}
	if n := len(h.Store.Handoffs); n != 1 {
		t.Errorf("%d handoffs within the window, want 1", n)
	}
	h.Clock.Advance(window)
	out := h.Say("i want to die")
	hd := eventsOf(out, bot.EventHandoff)
	if len(hd) != 1 || hd[0].Data["update"] == true || fmt.Sprint(hd[0].Data["handoff_id"]) == ids[0] {
		t.Errorf("after the window: want a new alert, got %+v", hd)
	}
	if n := len(h.Store.Handoffs); n != 2 {
		t.Errorf("%d handoffs, want 2", n)
	}
	// Every alert reaches the outbox for staff, and none carries words.
	urgent := 0
	for _, e := range h.Store.Outbox {
		if e.Type == bot.EventHandoff && e.Data["urgency"] == bot.UrgencyUrgent {
			urgent++
		}
		if s := fmt.Sprint(e.Data); strings.Contains(s, "kill myself") || strings.Contains(s, "want to die") {
			t.Errorf("outbox event %s carries the words: %v", e.Type, e.Data)
		}
	}
	if urgent != 6 {
		t.Errorf("%d urgent handoff events in the outbox, want 6 (2 alerts, 4 updates)", urgent)
	}
}

// TestCrisisDuringOutage: with the store down, Handle still returns the
// crisis reply (with the error), and a non-crisis message gets the calm
// error message, never the crisis reply.
func TestCrisisDuringOutage(t *testing.T) {
	spec := mustSpec(t)
	h := bottest.NewHarness(t, spec)
	h.Tap("flow:" + flows.IntakeFlow)
	h.Tap("consent.yes")
	h.Store.FailNextTurns = 2
	ctx := context.Background()
	out, err := h.Engine.Handle(ctx, bot.Inbound{Channel: h.Key.Channel, ChatID: h.Key.ChatID, UpdateID: "outage-1", Text: crisisText})
	if !errors.Is(err, bottest.ErrUnavailable) {
		t.Errorf("err = %v, want the store's error", err)
	}
	if len(out.Replies) != 1 || out.Replies[0].Text != spec.Safety.Reply || out.Replies[0].Kind != bot.KindCrisis || len(out.Replies[0].Choices) != 3 {
		t.Fatalf("crisis reply during an outage = %+v", out.Replies)
	}
	out, err = h.Engine.Handle(ctx, bot.Inbound{Channel: h.Key.Channel, ChatID: h.Key.ChatID, UpdateID: "outage-2", Text: "what is iop"})
	if err == nil || len(out.Replies) != 1 || out.Replies[0].Kind == bot.KindCrisis || out.Replies[0].Text != spec.Messages.Error {
		t.Errorf("non-crisis during an outage: err %v replies %+v", err, out.Replies)
	}
	// Once the store is back, the same message gets the whole protocol.
	out = h.Say(crisisText)
	checkCrisisTurn(t, spec, out, crisisText)
}

// spyRephraser counts its calls and would reword anything it got.
type spyRephraser struct{ calls atomic.Int32 }

func (s *spyRephraser) Rephrase(_ context.Context, req bot.RephraseRequest) string {
	s.calls.Add(1)
	return "REPHRASED " + req.Text
}

// TestCrisisNeverRephrased: no turn that answers a crisis, or that is part
// of the pause, reaches the Rephraser; ordinary turns still do.
func TestCrisisNeverRephrased(t *testing.T) {
	spec := mustSpec(t)
	spy := &spyRephraser{}
	h := bottest.NewHarness(t, spec, bot.WithRephraser(spy))
	h.Say("what is an intensive outpatient program?")
	before := spy.calls.Load()
	if before == 0 {
		t.Fatal("the spy saw no ordinary turn: the test would prove nothing")
	}
	for _, in := range []bot.Inbound{
		{Text: crisisText},
		{Text: "what is an intensive outpatient program?"}, // while paused
		{Choice: bot.ChoiceCrisisMore},
		{Text: "i want to die"},
	} {
		out := h.Send(in)
		if got := spy.calls.Load(); got != before {
			t.Fatalf("%+v: the Rephraser was called in a crisis turn", in)
		}
		for _, r := range out.Replies {
			if strings.HasPrefix(r.Text, "REPHRASED") {
				t.Fatalf("%+v: a reply was rephrased: %q", in, r.Text)
			}
		}
	}
}

// TestCrisisInHumanMode: when a staff member has the conversation, a crisis
// message still gets the scripted reply, an urgent alert, and the words go
// to that staff member's thread (the only event allowed to carry them).
func TestCrisisInHumanMode(t *testing.T) {
	spec := mustSpec(t)
	h := bottest.NewHarness(t, spec)
	h.Say("hello")
	conv := h.Store.Conversation(h.Key)
	if err := bot.NewStaff(h.Engine, h.Store).Message(context.Background(), conv.ID, "U1", "Hi, this is Sam from intake."); err != nil {
		t.Fatal(err)
	}
	if h.State().Mode != bot.ModeHuman {
		t.Fatalf("mode = %q, want human", h.State().Mode)
	}
	out := h.Say(crisisText)
	checkCrisisTurn(t, spec, out, crisisText)
	relay := eventsOf(out, bot.EventRelay)
	if len(relay) != 1 || relay[0].Data["text"] != crisisText || relay[0].Data["crisis"] != true {
		t.Errorf("relay = %+v, want the message to the staff thread, marked crisis", relay)
	}
	if h.State().Mode != bot.ModeHuman {
		t.Errorf("a crisis took the conversation from staff: mode %q", h.State().Mode)
	}
	// A later ordinary message is relayed, not answered by the bot.
	out = h.Say("are you there?")
	if len(out.Replies) != 0 || len(eventsOf(out, bot.EventRelay)) != 1 {
		t.Errorf("after the crisis in human mode: replies %+v events %+v", out.Replies, out.Events)
	}
}

// TestCrisisTranscriptKeepsNoWords: with consent, the transcript keeps the
// bot's replies but not the crisis message itself.
func TestCrisisTranscriptKeepsNoWords(t *testing.T) {
	spec := mustSpec(t)
	h := bottest.NewHarness(t, spec)
	h.Tap("flow:" + flows.IntakeFlow)
	h.Tap("consent.yes")
	h.Say(crisisText)
	conv := h.Store.Conversation(h.Key)
	for _, e := range h.Store.Transcript[conv.ID] {
		if strings.Contains(e.Text, "kill myself") {
			t.Errorf("transcript keeps the crisis message: %+v", e)
		}
	}
}

// TestCrisisCommandsAndEdges: a crisis inside a command or a long message
// is still caught; buttons never go through the screen.
func TestCrisisCommandsAndEdges(t *testing.T) {
	spec := mustSpec(t)
	for _, text := range []string{
		"/start i want to die",
		"/help im going to kill myself",
		strings.Repeat("I have been feeling low. ", 60) + "I want to end my life.",
	} {
		h := bottest.NewHarness(t, spec)
		out := h.Say(text)
		if len(out.Replies) == 0 || out.Replies[0].Kind != bot.KindCrisis {
			t.Errorf("%.40q...: not answered as a crisis: %+v", text, out.Replies)
		}
	}
	h := bottest.NewHarness(t, spec)
	out := h.Send(bot.Inbound{Choice: "kill myself"})
	if out.Crisis() {
		t.Errorf("a button id went through the screen")
	}
}

// hangingStore is a database that stops answering: Turn waits until the
// caller gives up.
type hangingStore struct{}

func (hangingStore) Turn(ctx context.Context, _ bot.Key, _ string, _ bot.TurnFunc) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestCrisisReplyWhenStoreHangs: a store that hangs (rather than failing)
// must not hold the crisis reply back: Handle bounds its wait for the save.
func TestCrisisReplyWhenStoreHangs(t *testing.T) {
	spec := mustSpec(t)
	e := bot.New(spec, hangingStore{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	out, _ := e.Handle(ctx, bot.Inbound{Channel: "console", ChatID: "c1", UpdateID: "1", Text: crisisText})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the crisis reply took %v with a hanging store", took)
	}
	if len(out.Replies) == 0 || out.Replies[0].Text != spec.Safety.Reply {
		t.Errorf("replies = %+v", out.Replies)
	}
}

// TestCrisisBeyondInputLimit: a crisis statement after the first 2,000
// characters of a long message must still be caught: the screen reads the
// message before it is cut to the input limit.
func TestCrisisBeyondInputLimit(t *testing.T) {
	spec := mustSpec(t)
	h := bottest.NewHarness(t, spec)
	out := h.Say(strings.Repeat("I have been feeling low lately. ", 80) + "I want to end my life.")
	if !out.Crisis() {
		t.Errorf("a crisis statement after 2,000 characters was missed")
	}
}
