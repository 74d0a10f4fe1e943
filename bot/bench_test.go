package bot_test

import (
	"context"
	"strconv"
	"testing"

	"intakebot/bot"
	"intakebot/bot/bottest"
)

// BenchmarkTurn measures one turn through the engine with an in-memory
// store (no storage cost): a free-text FAQ question, the most common turn,
// and a step answer mid-intake. Aim: under 100 µs.
func BenchmarkTurn(b *testing.B) {
	spec := mustSpec(b)
	b.Run("faq", func(b *testing.B) {
		e := bot.New(spec, bottest.NewMemStore())
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			in := bot.Inbound{Channel: "bench", ChatID: "c", UpdateID: strconv.Itoa(i), Text: "how long does an intensive outpatient program last?"}
			if _, err := e.Handle(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("step", func(b *testing.B) {
		e := bot.New(spec, bottest.NewMemStore())
		ctx := context.Background()
		for _, in := range []bot.Inbound{{Text: "/start"}, {Choice: "flow:intake"}, {Choice: "consent.yes"}} {
			in.Channel, in.ChatID = "bench", "c"
			if _, err := e.Handle(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// A name that fails validation keeps the conversation at the
			// same step, so every iteration does the same work.
			in := bot.Inbound{Channel: "bench", ChatID: "c", UpdateID: strconv.Itoa(i), Text: "12345"}
			if _, err := e.Handle(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
