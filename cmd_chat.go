package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"intakebot/adapters/console"
	"intakebot/bot"
)

// localChat is the chat id of the terminal conversation: one person at one
// terminal, so the same database resumes the same conversation.
const localChat = "local"

// runChat talks to the bot in this terminal, or, with --jsonl, replays one
// turn per input line as JSON Lines.
func runChat(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	jsonl := fs.Bool("jsonl", false, "read one turn per line, write JSON Lines")
	dbFlag := fs.String("db", "", "database (default $INTAKEBOT_DB, else ./intakebot.db; a temporary one with --jsonl)")
	flowsFlag := fs.String("flows", "", "flows file (default $INTAKEBOT_FLOWS, else ./flows.yaml)")
	if err := fs.Parse(args); err != nil {
		return usagef("chat: %v (usage: intakebot chat [--jsonl] [--db PATH] [--flows PATH])", err)
	}
	if fs.NArg() > 0 {
		return usagef("chat: unexpected argument %q", fs.Arg(0))
	}
	spec, err := loadFlows(flowsPath(env, *flowsFlag))
	if err != nil {
		return err
	}
	dsn := *dbFlag
	if dsn == "" {
		dsn = env.getenv("INTAKEBOT_DB")
	}
	if dsn == "" {
		if *jsonl {
			dir, err := os.MkdirTemp("", "intakebot-")
			if err != nil {
				return fmt.Errorf("chat: temporary database: %w", err)
			}
			defer os.RemoveAll(dir)
			dsn = filepath.Join(dir, "chat.db")
		} else {
			dsn = "intakebot.db"
		}
	}
	// Notices (such as a new local key file) go to stderr in JSONL mode so
	// stdout stays pure JSON.
	var notice io.Writer = env.stdout
	if *jsonl {
		notice = os.Stderr
	}
	log := newLogger(env, slog.LevelWarn)
	st, err := openStore(ctx, env, dsn, notice, log)
	if err != nil {
		return err
	}
	defer st.Close()
	engine := bot.New(spec, st, bot.WithLogger(log))
	if *jsonl {
		return console.Replay(ctx, engine, localChat, env.stdin, env.stdout)
	}
	return console.Chat(ctx, engine, localChat, env.stdin, env.stdout)
}

// newLogger logs to stderr at INTAKEBOT_LOG_LEVEL (debug, info, warn,
// error), or at def. Logs carry ids and event names only.
func newLogger(env *environment, def slog.Level) *slog.Logger {
	level := def
	if v := env.getenv("INTAKEBOT_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
