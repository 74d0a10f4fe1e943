package slack

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Detail levels of a case message.
const (
	// DetailMinimum keeps names, contact details, typed answers and
	// assessment answers out of Slack: staff see what they need to triage
	// and read the full case with `intakebot intakes show ID`.
	DetailMinimum = "minimum"
	// DetailFull puts the whole summary, contact details and item scores
	// in Slack: only for a workspace covered by a business associate
	// agreement.
	DetailFull = "full"
)

// Defaults of Config.
const (
	DefaultRealert     = 10 * time.Minute
	DefaultMention     = "here"
	DefaultMembersTTL  = 5 * time.Minute
	defaultAPIURL      = "https://slack.com/api/"
	maxRealertMinutes  = 24 * 60
	minMembersRecheck  = 30 * time.Second
	defaultAlertPoll   = 30 * time.Second
	defaultQueueSize   = 256
	defaultJobTimeout  = 20 * time.Second
	defaultDrain       = 5 * time.Second
	defaultHoldOnError = 2 * time.Second
)

// Config is what a deployment sets (see ConfigFromEnv for the variables).
type Config struct {
	// BotToken is the bot user OAuth token (xoxb-…). Required.
	BotToken string
	// AppToken is the app-level token (xapp-…) with connections:write,
	// for Socket Mode: required unless SigningSecret is set.
	AppToken string
	// SigningSecret switches to HTTP mode: Slack posts events and button
	// clicks to /slack/events and /slack/interactivity, signed with it.
	SigningSecret string
	// Channel is the id of the triage channel (C… or G…). Required.
	Channel string
	// APIURL is the Web API base URL, ending in a slash; empty means
	// https://slack.com/api/. Tests point it at a fake.
	APIURL string
	// Detail is DetailMinimum (default) or DetailFull.
	Detail string
	// AlertMention is who an urgent case pages: "here" (default),
	// "channel", a user group id (S…), or "none".
	AlertMention string
	// Realert is how long an urgent case waits for an acknowledgement
	// before it pages again (default 10 minutes); zero turns re-alerts off.
	Realert time.Duration
	// AllowedUsers, when set, are the only user ids that may act on cases
	// and write to participants; otherwise every member of Channel may.
	AllowedUsers []string
}

// HTTPMode reports whether Slack reaches the service over HTTP (the signing
// secret is set) rather than over Socket Mode.
func (c Config) HTTPMode() bool { return c.SigningSecret != "" }

var (
	channelRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	userRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	groupRE   = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
)

// Validate reports the first problem with c, naming the environment
// variable an operator would fix. Secrets are never quoted.
func (c Config) Validate() error {
	if !strings.HasPrefix(c.BotToken, "xoxb-") || len(c.BotToken) < 10 {
		return errors.New("SLACK_BOT_TOKEN: not a bot token (expected xoxb-…)")
	}
	if !channelRE.MatchString(c.Channel) {
		return errors.New("SLACK_CHANNEL: want the triage channel's id (C… or G…, from the channel's details), not its name")
	}
	if c.SigningSecret == "" {
		if !strings.HasPrefix(c.AppToken, "xapp-") || len(c.AppToken) < 10 {
			return errors.New("SLACK_APP_TOKEN: required for Socket Mode (an app-level token, xapp-…, with connections:write); or set SLACK_SIGNING_SECRET for HTTP mode")
		}
	} else if len(c.SigningSecret) < 16 {
		return errors.New("SLACK_SIGNING_SECRET: too short to be a signing secret (Basic Information → App Credentials)")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasSuffix(c.APIURL, "/") {
			return errors.New("SLACK_API_URL: not an http(s) URL ending in /")
		}
	}
	switch c.Detail {
	case "", DetailMinimum, DetailFull:
	default:
		return errors.New("SLACK_DETAIL: want minimum or full")
	}
	if _, err := mentionOf(c.AlertMention); err != nil {
		return err
	}
	if c.Realert < 0 || c.Realert > maxRealertMinutes*time.Minute {
		return fmt.Errorf("SLACK_REALERT_MINUTES: want 0 (off) to %d", maxRealertMinutes)
	}
	for _, u := range c.AllowedUsers {
		if !userRE.MatchString(u) {
			return fmt.Errorf("SLACK_ALLOWED_USERS: %q is not a user id (U… or W…)", u)
		}
	}
	return nil
}

// mentionOf returns the mrkdwn that pages who m names.
func mentionOf(m string) (string, error) {
	switch m {
	case "", DefaultMention:
		return "<!here>", nil
	case "channel":
		return "<!channel>", nil
	case "none":
		return "", nil
	}
	if groupRE.MatchString(m) {
		return "<!subteam^" + m + ">", nil
	}
	return "", errors.New(`SLACK_ALERT_MENTION: want "here", "channel", "none" or a user group id (S…)`)
}

// ConfigFromEnv reads the Slack configuration: SLACK_BOT_TOKEN,
// SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL, SLACK_API_URL,
// SLACK_DETAIL (minimum|full), SLACK_ALERT_MENTION (here|channel|none|S…),
// SLACK_REALERT_MINUTES (default 10, 0 off) and SLACK_ALLOWED_USERS (comma
// separated user ids). enabled is false when no bot token is set (Slack is
// not wanted); err names the variable with a bad value.
func ConfigFromEnv(getenv func(string) string) (cfg Config, enabled bool, err error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg = Config{
		BotToken:      get("SLACK_BOT_TOKEN"),
		AppToken:      get("SLACK_APP_TOKEN"),
		SigningSecret: get("SLACK_SIGNING_SECRET"),
		Channel:       get("SLACK_CHANNEL"),
		APIURL:        get("SLACK_API_URL"),
		Detail:        strings.ToLower(get("SLACK_DETAIL")),
		AlertMention:  get("SLACK_ALERT_MENTION"),
		Realert:       DefaultRealert,
	}
	if cfg.BotToken == "" {
		for _, k := range []string{"SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL"} {
			if get(k) != "" {
				return cfg, false, fmt.Errorf("%s is set but SLACK_BOT_TOKEN is not", k)
			}
		}
		return cfg, false, nil
	}
	if cfg.APIURL != "" && !strings.HasSuffix(cfg.APIURL, "/") {
		// slack-go joins the method name straight onto the base URL.
		cfg.APIURL += "/"
	}
	cfg.AlertMention = strings.TrimPrefix(cfg.AlertMention, "@")
	switch m := strings.ToLower(cfg.AlertMention); m {
	case "here", "channel", "none":
		cfg.AlertMention = m
	}
	if v := get("SLACK_REALERT_MINUTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxRealertMinutes {
			return cfg, true, fmt.Errorf("SLACK_REALERT_MINUTES: want a whole number of minutes from 0 (off) to %d", maxRealertMinutes)
		}
		cfg.Realert = time.Duration(n) * time.Minute
	}
	if v := get("SLACK_ALLOWED_USERS"); v != "" {
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				cfg.AllowedUsers = append(cfg.AllowedUsers, u)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, true, err
	}
	return cfg, true, nil
}
