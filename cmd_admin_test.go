package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// adminDB makes a SQLite database with a key file beside it, as `chat`
// leaves them, holding one intake for "Avery Example".
func adminDB(t *testing.T) (dbPath string) {
	t.Helper()
	dbPath = filepath.Join(t.TempDir(), "intakebot.db")
	none := func(string) string { return "" }
	kr, err := store.LoadOrCreateKey(dbPath, none, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := store.Open(ctx, dbPath, store.WithKeys(kr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	err = s.Turn(ctx, bot.Key{Channel: "console", ChatID: "local"}, "1", func(c *bot.Conversation) (*bot.Changes, error) {
		c.State.Consent = &bot.Consent{Version: "v1", Granted: true, At: now, Scope: "pre-intake"}
		in := &bot.Intake{ID: "intake-a", Status: bot.IntakeNew, Urgency: bot.UrgencyRoutine, ConsentVersion: "v1", Created: now,
			Answers:    map[string]bot.Answer{"name": {Value: "Avery Example"}, "phone": {Value: "+12065550199", Display: "(206) 555-0199"}},
			Summary:    []bot.SummaryLine{{Field: "name", Label: "Name", Value: "Avery Example"}, {Field: "phone", Label: "Phone", Value: "(206) 555-0199"}},
			Suggestion: &bot.Suggestion{Level: "iop", Label: "Intensive outpatient (IOP)", Trace: []string{"rule: default"}}}
		return &bot.Changes{Conversation: c, Consent: c.State.Consent, Intake: in,
			Transcript: []bot.TranscriptEntry{{Direction: "in", Text: "hello", At: now.Add(-60 * 24 * time.Hour)}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dbPath
}

func TestIntakesCommands(t *testing.T) {
	db := adminDB(t)
	env := map[string]string{"USER": "ana"}

	out, err := runArgs(t, env, "", "intakes", "list", "--db", db)
	if err != nil || !strings.Contains(out, "intake-a") || !strings.Contains(out, "new") || strings.Contains(out, "Avery") {
		t.Fatalf("list = %q, %v (must show the id and nothing identifying)", out, err)
	}
	out, err = runArgs(t, env, "", "intakes", "list", "--json", "--status", "new", "--db", db)
	var list []store.IntakeInfo
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != "intake-a" {
		t.Fatalf("list --json = %q, %v", out, err)
	}
	out, err = runArgs(t, env, "", "intakes", "list", "--json", "--status", "closed", "--db", db)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty list --json = %q, %v", out, err)
	}

	out, err = runArgs(t, env, "", "intakes", "show", "intake-a", "--db", db, "--as", "bo")
	if err != nil || !strings.Contains(out, "Name: Avery Example") || !strings.Contains(out, "Intensive outpatient") {
		t.Fatalf("show = %q, %v", out, err)
	}
	out, err = runArgs(t, env, "", "intakes", "show", "--json", "--db", db, "intake-a")
	var in bot.Intake
	if err != nil || json.Unmarshal([]byte(out), &in) != nil || in.Answers["phone"].Value != "+12065550199" {
		t.Fatalf("show --json = %q, %v", out, err)
	}

	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := s.AuditLog(context.Background(), "intake-a", 0)
	s.Close()
	if len(log) != 2 || log[0].Actor != "bo" || log[1].Actor != "ana" || log[0].Action != "intake.read" {
		t.Fatalf("audit of reads = %+v", log)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"no action", env, []string{"intakes"}, 2, "list or show"},
		{"unknown action", env, []string{"intakes", "delete"}, 2, "unknown action"},
		{"unknown flag", env, []string{"intakes", "list", "--colour"}, 2, "colour"},
		{"bad status", env, []string{"intakes", "list", "--status", "open", "--db", db}, 2, "unknown status"},
		{"show without id", env, []string{"intakes", "show", "--db", db}, 2, "one intake id"},
		{"no operator", map[string]string{}, []string{"intakes", "show", "intake-a", "--db", db}, 2, "--as"},
		{"missing database", env, []string{"intakes", "list", "--db", filepath.Join(t.TempDir(), "none.db")}, 2, "no database"},
		{"unknown intake", env, []string{"intakes", "show", "nope", "--db", db}, 1, "no intake nope"},
		{"wrong key", map[string]string{"USER": "ana", store.EnvDataKey: store.NewKey()}, []string{"intakes", "show", "intake-a", "--db", db}, 2, "wrong data key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runArgs(t, tc.env, "", tc.args...)
			if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (exit %d), want exit %d mentioning %q", err, exitCode(err), tc.code, tc.msg)
			}
		})
	}
}

func TestShowWithoutKey(t *testing.T) {
	db := adminDB(t)
	if err := os.Remove(store.KeyFile(db)); err != nil {
		t.Fatal(err)
	}
	_, err := runArgs(t, map[string]string{"USER": "ana"}, "", "intakes", "show", "intake-a", "--db", db)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), store.EnvDataKey) {
		t.Fatalf("err = %v, want exit 2 naming %s", err, store.EnvDataKey)
	}
}

func TestMigratePurge(t *testing.T) {
	db := filepath.Join(t.TempDir(), "new.db")
	out, err := runArgs(t, nil, "", "migrate", "--db", "sqlite:"+db)
	// The newest migration shipped is the version a new database reaches.
	files, _ := filepath.Glob("store/migrations/sqlite/*.sql")
	want := fmt.Sprintf("sqlite database is at schema version %d", len(files))
	if err != nil || len(files) == 0 || !strings.Contains(out, want) {
		t.Fatalf("migrate = %q, %v; want %q", out, err, want)
	}
	db = adminDB(t)
	out, err = runArgs(t, nil, "", "purge", "--db", db)
	if err != nil || !strings.Contains(out, "purged 1 transcript messages (older than 30 days)") {
		t.Fatalf("purge = %q, %v", out, err)
	}
	_, err = runArgs(t, map[string]string{store.EnvRetentionClosed: "soon"}, "", "purge", "--db", db)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), store.EnvRetentionClosed) {
		t.Fatalf("bad retention: %v", err)
	}
}

