package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"intakebot/store"
)

// openStore opens the database named by dsn for a conversation: SQLite by
// default, PostgreSQL for a postgres:// URL. Without INTAKEBOT_DATA_KEY, a
// SQLite database gets a key file beside it (and one notice line saying so),
// so a newcomer's first `chat` just works.
func openStore(ctx context.Context, env *environment, dsn string, notice io.Writer, log *slog.Logger) (*store.Store, error) {
	kr, err := store.LoadOrCreateKey(dsn, env.getenv, notice)
	if err != nil {
		return nil, usageError{fmt.Errorf("data key: %w", err)}
	}
	return openWithKeys(ctx, dsn, store.WithKeys(kr), store.WithLogger(log))
}
