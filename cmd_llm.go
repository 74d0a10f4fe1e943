package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"intakebot/adapters/llm"
	"intakebot/bot"
	"intakebot/flows"
	"intakebot/store"
)

// The store's cache table is the rephraser's shared cache: serve passes
// llm.WithCache(st.Cache()).
var _ llm.Cache = store.Cache{}

// rephrasable is one text the engine may offer the rephraser.
type rephrasable struct {
	id   string // "faq:<id>" or "step:<flow>/<step>"
	text string
}

// rephrasableTexts lists, in file order, every text the engine may offer
// the rephraser: FAQ answers and the texts of say, end, ask and choose
// steps marked rephrasable, without {answer.*} placeholders (the engine
// never offers those: they would carry a participant's answers).
// {program.*} placeholders were rendered by flows.Load.
func rephrasableTexts(spec *flows.Spec) []rephrasable {
	var out []rephrasable
	for _, e := range spec.FAQ {
		if e.Rephrasable && strings.TrimSpace(e.Answer) != "" {
			out = append(out, rephrasable{"faq:" + e.ID, strings.TrimSpace(e.Answer)})
		}
	}
	for _, f := range spec.Flows {
		for _, st := range f.Steps {
			switch st.Kind {
			case flows.KindSay, flows.KindEnd, flows.KindAsk, flows.KindChoose:
			default:
				continue
			}
			if st.Rephrasable && strings.TrimSpace(st.Text) != "" && !strings.Contains(st.Text, "{answer.") {
				out = append(out, rephrasable{"step:" + f.ID + "/" + st.ID, st.Text})
			}
		}
	}
	return out
}

