package llm_test

import (
	"context"
	"testing"

	"intakebot/adapters/llm"
	"intakebot/bot"
)

// BenchmarkRephraseLoopback is a whole rephrasing against the fake on
// loopback (no cache hit): the adapter's own cost around a call, which a
// real model adds hundreds of milliseconds to.
func BenchmarkRephraseLoopback(b *testing.B) {
	f := newFake(b, faithful)
	r, _ := newRephraser(b, f, f.config(), llm.WithCache(noCache{}))
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonOK {
			b.Fatal(res.Reason)
		}
	}
}

// BenchmarkRephraseCacheHit is a repeated text: no call.
func BenchmarkRephraseCacheHit(b *testing.B) {
	f := newFake(b, faithful)
	r, _ := newRephraser(b, f, f.config())
	r.Try(context.Background(), bot.RephraseRequest{Text: scripted})
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Try(context.Background(), bot.RephraseRequest{Text: scripted}); res.Reason != llm.ReasonCacheHit {
			b.Fatal(res.Reason)
		}
	}
}

// noCache keeps nothing.
type noCache struct{}

func (noCache) Get(context.Context, string) (string, bool, error) { return "", false, nil }
func (noCache) Put(context.Context, string, string) error         { return nil }
