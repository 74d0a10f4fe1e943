package slack

// SetAfterJob makes a run f after each job from Slack it handled, so tests
// know when a click or an event was processed.
func SetAfterJob(a *Adapter, f func()) { a.afterJob = f }
