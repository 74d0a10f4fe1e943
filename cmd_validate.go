package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"intakebot/flows"
)

// flowsPath picks the flows file: the argument, then INTAKEBOT_FLOWS, then
// ./flows.yaml.
func flowsPath(env *environment, arg string) string {
	if arg != "" {
		return arg
	}
	if p := env.getenv("INTAKEBOT_FLOWS"); p != "" {
		return p
	}
	return "flows.yaml"
}

// loadFlows loads and validates the flows file. A file with problems is a
// configuration error (exit 2) whose message lists every problem with its
// line.
func loadFlows(path string) (*flows.Spec, error) {
	spec, err := flows.Load(path)
	var verr *flows.ValidationError
	switch {
	case errors.As(err, &verr):
		return nil, usageError{verr}
	case err != nil:
		return nil, usageError{err}
	}
	return spec, nil
}

// runValidate checks a flows file and prints a one-line summary.
func runValidate(_ context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usagef("validate: %v (usage: intakebot validate [flows.yaml])", err)
	}
	if fs.NArg() > 1 {
		return usagef("validate takes one file, got %d", fs.NArg())
	}
	path := flowsPath(env, fs.Arg(0))
	spec, err := loadFlows(path)
	if err != nil {
		return err
	}
	steps := 0
	for _, f := range spec.Flows {
		steps += len(f.Steps)
	}
	rules := 0
	for _, c := range spec.Safety.Categories {
		rules += len(c.Rules)
	}
	fmt.Fprintf(env.stdout, "%s: ok: %s, %s, %s, %s (%s), %s, %s\n", path,
		plural(len(spec.Flows), "flow"), plural(steps, "step"), plural(len(spec.FAQ), "FAQ entry"),
		plural(len(spec.Safety.Categories), "crisis category"), plural(rules, "rule"),
		plural(len(spec.Instruments), "instrument"), plural(len(spec.Levels), "level of care"))
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	switch {
	case len(noun) > 5 && noun[len(noun)-5:] == "entry":
		noun = noun[:len(noun)-1] + "ies"
	case len(noun) > 8 && noun[len(noun)-8:] == "category":
		noun = noun[:len(noun)-1] + "ies"
	case noun == "level of care":
		noun = "levels of care"
	default:
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}