// TestRotateKey: a local database is rotated to a fresh key that replaces
// its key file; with INTAKEBOT_DATA_KEY the new key comes from there and
// the old one from INTAKEBOT_OLD_DATA_KEYS.
func TestRotateKeyCommand(t *testing.T) {
	db := adminDB(t)
	env := map[string]string{"USER": "ana"}
	before, _ := os.ReadFile(store.KeyFile(db))
	out, err := runArgs(t, env, "", "rotate-key", "--db", db)
	if err != nil || !strings.Contains(out, "re-encrypted") || !strings.Contains(out, "now holds the new key") {
		t.Fatalf("rotate-key = %q, %v", out, err)
	}
	after, _ := os.ReadFile(store.KeyFile(db))
	if string(before) == string(after) {
		t.Fatal("the key file still holds the old key")
	}
	if _, err := os.Stat(store.KeyFile(db) + ".new"); !os.IsNotExist(err) {
		t.Fatal("the pending key file is left behind")
	}
	if out, err := runArgs(t, env, "", "intakes", "show", "intake-a", "--db", db); err != nil || !strings.Contains(out, "Avery") {
		t.Fatalf("show after rotation: %q, %v", out, err)
	}
	// Now to a key from the environment.
	newKey := store.NewKey()
	env2 := map[string]string{"USER": "ana", store.EnvDataKey: newKey, store.EnvOldDataKeys: strings.TrimSpace(string(after))}
	if out, err := runArgs(t, env2, "", "rotate-key", "--db", db); err != nil || !strings.Contains(out, "can now be emptied") {
		t.Fatalf("rotate-key from env = %q, %v", out, err)
	}
	env3 := map[string]string{"USER": "ana", store.EnvDataKey: newKey}
	if out, err := runArgs(t, env3, "", "intakes", "show", "intake-a", "--db", db); err != nil || !strings.Contains(out, "Avery") {
		t.Fatalf("show with the new key alone: %q, %v", out, err)
	}
	if _, err := runArgs(t, env, "", "rotate-key", "--db", "postgres://localhost/none"); err == nil || exitCode(err) != 2 {
		t.Fatalf("rotate-key with no key: %v", err)
	}
}
