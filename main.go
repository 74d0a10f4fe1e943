// Command intakebot is a conversational intake service for adult
// mental-health intensive outpatient programs: it answers questions about
// IOP care, walks people through a consented pre-intake, answers a crisis at
// once, and hands triage-ready cases to staff.
//
// Usage:
//
//	intakebot chat [--jsonl] [--db PATH] [--flows PATH]
//	intakebot validate [flows.yaml]
//	intakebot serve
//	intakebot help
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Getenv)
	stop()
	if err != nil {
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintln(os.Stderr, "intakebot: "+line)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a mistake in how the program was called or configured:
// exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what every command gets from run: the process's streams
// and configuration.
type environment struct {
	stdin  io.Reader
	stdout io.Writer
	getenv func(string) string
}

// commands lists the subcommands.
func commands() map[string]command {
	cmds := map[string]command{
		"chat":     {"talk to the bot in this terminal (--jsonl: one JSON turn per line)", runChat},
		"validate": {"check a flows file and print a summary", runValidate},
		"serve":    {"run every adapter whose credentials are set, the outbox, /healthz, /readyz, /metrics", runServe},
	}
	// cmd_llm.go
	cmds["eval-rephrase"] = command{"run every rephrasable text through the configured LLM; count passes and fallbacks", runEvalRephrase}
	for name, c := range adminCommands() { // cmd_admin.go
		cmds[name] = c
	}
	return cmds
}

// run is the whole program, testable: main only adds the process around it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	env := &environment{stdin: stdin, stdout: stdout, getenv: getenv}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout, cmds)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return usagef("unknown command %q (try: intakebot help)", args[0])
	}
	return cmd.run(ctx, env, args[1:])
}

func printUsage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: intakebot <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
}
