package slack

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Paths of the HTTP mode endpoints, as the app manifest names them.
const (
	EventsPath        = "/slack/events"
	InteractivityPath = "/slack/interactivity"
)

const maxRequestBody = 1 << 20

// verified reads the request body and checks Slack's signature over it
// with the signing secret (slack.NewSecretsVerifier, which also refuses a
// timestamp more than five minutes off). On failure it answers 401 and
// returns false: nothing else happens.
func (a *Adapter) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	sv, err := slackgo.NewSecretsVerifier(r.Header, a.cfg.SigningSecret)
	if err == nil {
		if _, err = sv.Write(body); err == nil {
			err = sv.Ensure()
		}
	}
	if err != nil {
		reason := "bad signature"
		switch {
		case errors.Is(err, slackgo.ErrExpiredTimestamp):
			reason = "stale timestamp"
		case errors.Is(err, slackgo.ErrMissingHeaders):
			reason = "unsigned"
		}
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "slack.request_rejected", slog.String("path", r.URL.Path), slog.String("reason", reason))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// EventsHandler receives the Events API in HTTP mode (mount it at
// POST /slack/events): it answers Slack's URL verification, and queues
// message events for the worker. A request whose signature is wrong or
// older than five minutes gets 401. Slack's retries (X-Slack-Retry-Num)
// are acknowledged like the first delivery and handled once, by event id.
// It answers 503 when the adapter is not running or its queue is full, so
// Slack tries again.
func (a *Adapter) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.verified(w, r)
		if !ok {
			return
		}
		ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
		if err != nil {
			if ev.Type == "" {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			// An event type slack-go does not know: nothing for us.
			w.WriteHeader(http.StatusOK)
			return
		}
		switch ev.Type {
		case slackevents.URLVerification:
			uv, _ := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
			if uv == nil {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, uv.Challenge)
		case slackevents.CallbackEvent:
			retry, _ := strconv.Atoi(r.Header.Get("X-Slack-Retry-Num"))
			if !a.enqueue(r.Context(), eventJob(ev, retry), false) {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

// InteractivityHandler receives button clicks in HTTP mode (mount it at
// POST /slack/interactivity). It answers at once and the worker applies
// the click; signatures are checked as by EventsHandler.
func (a *Adapter) InteractivityHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.verified(w, r)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			http.Error(w, "no payload", http.StatusBadRequest)
			return
		}
		var ic slackgo.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &ic); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		if !a.enqueue(r.Context(), job{interaction: &ic}, false) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