// runEvalRephrase runs every rephrasable text through the configured
// endpoint and prints how many rephrasings passed and why the others fell
// back, so an admin can judge a model before turning it on.
func runEvalRephrase(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("eval-rephrase", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flowsFlag := fs.String("flows", "", "flows file (default $INTAKEBOT_FLOWS, else ./flows.yaml)")
	verbose := fs.Bool("v", false, "print each text's verdict with the scripted text and the model's output")
	const usage = "usage: intakebot eval-rephrase [--flows PATH] [-v]"
	if err := fs.Parse(args); err != nil {
		return usagef("eval-rephrase: %v (%s)", err, usage)
	}
	if fs.NArg() > 0 {
		return usagef("eval-rephrase: unexpected argument %q (%s)", fs.Arg(0), usage)
	}
	cfg, err := llm.FromEnv(env.getenv)
	if err != nil {
		return usageError{err}
	}
	if !cfg.Enabled() {
		return usagef("eval-rephrase: no model configured: set %s (with %s for OpenAI, or %s for another endpoint)",
			llm.EnvModel, llm.EnvAPIKey, llm.EnvBaseURL)
	}
	spec, err := loadFlows(flowsPath(env, *flowsFlag))
	if err != nil {
		return err
	}
	texts := rephrasableTexts(spec)
	r, err := llm.NewRephraser(cfg, spec, llm.WithLogger(newLogger(env, slog.LevelError)))
	if err != nil {
		return fmt.Errorf("eval-rephrase: %w", err)
	}
	w := env.stdout
	fmt.Fprintf(w, "eval-rephrase: %s; model %s, style %s, prompt %s, timeout %s\n",
		plural(len(texts), "rephrasable text"), cfg.Model, cfg.Style, llm.PromptVersion, cfg.Timeout)
	counts := map[llm.Reason]int{}
	var latencies []time.Duration
	for _, t := range texts {
		res := r.Try(ctx, bot.RephraseRequest{Text: t.text})
		counts[res.Reason]++
		if res.Called {
			latencies = append(latencies, res.Latency)
		}
		if *verbose {
			fmt.Fprintf(w, "\n%s: %s (%s)\n  scripted: %s\n", t.id, res.Reason, res.Latency.Round(time.Millisecond), oneLine(t.text))
			if res.Output != "" {
				fmt.Fprintf(w, "  model:    %s\n", oneLine(res.Output))
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("eval-rephrase: %w", ctx.Err())
		}
	}
	if *verbose {
		fmt.Fprintln(w)
	}
	printEval(w, counts, latencies, len(texts))
	if cfg.ChooseFAQ {
		if err := evalChooser(ctx, env, w, cfg, spec); err != nil {
			return err
		}
	}
	var failed, passed int
	for reason, n := range counts {
		switch reason {
		case llm.ReasonTimeout, llm.ReasonAPIError, llm.ReasonRequestError, llm.ReasonTransport, llm.ReasonBreakerOpen:
			failed += n
		}
		if reason.Used() {
			passed += n
		}
	}
	if passed == 0 && failed > 0 {
		return fmt.Errorf("eval-rephrase: the endpoint failed every call (%d failures): check %s, %s and %s",
			failed, llm.EnvBaseURL, llm.EnvAPIKey, llm.EnvModel)
	}
	return nil
}

// evalChooser asks the FAQ chooser, for the first example question of each
// FAQ entry, to pick among three entries (the matcher's best, with the
// right one among them) and prints how often it picked the right one.
func evalChooser(ctx context.Context, env *environment, w io.Writer, cfg llm.Config, spec *flows.Spec) error {
	c, err := llm.NewChooser(cfg, llm.WithLogger(newLogger(env, slog.LevelError)))
	if err != nil {
		return fmt.Errorf("eval-rephrase: %w", err)
	}
	right, wrong, none, n := 0, 0, 0, 0
	for i, e := range spec.FAQ {
		if len(e.Questions) == 0 {
			continue
		}
		q := e.Questions[0]
		opts := chooserOptions(spec, q, e.ID, i)
		if len(opts) < 2 {
			continue
		}
		n++
		id, ok := c.ChooseFAQ(ctx, q, opts)
		switch {
		case !ok:
			none++
		case id == e.ID:
			right++
		default:
			wrong++
		}
		if ctx.Err() != nil {
			return fmt.Errorf("eval-rephrase: %w", ctx.Err())
		}
	}
	fmt.Fprintf(w, "chooser   %d of %d example questions routed right, %d wrong, %d no choice (the buttons are shown)\n",
		right, n, wrong, none)
	return nil
}

// chooserOptions returns three FAQ options for question q: the matcher's
// best candidates, with the right entry among them at a position that
// varies with seed, filled up with other entries.
func chooserOptions(spec *flows.Spec, q, rightID string, seed int) []bot.FAQOption {
	var ids []string
	add := func(id string) {
		if len(ids) < 3 && !slices.Contains(ids, id) && spec.FAQEntry(id) != nil {
			ids = append(ids, id)
		}
	}
	for _, c := range spec.Matcher().Match(q).Candidates {
		if c.ID != rightID {
			add(c.ID)
		}
	}
	for _, e := range spec.FAQ {
		if e.ID != rightID {
			add(e.ID)
		}
	}
	if len(ids) == 3 {
		ids = ids[:2]
	}
	pos := seed % (len(ids) + 1)
	ids = slices.Insert(ids, pos, rightID)
	opts := make([]bot.FAQOption, 0, len(ids))
	for _, id := range ids {
		opts = append(opts, bot.FAQOption{ID: id, Title: spec.FAQEntry(id).Title})
	}
	return opts
}

// printEval prints the pass and fallback counts by reason, and latencies.
func printEval(w io.Writer, counts map[llm.Reason]int, latencies []time.Duration, total int) {
	passed := counts[llm.ReasonOK] + counts[llm.ReasonCacheHit]
	pct := func(n int) string {
		if total == 0 {
			return "0%"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(total))
	}
	fmt.Fprintf(w, "passed    %3d  %s\n", passed, pct(passed))
	fmt.Fprintf(w, "fallback  %3d  %s  (the scripted text is sent)\n", total-passed, pct(total-passed))
	type row struct {
		reason llm.Reason
		n      int
	}
	var rows []row
	for reason, n := range counts {
		if !reason.Used() {
			rows = append(rows, row{reason, n})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].reason < rows[j].reason
	})
	for _, r := range rows {
		fmt.Fprintf(w, "  %-16s %3d\n", r.reason, r.n)
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		fmt.Fprintf(w, "latency   median %s, max %s over %d calls\n",
			latencies[len(latencies)/2].Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond), len(latencies))
	}
}

// oneLine shows a multi-line text on one line.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ⏎ ") }
