package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"intakebot/bot"
)

// fakeOutbox is an in-memory bot.Outbox that records every mark.
type fakeOutbox struct {
	mu     sync.Mutex
	events []*fakeRow
	marks  []string
	claims int
	failClaim,
	failMarkDelivered error
}

type fakeRow struct {
	ev       bot.Event
	attempts int
	next     time.Time
	status   string
}

func (o *fakeOutbox) add(ev bot.Event, due time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, &fakeRow{ev: ev, next: due, status: "pending"})
}

func (o *fakeOutbox) Claim(_ context.Context, req bot.ClaimRequest) ([]bot.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims++
	if o.failClaim != nil {
		return nil, o.failClaim
	}
	var out []bot.Delivery
	for _, r := range o.events {
		if len(out) == req.Limit {
			break
		}
		if r.status == "pending" && !r.next.After(req.Now) && slices.Contains(req.Types, r.ev.Type) {
			r.next = req.Now.Add(req.Lease)
			out = append(out, bot.Delivery{Event: r.ev, Attempts: r.attempts})
		}
	}
	return out, nil
}

func (o *fakeOutbox) find(id string) *fakeRow {
	for _, r := range o.events {
		if r.ev.ID == id {
			return r
		}
	}
	return nil
}

func (o *fakeOutbox) MarkDelivered(_ context.Context, id string, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failMarkDelivered != nil {
		return o.failMarkDelivered
	}
	o.marks = append(o.marks, "delivered "+id)
	if r := o.find(id); r != nil && r.status == "pending" {
		r.status = "delivered"
		r.attempts++
	}
	return nil
}

func (o *fakeOutbox) MarkFailed(_ context.Context, id string, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.marks = append(o.marks, fmt.Sprintf("failed %s next=%s", id, next.Format("15:04:05")))
	if r := o.find(id); r != nil && r.status == "pending" {
		r.attempts++
		r.next = next
	}
	return nil
}

func (o *fakeOutbox) MarkDead(_ context.Context, id string, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.marks = append(o.marks, "dead "+id)
	if r := o.find(id); r != nil && r.status == "pending" {
		r.status = "dead"
		r.attempts++
	}
	return nil
}

func (o *fakeOutbox) takeMarks() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.marks
	o.marks = nil
	return m
}

// noJitter makes backoff deterministic: the full upper half is added.
func noJitter(n time.Duration) time.Duration { return n }

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestDispatchOutcomes(t *testing.T) {
	permanent := fmt.Errorf("chat gone: %w", bot.ErrPermanent)
	tests := []struct {
		name     string
		attempts int
		err      error
		panics   bool
		want     string
	}{
		{"delivered", 0, nil, false, "delivered ev"},
		{"temporary error backs off 5s·2⁰", 0, errors.New("503"), false, "failed ev next=12:00:05"},
		{"third failure backs off 5s·2²", 2, errors.New("503"), false, "failed ev next=12:00:20"},
		{"backoff is capped", 15, errors.New("503"), false, "failed ev next=13:00:00"},
		{"retry after is honored", 0, &bot.RetryAfterError{RetryAfter: 42 * time.Second, Err: errors.New("429")}, false, "failed ev next=12:00:42"},
		{"retry after wrapped", 0, fmt.Errorf("slack: %w", &bot.RetryAfterError{RetryAfter: time.Minute}), false, "failed ev next=12:01:00"},
		{"permanent goes dead at once", 0, permanent, false, "dead ev"},
		{"the bound of attempts", 19, errors.New("503"), false, "dead ev"},
		{"a panic is a temporary failure", 0, nil, true, "failed ev next=12:00:05"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &fakeOutbox{}
			out.add(bot.Event{ID: "ev", Type: bot.EventHandoff}, t0)
			out.events[0].attempts = tc.attempts
			d := bot.NewDispatcher(out, bot.WithDispatchClock(func() time.Time { return t0 }), bot.WithJitter(noJitter))
			var got []bot.Event
			d.Register(bot.EventHandoff, bot.NotifierFunc(func(_ context.Context, ev bot.Event) error {
				got = append(got, ev)
				if tc.panics {
					panic("boom")
				}
				return tc.err
			}))
			n, err := d.RunOnce(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			if len(got) != 1 || got[0].ID != "ev" {
				t.Fatalf("notifier got %+v", got)
			}
			if m := out.takeMarks(); len(m) != 1 || m[0] != tc.want {
				t.Fatalf("marks = %v, want [%s]", m, tc.want)
			}
		})
	}
}

// TestDispatchBackoffJitter: the wait grows, is capped, and is at least
// half the nominal delay and at most all of it.
func TestDispatchBackoffJitter(t *testing.T) {
	d := bot.NewDispatcher(&fakeOutbox{}, bot.WithBackoff(time.Second, time.Minute))
	prevMax := time.Duration(0)
	for n := 1; n <= 12; n++ {
		nominal := min(time.Second<<(n-1), time.Minute)
		for range 50 {
			w := d.Backoff(n)
			if w < nominal/2 || w > nominal {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, w, nominal/2, nominal)
			}
		}
		if nominal < prevMax {
			t.Fatalf("backoff shrank at %d", n)
		}
		prevMax = nominal
	}
}

