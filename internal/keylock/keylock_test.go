package keylock_test

import (
	"sync"
	"testing"

	"intakebot/internal/keylock"
)

// TestSerializesPerKey: work on one key never overlaps, and the set is
// empty once everyone is done.
func TestSerializesPerKey(t *testing.T) {
	var l keylock.Locks
	var wg sync.WaitGroup
	inside := map[string]int{}
	var mu sync.Mutex
	for i := range 200 {
		key := []string{"a", "b", "c"}[i%3]
		wg.Go(func() {
			unlock := l.Lock(key)
			defer unlock()
			mu.Lock()
			inside[key]++
			n := inside[key]
			mu.Unlock()
			if n != 1 {
				t.Errorf("%d holders of %q at once", n, key)
			}
			mu.Lock()
			inside[key]--
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := l.Len(); n != 0 {
		t.Fatalf("%d keys left after everyone unlocked", n)
	}
}
