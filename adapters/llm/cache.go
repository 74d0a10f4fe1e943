package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Cache keeps validated model outputs so that a repeated text costs no
// call. Replicas share it when it lives in the database.
type Cache interface {
	// Get returns the value stored under key. ok is false, with a nil
	// error, when there is none; an error means the cache could not be
	// read (the caller then calls the model as if nothing was cached).
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Put stores value under key, replacing any previous value.
	Put(ctx context.Context, key, value string) error
}

// MemCache is an in-process Cache: the default when none is given, and the
// one tests use. The zero value is ready to use; it is safe for concurrent
// use.
type MemCache struct {
	mu sync.Mutex
	m  map[string]string
}

var _ Cache = (*MemCache)(nil)

// NewMemCache returns an empty in-process cache.
func NewMemCache() *MemCache { return &MemCache{m: map[string]string{}} }

// Get returns the value under key; it never fails.
func (c *MemCache) Get(_ context.Context, key string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

// Put stores value under key; it never fails.
func (c *MemCache) Put(_ context.Context, key, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[key] = value
	return nil
}

// Len returns the number of entries.
func (c *MemCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// cacheKey names a rephrasing by everything that determines it: the model,
// the prompt version (which also versions the checks), the style and the
// scripted text. The text itself is hashed: keys stay short and the cache
// table holds no text but validated outputs of scripted texts.
func cacheKey(model string, style Style, text string) string {
	h := sha256.New()
	for _, part := range []string{model, PromptVersion, string(style), text} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "llm-rephrase:" + PromptVersion + ":" + hex.EncodeToString(h.Sum(nil))
}
