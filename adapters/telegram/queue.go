package telegram

import (
	"context"
	"errors"
	"sync"
)

// errStopped is returned by enqueue once the queue stopped taking work.
var errStopped = errors.New("telegram: adapter is shutting down")

// errFlood is returned by enqueue when one chat already has maxPerChat
// updates waiting: one flooding chat must not take the whole queue and
// stall everyone else's.
var errFlood = errors.New("telegram: too many updates waiting in one chat")

// maxPerChat bounds the updates waiting in one chat: 100, or a quarter of
// a smaller queue.
const maxPerChat = 100

// queue runs work per chat in order, and different chats in parallel on a
// fixed number of workers. A chat with pending work is in the ready list
// at most once and is taken by one worker at a time, so one chat's updates
// never overtake each other; a worker takes one item of a chat and puts
// the chat back at the end of the list, so a busy chat cannot starve the
// others. At most size items wait in total: enqueue blocks when the queue
// is full, which slows the receiver down instead of growing memory.
type queue struct {
	run     func(job)
	perChat int
	slots   chan struct{}
	ready   chan int64

	mu      sync.Mutex
	chats   map[int64]*chatQueue
	closed  bool
	drained bool
	pending sync.WaitGroup
	workers sync.WaitGroup
}

type chatQueue struct {
	jobs []job
	busy bool
}

// job is one update for one chat.
type job struct {
	chat   int64
	update any
}

func newQueue(workers, size int, run func(job)) *queue {
	q := &queue{
		run:     run,
		perChat: max(1, min(maxPerChat, size/4)),
		slots:   make(chan struct{}, size),
		ready:   make(chan int64, size),
		chats:   map[int64]*chatQueue{},
	}
	q.workers.Add(workers)
	for range workers {
		go q.work()
	}
	return q
}

// enqueue adds j behind the chat's earlier work. It waits while the queue
// is full; it returns ctx's error if ctx ends first, errStopped once the
// queue is closed, and errFlood when the chat has too many waiting.
func (q *queue) enqueue(ctx context.Context, j job) error {
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		<-q.slots
		return errStopped
	}
	c := q.chats[j.chat]
	if c == nil {
		c = &chatQueue{}
		q.chats[j.chat] = c
	}
	if len(c.jobs) >= q.perChat {
		<-q.slots
		return errFlood
	}
	c.jobs = append(c.jobs, j)
	q.pending.Add(1)
	if !c.busy && len(c.jobs) == 1 {
		// Never blocks: the chats in ready are at most the pending items.
		q.ready <- j.chat
	}
	return nil
}

func (q *queue) work() {
	defer q.workers.Done()
	for chat := range q.ready {
		q.mu.Lock()
		c := q.chats[chat]
		j := c.jobs[0]
		c.jobs[0] = job{}
		c.jobs = c.jobs[1:]
		c.busy = true
		q.mu.Unlock()

		q.runSafe(j)

		q.mu.Lock()
		c.busy = false
		if len(c.jobs) > 0 {
			q.ready <- chat
		} else {
			delete(q.chats, chat)
		}
		q.mu.Unlock()
		<-q.slots
		q.pending.Done()
	}
}

// runSafe runs j; a panic that escapes run is swallowed so the chat's
// bookkeeping stays right (run recovers and logs on its own).
func (q *queue) runSafe(j job) {
	defer func() { _ = recover() }()
	q.run(j)
}

// close stops taking work; what is queued still runs.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// wait waits until every queued item has run, or ctx ends; call it only
// after close. Once it returned nil the workers have exited.
func (q *queue) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		q.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.mu.Lock()
		if q.closed && !q.drained {
			q.drained = true
			close(q.ready)
		}
		q.mu.Unlock()
		q.workers.Wait()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