// TestDispatchOnlyRegisteredTypes: events of a type with no notifier are
// not claimed, so they wait for a dispatcher that has one.
func TestDispatchOnlyRegisteredTypes(t *testing.T) {
	out := &fakeOutbox{}
	out.add(bot.Event{ID: "a", Type: bot.EventHandoff}, t0)
	out.add(bot.Event{ID: "b", Type: bot.EventStaffMessage}, t0)
	d := bot.NewDispatcher(out, bot.WithDispatchClock(func() time.Time { return t0 }))
	if n, _ := d.RunOnce(context.Background()); n != 0 || out.claims != 0 {
		t.Fatalf("with no notifiers: claimed %d in %d claims", n, out.claims)
	}
	d.Register(bot.EventStaffMessage, bot.NotifierFunc(func(context.Context, bot.Event) error { return nil }))
	d.RunOnce(context.Background())
	if m := out.takeMarks(); !slices.Equal(m, []string{"delivered b"}) {
		t.Fatalf("marks = %v", m)
	}
}

// TestDispatchRedeliversWithSameID: when recording a delivery fails, the
// event comes back after its lease with the same id, so the notifier can
// tell it is a repeat.
func TestDispatchRedeliversWithSameID(t *testing.T) {
	now := t0
	out := &fakeOutbox{failMarkDelivered: errors.New("db down")}
	out.add(bot.Event{ID: "ev-1", Type: bot.EventHandoff}, t0)
	d := bot.NewDispatcher(out, bot.WithDispatchClock(func() time.Time { return now }))
	var ids []string
	d.Register(bot.EventHandoff, bot.NotifierFunc(func(_ context.Context, ev bot.Event) error {
		ids = append(ids, ev.ID)
		return nil
	}))
	d.RunOnce(context.Background())
	out.failMarkDelivered = nil
	if n, _ := d.RunOnce(context.Background()); n != 0 {
		t.Fatal("claimed again within the lease")
	}
	now = now.Add(time.Hour)
	d.RunOnce(context.Background())
	if !slices.Equal(ids, []string{"ev-1", "ev-1"}) {
		t.Fatalf("deliveries = %v", ids)
	}
}

// TestDispatchRun: Run delivers at a Wake and at a poll tick, keeps going
// after a failed claim, and returns when its context ends. No sleeps: the
// test drives the ticker and waits on the notifier.
func TestDispatchRun(t *testing.T) {
	out := &fakeOutbox{}
	tick := make(chan time.Time)
	stopped := make(chan struct{})
	d := bot.NewDispatcher(out, bot.WithTicker(func(time.Duration) (<-chan time.Time, func()) {
		return tick, func() { close(stopped) }
	}))
	delivered := make(chan string, 10)
	d.Register(bot.EventHandoff, bot.NotifierFunc(func(_ context.Context, ev bot.Event) error {
		delivered <- ev.ID
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	wait := func(want string) {
		t.Helper()
		select {
		case id := <-delivered:
			if id != want {
				t.Fatalf("delivered %s, want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not delivered", want)
		}
	}
	out.add(bot.Event{ID: "woken", Type: bot.EventHandoff}, time.Now().Add(-time.Second))
	d.Wake()
	wait("woken")
	out.mu.Lock()
	out.failClaim = errors.New("db down")
	out.mu.Unlock()
	tick <- time.Now() // a failed claim is logged, not fatal
	tick <- time.Now() // returns once the first failed claim is over
	out.mu.Lock()
	out.failClaim = nil
	out.mu.Unlock()
	out.add(bot.Event{ID: "ticked", Type: bot.EventHandoff}, time.Now().Add(-time.Second))
	tick <- time.Now()
	wait("ticked")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	<-stopped
}

// TestDispatchDrainsFullBatches: when a batch comes back full, Run claims
// again at once instead of waiting for the next tick.
func TestDispatchDrainsFullBatches(t *testing.T) {
	out := &fakeOutbox{}
	for i := range 7 {
		out.add(bot.Event{ID: fmt.Sprint("e", i), Type: bot.EventHandoff}, time.Now().Add(-time.Second))
	}
	d := bot.NewDispatcher(out, bot.WithBatch(2), bot.WithTicker(func(time.Duration) (<-chan time.Time, func()) {
		return make(chan time.Time), func() {}
	}))
	delivered := make(chan string, 10)
	d.Register(bot.EventHandoff, bot.NotifierFunc(func(_ context.Context, ev bot.Event) error {
		delivered <- ev.ID
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	for i := range 7 {
		select {
		case id := <-delivered:
			if id != fmt.Sprint("e", i) {
				t.Fatalf("delivered %s, want e%d", id, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("e%d not delivered without a tick", i)
		}
	}
}
