package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"intakebot/adapters/llm"
	slackadapter "intakebot/adapters/slack"
	"intakebot/adapters/telegram"
	"intakebot/bot"
	"intakebot/store"
)

// DefaultAddr is where serve listens without INTAKEBOT_ADDR.
const DefaultAddr = "127.0.0.1:8080"

// shutdownGrace bounds a graceful stop: finishing turns in flight and
// flushing what can be sent.
const shutdownGrace = 20 * time.Second

// runServe runs every adapter whose credentials are set, the outbox
// dispatcher, the retention job, and /healthz, /readyz and /metrics, until
// the process is told to stop (SIGINT or SIGTERM); then it stops receiving,
// finishes the turns in flight, and flushes what can be sent.
func runServe(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbFlag := fs.String("db", "", "database (default $INTAKEBOT_DB, else ./intakebot.db)")
	flowsFlag := fs.String("flows", "", "flows file (default $INTAKEBOT_FLOWS, else ./flows.yaml)")
	addrFlag := fs.String("addr", "", "listen address (default $INTAKEBOT_ADDR, else "+DefaultAddr+")")
	if err := fs.Parse(args); err != nil {
		return usagef("serve: %v (usage: intakebot serve [--db DB] [--flows PATH] [--addr HOST:PORT])", err)
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := serveConfigFromEnv(env, *dbFlag, *addrFlag)
	if err != nil {
		return usageError{err}
	}
	spec, err := loadFlows(flowsPath(env, *flowsFlag))
	if err != nil {
		return err
	}
	log := newLogger(env, slog.LevelInfo)

	st, err := openWithKeys(ctx, cfg.db, store.WithKeys(cfg.keys), store.WithLogger(log))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newServeMetrics(reg)

	llmOpts, err := llm.EngineOptions(cfg.llm, spec, llm.WithRegisterer(reg), llm.WithCache(st.Cache()), llm.WithLogger(log))
	if err != nil {
		return usageError{fmt.Errorf("serve: %w", err)}
	}
	engine := bot.New(spec, st, append([]bot.Option{bot.WithLogger(log)}, llmOpts...)...)
	dispatcher := bot.NewDispatcher(st, bot.WithDispatchLogger(log))
	handler := &servingHandler{engine: engine, wake: dispatcher.Wake, metrics: metrics}

	mux := http.NewServeMux()
	var readiness []readyCheck
	readiness = append(readiness, readyCheck{"database", func(ctx context.Context) error { return st.DB().PingContext(ctx) }})

	// Staff messages go to the participant's own channel.
	participants := channelRouter{}
	dispatcher.Register(bot.EventStaffMessage, participants)
	var tg *telegram.Adapter
	if cfg.telegramOn {
		tg, err = telegram.New(cfg.telegram, handler, telegram.WithLogger(log), telegram.WithChoiceIDs(telegram.ChoiceIDs(spec)...),
			telegram.WithGroupNotice(spec.Messages.GroupOnly))
		if err != nil {
			return usageError{fmt.Errorf("serve: %w", err)}
		}
		participants["telegram"] = tg
		if p := cfg.telegram.WebhookPath(); p != "" {
			mux.Handle("POST "+p, tg.WebhookHandler())
		}
		readiness = append(readiness, readyCheck{"telegram", func(context.Context) error { return tg.Ready() }})
	}
	adapters := []string{}
	if tg != nil {
		adapters = append(adapters, "telegram")
	}
	if len(adapters) == 0 {
		log.Warn("serve: no participant channel configured (set TELEGRAM_BOT_TOKEN); serving health and the outbox only")
	}

	// Slack for staff: cases, crisis alerts and the thread relay, through
	// the outbox. Without it they wait in the outbox until it is set.
	var sl *slackadapter.Adapter
	if cfg.slackOn {
		sl, err = slackadapter.New(cfg.slack, st, bot.NewStaff(engine, st), spec,
			slackadapter.WithLogger(log), slackadapter.WithWake(dispatcher.Wake))
		if err != nil {
			return usageError{fmt.Errorf("serve: %w", err)}
		}
		for _, typ := range []string{bot.EventHandoff, bot.EventRelay, bot.EventDeleted, bot.EventUnreachable} {
			dispatcher.Register(typ, sl)
		}
		if cfg.slack.HTTPMode() {
			mux.Handle("POST "+slackadapter.EventsPath, sl.EventsHandler())
			mux.Handle("POST "+slackadapter.InteractivityPath, sl.InteractivityHandler())
		}
		readiness = append(readiness, readyCheck{"slack", func(context.Context) error { return sl.Ready() }})
	} else {
		log.Warn("serve: Slack is not configured (set SLACK_BOT_TOKEN and SLACK_CHANNEL): cases and crisis alerts wait in the outbox")
	}

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var problems []string
		for _, c := range readiness {
			if err := c.check(ctx); err != nil {
				problems = append(problems, c.name+": "+err.Error())
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, strings.Join(problems, "\n")+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return usageError{fmt.Errorf("serve: listen on %s: %w", cfg.addr, err)}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(env.stdout, "intakebot: serving on http://%s (channels: %s; database: %s)\n",
		ln.Addr(), strings.Join(append(adapters, "none")[:max(1, len(adapters))], ", "), st.Dialect())
	log.Info("serve: started", "addr", ln.Addr().String(), "dialect", st.Dialect(), "llm", cfg.llm.Enabled())

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: http: %w", err)
		}
		return nil
	})
	g.Go(func() error { return dispatcher.Run(gctx) })
	g.Go(func() error { return st.RunPurge(gctx, time.Hour, cfg.retention) })
	if tg != nil {
		g.Go(func() error {
			if err := tg.Run(gctx); err != nil {
				return fmt.Errorf("serve: telegram: %w", err)
			}
			return nil
		})
	}
	if sl != nil {
		g.Go(func() error {
			// A refused Slack token must not stop the participant side (crisis
			// replies never wait on Slack): log it; /readyz reports it.
			if err := sl.Run(gctx); err != nil {
				log.Error("serve: slack stopped", "error", err.Error())
			}
			return nil
		})
	}
	// Stop on a signal, or when a component failed.
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	log.Info("serve: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if tg != nil {
		// Stop receiving, finish the turns in flight, send their replies.
		if err := tg.Shutdown(sctx); err != nil {
			log.Warn("serve: telegram shutdown", "error", err.Error())
		}
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("serve: http shutdown", "error", err.Error())
	}
	stop()
	err = g.Wait()
	// Flush what can be sent now; the rest waits in the outbox.
	if _, ferr := dispatcher.RunOnce(sctx); ferr != nil {
		log.Warn("serve: final outbox flush", "error", ferr.Error())
	}
	log.Info("serve: stopped")
	return err
}

