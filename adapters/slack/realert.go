package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"intakebot/bot"
)

// realertLoop looks for due re-alerts at every tick until ctx is done.
func (a *Adapter) realertLoop(ctx context.Context) {
	tick, stop := a.newTicker(a.alertPoll)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if _, err := a.RealertOnce(ctx); err != nil && ctx.Err() == nil {
				a.log.LogAttrs(ctx, slog.LevelError, "slack.realert_failed", slog.String("error", errCode(err)))
			}
		}
	}
}

// RealertOnce pages again for every urgent case nobody acknowledged within
// Config.Realert: a reply in the case's thread, also sent to the channel,
// with the configured mention, and the case message redrawn with the count.
// Each due re-alert is taken in the store first, so several replicas page
// once. It returns how many re-alerts went out. An acknowledged or closed
// case never re-alerts.
func (a *Adapter) RealertOnce(ctx context.Context) (int, error) {
	now := a.now()
	due, err := a.st.DueAlerts(ctx, now, 20)
	if err != nil {
		return 0, err
	}
	sent := 0
	for i := range due {
		h := &due[i]
		attrs := []slog.Attr{slog.String("handoff_id", h.ID)}
		al, err := a.st.HandoffAlert(ctx, h.ID)
		if err != nil {
			return sent, err
		}
		if al.Due.IsZero() || !al.Acked.IsZero() {
			continue
		}
		took, err := a.st.TakeRealert(ctx, h.ID, al.Due, now.Add(a.cfg.Realert))
		if err != nil {
			return sent, err
		}
		if !took {
			continue // another replica has it, or it was acknowledged
		}
		waited := now.Sub(h.Created).Round(time.Minute)
		text := fmt.Sprintf(":rotating_light: *Still not acknowledged* after %s. Please open the case and tap *Acknowledge*.", waitText(waited))
		if a.mention != "" {
			text = a.mention + " " + text
		}
		if err := a.postThread(ctx, h.SlackChannel, h.SlackTS, text, true); err != nil {
			// Try again soon rather than a whole interval later.
			retry := time.Minute
			var rae *bot.RetryAfterError
			if de := deliveryError("re-alert", err); errors.As(de, &rae) && rae.RetryAfter > retry {
				retry = rae.RetryAfter
			}
			if aerr := a.st.ArmAlert(ctx, h.ID, now.Add(retry)); aerr != nil {
				a.log.LogAttrs(ctx, slog.LevelError, "slack.arm_alert_failed", attrs...)
			}
			a.log.LogAttrs(ctx, slog.LevelWarn, "slack.realert_failed", append(attrs, slog.String("error", errCode(err)))...)
			continue
		}
		sent++
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.realerted", append(attrs, slog.Int("realerts", al.Realerts+1))...)
		unlock := a.cases.Lock(h.ID)
		if fresh, err := a.st.Handoff(ctx, h.ID); err == nil {
			if err := a.publish(ctx, fresh); err != nil {
				a.log.LogAttrs(ctx, slog.LevelWarn, "slack.case_update_failed", append(attrs, slog.String("error", errCode(err)))...)
			}
		}
		unlock()
	}
	return sent, nil
}

func waitText(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	if d < time.Hour {
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh %02dmin", int(d.Hours()), int(d.Minutes())%60)
}
