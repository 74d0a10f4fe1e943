package bottest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/flows"
)

// Clock is a fake clock for tests; it moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed, arbitrary moment (a Tuesday
// morning in the program's time zone).
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Harness drives one chat through an engine backed by a MemStore.
type Harness struct {
	TB     testing.TB
	Spec   *flows.Spec
	Store  *MemStore
	Clock  *Clock
	Engine *bot.Engine
	Key    bot.Key
	opts   []bot.Option
	update int
	ids    int
}

// NewHarness returns a harness for a console chat on spec.
func NewHarness(tb testing.TB, spec *flows.Spec, opts ...bot.Option) *Harness {
	tb.Helper()
	h := &Harness{TB: tb, Spec: spec, Store: NewMemStore(), Clock: NewClock(),
		Key: bot.Key{Channel: "console", ChatID: "chat-1"}, opts: opts}
	h.Restart()
	return h
}

// Restart builds a new engine on the same store, as a process restart would.
func (h *Harness) Restart() {
	opts := append([]bot.Option{
		bot.WithClock(h.Clock.Now),
		bot.WithIDs(func() string { h.ids++; return fmt.Sprintf("id-%d", h.ids) }),
	}, h.opts...)
	h.Engine = bot.New(h.Spec, h.Store, opts...)
}

// Send runs one turn and fails the test on an engine error.
func (h *Harness) Send(in bot.Inbound) bot.Output {
	h.TB.Helper()
	if in.Channel == "" {
		in.Channel = h.Key.Channel
	}
	if in.ChatID == "" {
		in.ChatID = h.Key.ChatID
	}
	if in.UpdateID == "" {
		h.update++
		in.UpdateID = fmt.Sprint(h.update)
	}
	h.Clock.Advance(time.Second)
	out, err := h.Engine.Handle(context.Background(), in)
	if err != nil && !errors.Is(err, bot.ErrDuplicate) {
		h.TB.Fatalf("handle %+v: %v", in, err)
	}
	return out
}

// Say sends typed text.
func (h *Harness) Say(text string) bot.Output { return h.Send(bot.Inbound{Text: text}) }

// Tap sends a button choice.
func (h *Harness) Tap(id string) bot.Output { return h.Send(bot.Inbound{Choice: id}) }

// State returns the chat's current conversation state.
func (h *Harness) State() bot.State {
	c := h.Store.Conversation(h.Key)
	if c == nil {
		return bot.State{}
	}
	return c.State
}