// channelRouter delivers a message for a participant through the adapter
// of the participant's channel (Data["channel"]).
type channelRouter map[string]bot.Notifier

// Notify implements bot.Notifier. An event for a channel this process does
// not serve stays in the outbox for a process that does (a temporary
// error), until the dispatcher's bound of attempts.
func (r channelRouter) Notify(ctx context.Context, ev bot.Event) error {
	ch, _ := ev.Data["channel"].(string)
	n, ok := r[ch]
	if !ok {
		return fmt.Errorf("no adapter for channel %q in this process", ch)
	}
	return n.Notify(ctx, ev)
}

type readyCheck struct {
	name  string
	check func(context.Context) error
}

// serveConfig is serve's configuration, from the environment with flags
// overriding.
type serveConfig struct {
	db         string
	addr       string
	keys       *store.Keyring
	retention  store.Retention
	telegram   telegram.Config
	telegramOn bool
	slack      slackadapter.Config
	slackOn    bool
	llm        llm.Config
}

// serveConfigFromEnv reads and checks every setting, so a bad value stops
// the service at once with a message naming the variable.
func serveConfigFromEnv(env *environment, dbFlag, addrFlag string) (serveConfig, error) {
	var c serveConfig
	var err error
	c.db = firstNonEmpty(dbFlag, env.getenv("INTAKEBOT_DB"), store.DefaultDB)
	c.addr = firstNonEmpty(addrFlag, env.getenv("INTAKEBOT_ADDR"), DefaultAddr)
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("INTAKEBOT_ADDR: %q is not host:port", c.addr)
	}
	if c.keys, err = store.RequireKey(env.getenv); err != nil {
		return c, err
	}
	if c.retention, err = store.RetentionFromEnv(env.getenv); err != nil {
		return c, err
	}
	if c.telegram, c.telegramOn, err = telegram.ConfigFromEnv(env.getenv); err != nil {
		return c, err
	}
	if c.slack, c.slackOn, err = slackadapter.ConfigFromEnv(env.getenv); err != nil {
		return c, err
	}
	if c.llm, err = llm.FromEnv(env.getenv); err != nil {
		return c, err
	}
	return c, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// servingHandler runs turns for the adapters, wakes the dispatcher when a
// turn queued something to deliver, and counts turns for /metrics.
type servingHandler struct {
	engine  *bot.Engine
	wake    func()
	metrics *serveMetrics
}

// Handle runs one turn (see bot.Engine.Handle).
func (h *servingHandler) Handle(ctx context.Context, in bot.Inbound) (bot.Output, error) {
	start := time.Now()
	out, err := h.engine.Handle(ctx, in)
	h.metrics.observe(in.Channel, out, err, time.Since(start))
	for _, ev := range out.Events {
		if ev.Deliver {
			h.wake()
			break
		}
	}
	return out, err
}

// MarkUnreachable records a chat that refuses messages (see
// bot.Engine.MarkUnreachable) and wakes the dispatcher to tell staff.
func (h *servingHandler) MarkUnreachable(ctx context.Context, key bot.Key, reason string) error {
	err := h.engine.MarkUnreachable(ctx, key, reason)
	h.wake()
	return err
}

// serveMetrics are the service's own metrics: turns by channel and result,
// their duration, and events by type. Never message text or ids.
type serveMetrics struct {
	turns    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	events   *prometheus.CounterVec
}

func newServeMetrics(reg prometheus.Registerer) *serveMetrics {
	m := &serveMetrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intakebot_turns_total", Help: "Turns handled, by channel and result (ok, duplicate, error, crisis).",
		}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "intakebot_turn_seconds", Help: "Time to handle a turn, storage included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"channel"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intakebot_events_total", Help: "Events emitted by turns, by type.",
		}, []string{"type"}),
	}
	reg.MustRegister(m.turns, m.duration, m.events)
	return m
}

func (m *serveMetrics) observe(channel string, out bot.Output, err error, d time.Duration) {
	result := "ok"
	switch {
	case errors.Is(err, bot.ErrDuplicate):
		result = "duplicate"
	case err != nil:
		result = "error"
	case out.Crisis():
		result = "crisis"
	}
	m.turns.WithLabelValues(channel, result).Inc()
	m.duration.WithLabelValues(channel).Observe(d.Seconds())
	for _, ev := range out.Events {
		m.events.WithLabelValues(ev.Type).Inc()
	}
}
