package slack

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	slackgo "github.com/slack-go/slack"
)

// allowed reports whether user may act on cases and write to
// participants: one of Config.AllowedUsers when that is set, otherwise a
// member of the triage channel (conversations.members, cached; a user not
// in the cached list refreshes it, at most every 30 seconds).
func (a *Adapter) allowed(ctx context.Context, user string) (bool, error) {
	if user == "" {
		return false, nil
	}
	if len(a.cfg.AllowedUsers) > 0 {
		return slices.Contains(a.cfg.AllowedUsers, user), nil
	}
	a.memMu.Lock()
	defer a.memMu.Unlock()
	age := a.now().Sub(a.membersAt)
	if a.members != nil && age < a.membersTTL && (a.members[user] || age < minMembersRecheck) {
		return a.members[user], nil
	}
	set := map[string]bool{}
	params := &slackgo.GetUsersInConversationParameters{ChannelID: a.cfg.Channel, Limit: 1000}
	for page := 0; page < 50; page++ {
		var ids []string
		var next string
		err := a.call(func() error {
			var err error
			ids, next, err = a.api.GetUsersInConversationContext(ctx, params)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("conversations.members: %w", err)
		}
		for _, id := range ids {
			set[id] = true
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	a.members, a.membersAt = set, a.now()
	a.log.LogAttrs(ctx, slog.LevelDebug, "slack.members_refreshed", slog.Int("members", len(set)))
	return set[user], nil
}

// ephemeral tells user something only they see, in the triage channel (in
// a thread when threadTS is set). Best effort: a failure is logged.
func (a *Adapter) ephemeral(ctx context.Context, channel, user, threadTS, text string) {
	if channel == "" {
		channel = a.cfg.Channel
	}
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false)}
	if threadTS != "" {
		opts = append(opts, slackgo.MsgOptionTS(threadTS))
	}
	err := a.call(func() error {
		_, err := a.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.ephemeral_failed", slog.String("user", user), slog.String("error", errCode(err)))
	}
}

// react adds an emoji reaction to a message. Best effort.
func (a *Adapter) react(ctx context.Context, channel, ts, name string) {
	err := a.call(func() error {
		return a.api.AddReactionContext(ctx, name, slackgo.NewRefToMessage(channel, ts))
	})
	if err != nil && errCode(err) != "already_reacted" {
		a.log.LogAttrs(ctx, slog.LevelWarn, "slack.reaction_failed", slog.String("error", errCode(err)))
	}
}

// postThread posts text in the thread of the message at ts.
func (a *Adapter) postThread(ctx context.Context, channel, ts, text string, broadcast bool) error {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(text, false), slackgo.MsgOptionTS(ts), slackgo.MsgOptionDisableLinkUnfurl()}
	if broadcast {
		opts = append(opts, slackgo.MsgOptionBroadcast())
	}
	err := a.call(func() error {
		_, _, err := a.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.postMessage: %w", err)
	}
	return nil
}