// RunTranscript plays a transcript file against a fresh harness. The format:
//
//	# a comment
//	@channel telegram     the chat's channel (before the first turn)
//	@advance 4h           move the clock
//	@restart              a new engine on the same store
//	> some text           the person types (">" alone: an empty message)
//	> [choice-id]         the person taps a button
//	< fragment            some reply of the turn contains it (case-insensitive);
//	                      several < lines match replies in order (the same reply may match several)
//	< /regexp/            some reply matches the regular expression
//	< (none)              the turn has no reply
//	<! fragment           no reply of the turn contains it
//	? Label | Label       the turn's last reply offers these buttons
//	?! Label              the turn's last reply does not offer it
//	! type k=v k=v        the turn emitted this event, with these data values
//	!! type               the turn emitted no event of this type
//	= step name           the conversation waits at this step ("" for none)
func RunTranscript(tb testing.TB, spec *flows.Spec, path string, opts ...bot.Option) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := NewHarness(tb, spec, opts...)
	var out bot.Output
	var input string
	var pos int // index of the reply after the last matched "<"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	fail := func(format string, args ...any) {
		tb.Helper()
		tb.Errorf("%s:%d (after %q): %s\nreplies:\n%s", path, lineNo, input, fmt.Sprintf(format, args...), dump(out))
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case strings.HasPrefix(line, "@channel "):
			h.Key.Channel = strings.TrimSpace(strings.TrimPrefix(line, "@channel "))
		case strings.HasPrefix(line, "@advance "):
			d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(line, "@advance ")))
			if err != nil {
				tb.Fatalf("%s:%d: %v", path, lineNo, err)
			}
			h.Clock.Advance(d)
		case line == "@restart":
			h.Restart()
		case strings.HasPrefix(line, "> ") || line == ">":
			input = strings.TrimPrefix(strings.TrimPrefix(line, ">"), " ")
			pos = 0
			if strings.HasPrefix(input, "[") && strings.HasSuffix(input, "]") {
				out = h.Tap(input[1 : len(input)-1])
			} else {
				out = h.Say(input)
			}
		case line == "< (none)":
			if len(out.Replies) != 0 {
				fail("expected no reply")
			}
		case strings.HasPrefix(line, "<! "):
			frag := strings.TrimPrefix(line, "<! ")
			for _, r := range out.Replies {
				if matches(r.Text, frag) {
					fail("a reply contains %q", frag)
				}
			}
		case strings.HasPrefix(line, "< "):
			frag := strings.TrimPrefix(line, "< ")
			found := false
			for i := pos; i < len(out.Replies); i++ {
				if matches(out.Replies[i].Text, frag) {
					pos, found = i, true
					break
				}
			}
			if !found {
				fail("no reply (from #%d on) contains %q", pos+1, frag)
			}
		case strings.HasPrefix(line, "?! "):
			label := strings.TrimSpace(strings.TrimPrefix(line, "?! "))
			if hasLabel(out, label) {
				fail("button %q is offered", label)
			}
		case strings.HasPrefix(line, "? "):
			for _, label := range strings.Split(strings.TrimPrefix(line, "? "), "|") {
				if label = strings.TrimSpace(label); !hasLabel(out, label) {
					fail("button %q is not offered", label)
				}
			}
		case strings.HasPrefix(line, "!! "):
			typ := strings.TrimSpace(strings.TrimPrefix(line, "!! "))
			for _, e := range out.Events {
				if e.Type == typ {
					fail("unexpected event %s %v", typ, e.Data)
				}
			}
		case strings.HasPrefix(line, "! "):
			fields := strings.Fields(strings.TrimPrefix(line, "! "))
			if !hasEvent(out, fields[0], fields[1:]) {
				fail("no event %v among %s", fields, dumpEvents(out))
			}
		case strings.HasPrefix(line, "= "):
			want := strings.TrimSpace(strings.TrimPrefix(line, "= "))
			if want == `""` {
				want = ""
			}
			if got := h.State().Step; got != want {
				fail("waiting at step %q, want %q", got, want)
			}
		default:
			tb.Fatalf("%s:%d: cannot read line %q", path, lineNo, line)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}

func matches(text, frag string) bool {
	if len(frag) > 2 && strings.HasPrefix(frag, "/") && strings.HasSuffix(frag, "/") {
		re, err := regexp.Compile("(?is)" + frag[1:len(frag)-1])
		return err == nil && re.MatchString(text)
	}
	return strings.Contains(strings.ToLower(text), strings.ToLower(frag))
}

func hasLabel(out bot.Output, label string) bool {
	if len(out.Replies) == 0 {
		return false
	}
	for _, c := range out.Replies[len(out.Replies)-1].Choices {
		if strings.EqualFold(strings.TrimPrefix(c.Label, "✓ "), label) || strings.EqualFold(c.Label, label) || c.ID == label {
			return true
		}
	}
	return false
}

func hasEvent(out bot.Output, typ string, kvs []string) bool {
	for _, e := range out.Events {
		if e.Type != typ {
			continue
		}
		ok := true
		for _, kv := range kvs {
			k, v, _ := strings.Cut(kv, "=")
			if fmt.Sprint(e.Data[k]) != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func dump(out bot.Output) string {
	var b strings.Builder
	for i, r := range out.Replies {
		fmt.Fprintf(&b, "  #%d [%s] %q", i+1, r.Kind, r.Text)
		if len(r.Choices) > 0 {
			var ls []string
			for _, c := range r.Choices {
				ls = append(ls, c.Label+"="+c.ID)
			}
			fmt.Fprintf(&b, " {%s}", strings.Join(ls, " | "))
		}
		b.WriteByte('\n')
	}
	b.WriteString(dumpEvents(out))
	return b.String()
}

func dumpEvents(out bot.Output) string {
	var b strings.Builder
	for _, e := range out.Events {
		fmt.Fprintf(&b, "  event %s %v\n", e.Type, e.Data)
	}
	return b.String()
}
