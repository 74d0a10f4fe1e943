// Package console is the terminal channel: an interactive chat for trying
// the bot, and a JSON Lines replay that other tools drive (one user turn per
// input line, one JSON object per bot message or event).
package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"intakebot/bot"
)

// Channel is the channel name of console conversations.
const Channel = "console"

// Handler runs turns; *bot.Engine is one.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) (bot.Output, error)
}

// maxLine bounds one input line; longer lines are read in full and left to
// the engine, which cuts them politely.
const maxLine = 1 << 20

// Chat runs an interactive terminal conversation on chatID until stdin ends
// or the person types /quit. Buttons are numbered; typing a button's number
// taps it. It starts with /start, so a returning person is taken back to the
// step where they left.
func Chat(ctx context.Context, h Handler, chatID string, stdin io.Reader, stdout io.Writer) error {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintln(w, "intakebot terminal chat. Type your message and press Enter; type a button's number to tap it; /quit to leave.")
	var offered []bot.Choice
	send := func(in bot.Inbound) error {
		in.Channel, in.ChatID, in.Time = Channel, chatID, time.Now()
		out, err := h.Handle(ctx, in)
		if err != nil && !errors.Is(err, bot.ErrDuplicate) {
			// The output still holds what the person must hear.
			printReplies(w, out.Replies)
			w.Flush()
			return err
		}
		printReplies(w, out.Replies)
		if n := len(out.Replies); n > 0 {
			offered = out.Replies[n-1].Choices
		}
		return w.Flush()
	}
	if err := send(bot.Inbound{Text: "/start"}); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for {
		fmt.Fprint(w, "> ")
		w.Flush()
		if !sc.Scan() {
			fmt.Fprintln(w)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "/quit" || line == "/exit" {
			fmt.Fprintln(w, "Bye. Run the same command again to continue where you left off.")
			return nil
		}
		in := bot.Inbound{Text: line}
		if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(offered) {
			in = bot.Inbound{Choice: offered[n-1].ID}
		}
		if err := send(in); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func printReplies(w io.Writer, replies []bot.Reply) {
	for _, r := range replies {
		fmt.Fprintln(w)
		for _, line := range strings.Split(r.Text, "\n") {
			fmt.Fprintln(w, "  "+line)
		}
		if len(r.Choices) > 0 {
			var parts []string
			for i, c := range r.Choices {
				parts = append(parts, fmt.Sprintf("[%d] %s", i+1, c.Label))
			}
			fmt.Fprintln(w, "  "+strings.Join(parts, "  "))
		}
	}
	fmt.Fprintln(w)
}

// inputLine is one JSONL input object.
type inputLine struct {
	Text    *string `json:"text"`
	Choice  *string `json:"choice"`
	Command *string `json:"command"`
}

// Message is the JSONL form of a bot message.
type Message struct {
	Type    string       `json:"type"`
	Text    string       `json:"text"`
	Choices []bot.Choice `json:"choices"`
}

// Replay reads one user turn per stdin line (plain text, or a JSON object
// {"text": …}, {"choice": …} or {"command": …}; a line that is not such an
// object is text) and writes each bot message and event as one JSON line:
// {"type":"message","text":…,"choices":[…]} and {"type":"<event>",…} with
// the event's data. Blank lines are skipped.
func Replay(ctx context.Context, h Handler, chatID string, stdin io.Reader, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	rd := bufio.NewReaderSize(stdin, 64*1024)
	for n := 1; ; n++ {
		raw, err := rd.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", n, err)
		}
		line := strings.TrimRightFunc(raw, unicode.IsSpace)
		if strings.TrimSpace(line) != "" {
			in := parseLine(line)
			in.Channel, in.ChatID, in.Time = Channel, chatID, time.Now()
			out, herr := h.Handle(ctx, in)
			if werr := writeOutput(enc, out); werr != nil {
				return werr
			}
			if herr != nil && !errors.Is(herr, bot.ErrDuplicate) {
				return fmt.Errorf("line %d: %w", n, herr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// parseLine reads one input line: a JSON object naming text, choice or
// command, or else plain text.
func parseLine(line string) bot.Inbound {
	trimmed := strings.TrimSpace(line)
	if strings.HasPrefix(trimmed, "{") {
		var il inputLine
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&il); err == nil && !dec.More() {
			switch {
			case il.Choice != nil:
				return bot.Inbound{Choice: *il.Choice}
			case il.Command != nil:
				cmd := strings.TrimSpace(*il.Command)
				if !strings.HasPrefix(cmd, "/") {
					cmd = "/" + cmd
				}
				return bot.Inbound{Text: cmd}
			case il.Text != nil:
				return bot.Inbound{Text: *il.Text}
			}
		}
	}
	return bot.Inbound{Text: line}
}

func writeOutput(enc *json.Encoder, out bot.Output) error {
	for _, r := range out.Replies {
		choices := r.Choices
		if choices == nil {
			choices = []bot.Choice{}
		}
		if err := enc.Encode(Message{Type: "message", Text: r.Text, Choices: choices}); err != nil {
			return fmt.Errorf("write message: %w", err)
		}
	}
	for _, e := range out.Events {
		obj := map[string]any{}
		for k, v := range e.Data {
			obj[k] = v
		}
		obj["type"] = e.Type
		obj["event_id"] = e.ID
		if err := enc.Encode(obj); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	return nil
}
