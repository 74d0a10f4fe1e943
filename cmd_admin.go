package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// adminCommands are the subcommands for an admin without Slack: read
// intakes, migrate, rotate the data key, purge, inspect the outbox.
func adminCommands() map[string]command {
	return map[string]command{
		"intakes":    {"list intakes, or show one decrypted (intakes list|show)", runIntakes},
		"migrate":    {"apply database migrations", runMigrate},
		"rotate-key": {"re-encrypt stored data with a new data key", runRotateKey},
		"purge":      {"delete what the retention periods no longer allow", runPurge},
		"outbox":     {"list undelivered events, or requeue a dead one (outbox list|requeue)", runOutbox},
		"audit":      {"print the audit log: intake reads, staff actions, rotations, purges", runAudit},
	}
}

// adminFlags are the flags every admin command takes.
type adminFlags struct {
	fs   *flag.FlagSet
	db   *string
	as   *string
	json *bool
}

func newAdminFlags(name string) *adminFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &adminFlags{
		fs: fs,
		db: fs.String("db", "", "database: a SQLite path, sqlite:PATH or postgres://… (default $INTAKEBOT_DB, else ./intakebot.db)"),
	}
}

func (f *adminFlags) withAs() *adminFlags {
	f.as = f.fs.String("as", "", "operator name for the audit log (default $USER)")
	return f
}

func (f *adminFlags) withJSON() *adminFlags {
	f.json = f.fs.Bool("json", false, "print JSON")
	return f
}

// parse parses args, allowing flags after positional arguments
// ("intakes show ID --as ana"), and returns the positional ones.
func (f *adminFlags) parse(args []string, usage string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, usagef("%v (usage: %s)", err, usage)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dsn is the database named by --db or INTAKEBOT_DB, or the default file.
func (f *adminFlags) dsn(env *environment) string {
	if *f.db != "" {
		return *f.db
	}
	if v := env.getenv(store.EnvDB); v != "" {
		return v
	}
	return store.DefaultDB
}

// operator is who runs the command, for the audit log.
func (f *adminFlags) operator(env *environment) (string, error) {
	if f.as != nil && *f.as != "" {
		return *f.as, nil
	}
	if u := env.getenv("USER"); u != "" {
		return u, nil
	}
	return "", usagef("no operator for the audit log: pass --as NAME (or set $USER)")
}

// openAs names the operator for the audit log and opens the database, the
// first two things of every audited admin command.
func (f *adminFlags) openAs(ctx context.Context, env *environment, needKeys bool) (string, *store.Store, error) {
	op, err := f.operator(env)
	if err != nil {
		return "", nil, err
	}
	s, err := openAdminStore(ctx, env, f.dsn(env), needKeys)
	if err != nil {
		return "", nil, err
	}
	return op, s, nil
}

// openAdminStore opens an existing database for an admin command: with
// keys when the command reads sealed values. A SQLite file that does not
// exist is an error rather than a new empty database. Key problems are
// configuration errors (exit 2).
func openAdminStore(ctx context.Context, env *environment, dsn string, needKeys bool, extra ...store.Option) (*store.Store, error) {
	if _, err := openAdminStoreCheck(dsn); err != nil {
		return nil, err
	}
	opts := append([]store.Option{}, extra...)
	if needKeys {
		kr, err := store.LoadKeys(dsn, env.getenv)
		if err != nil {
			return nil, usageError{err}
		}
		opts = append(opts, store.WithKeys(kr))
	}
	return openWithKeys(ctx, dsn, opts...)
}

func openWithKeys(ctx context.Context, dsn string, opts ...store.Option) (*store.Store, error) {
	s, err := store.Open(ctx, dsn, opts...)
	if errors.Is(err, store.ErrWrongKey) || errors.Is(err, store.ErrNoKey) {
		return nil, usageError{err}
	}
	return s, err
}

const intakesUsage = "intakebot intakes list [--json] [--status new|claimed|contacted|closed] [--db DB] [--as NAME] | intakebot intakes show ID [--json] [--db DB] [--as NAME]"

// runIntakes lists intakes (nothing identifying: no key needed) or shows
// one decrypted. Both are written to the audit log under the operator.
func runIntakes(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		return usagef("intakes: say list or show (usage: %s)", intakesUsage)
	}
	switch args[0] {
	case "list":
		f := newAdminFlags("intakes list").withAs().withJSON()
		status := f.fs.String("status", "", "only intakes with this status")
		pos, err := f.parse(args[1:], intakesUsage)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("intakes list: unexpected argument %q (usage: %s)", pos[0], intakesUsage)
		}
		if *status != "" && !validStatus(*status) {
			return usagef("intakes list: unknown status %q (want new, claimed, contacted or closed)", *status)
		}
		op, s, err := f.openAs(ctx, env, false)
		if err != nil {
			return err
		}
		defer s.Close()
		list, err := s.ListIntakes(ctx, *status, 0, op)
		if err != nil {
			return err
		}
		if *f.json {
			if list == nil {
				list = []store.IntakeInfo{}
			}
			return writeJSON(env.stdout, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(env.stdout, "no intakes")
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tSTATUS\tURGENCY\tCHANNEL")
		for _, in := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.ID, in.Created.Local().Format("2006-01-02 15:04"), in.Status, in.Urgency, in.Channel)
		}
		return tw.Flush()
	case "show":
		f := newAdminFlags("intakes show").withAs().withJSON()
		pos, err := f.parse(args[1:], intakesUsage)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("intakes show: give one intake id (usage: %s)", intakesUsage)
		}
		op, s, err := f.openAs(ctx, env, true)
		if err != nil {
			return err
		}
		defer s.Close()
		in, err := s.Intake(ctx, pos[0], op)
		switch {
		case errors.Is(err, bot.ErrNotFound):
			return fmt.Errorf("no intake %s (it may have been deleted or purged)", pos[0])
		case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrUnknownKey):
			return fmt.Errorf("intake %s cannot be decrypted: %w", pos[0], err)
		case err != nil:
			return err
		}
		if *f.json {
			return writeJSON(env.stdout, in)
		}
		printIntake(env.stdout, in)
		return nil
	}
	return usagef("intakes: unknown action %q (usage: %s)", args[0], intakesUsage)
}

func validStatus(s string) bool {
	switch s {
	case bot.IntakeNew, bot.IntakeClaimed, bot.IntakeContacted, bot.IntakeClosed:
		return true
	}
	return false
}

// printIntake writes an intake for a person: its summary lines, the
// suggested level of care with its trace, and scores.
func printIntake(w io.Writer, in *bot.Intake) {
	fmt.Fprintf(w, "Intake %s\n", in.ID)
	fmt.Fprintf(w, "Created: %s   Status: %s   Urgency: %s   Channel: %s   Consent: %s\n",
		in.Created.Local().Format("2006-01-02 15:04"), in.Status, in.Urgency, in.Channel, in.ConsentVersion)
	if in.Source != "" {
		fmt.Fprintf(w, "Source: %s\n", in.Source)
	}
	fmt.Fprintln(w)
	shown := map[string]bool{}
	for _, l := range in.Summary {
		fmt.Fprintf(w, "%s: %s\n", l.Label, l.Value)
		shown[l.Field] = true
	}
	var rest []string
	for k := range in.Answers {
		if !shown[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		a := in.Answers[k]
		v := a.Display
		switch {
		case a.Skipped:
			v = "(skipped)"
		case v != "":
			// The display already carries any "other" text.
		case a.Value != "":
			v = a.Value
		default:
			v = strings.Join(a.Values, ", ")
			if a.Other != "" {
				v += " (" + a.Other + ")"
			}
		}
		fmt.Fprintf(w, "%s: %s\n", k, v)
	}
	if g := in.Suggestion; g != nil {
		fmt.Fprintf(w, "\nSuggested level of care (for the intake call to confirm): %s\n", g.Label)
		for _, t := range g.Trace {
			fmt.Fprintf(w, "  - %s\n", t)
		}
	}
	if len(in.Scores) > 0 {
		names := make([]string, 0, len(in.Scores))
		for k := range in.Scores {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintln(w, "\nScores:")
		for _, k := range names {
			sc := in.Scores[k]
			fmt.Fprintf(w, "  %s: %d", k, sc.Total)
			if sc.Band != "" {
				fmt.Fprintf(w, " (%s)", sc.Band)
			}
			fmt.Fprintln(w)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runMigrate applies the database migrations (Open does it too) and says
// which schema version the database is at.
func runMigrate(ctx context.Context, env *environment, args []string) error {
	const usage = "intakebot migrate [--db DB]"
	f := newAdminFlags("migrate")
	pos, err := f.parse(args, usage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("migrate: unexpected argument %q (usage: %s)", pos[0], usage)
	}
	s, err := store.Open(ctx, f.dsn(env))
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s database is at schema version %d\n", s.Dialect(), v)
	return nil
}

// runRotateKey re-encrypts every stored value with the new data key. With
// INTAKEBOT_DATA_KEY set, that is the new key and INTAKEBOT_OLD_DATA_KEYS
// lists the old ones; for a local SQLite database with a key file and no
// INTAKEBOT_DATA_KEY, a new key is made and replaces the file's.
func runRotateKey(ctx context.Context, env *environment, args []string) error {
	const usage = "INTAKEBOT_DATA_KEY=NEW INTAKEBOT_OLD_DATA_KEYS=OLD[,OLDER] intakebot rotate-key [--db DB] [--as NAME]"
	f := newAdminFlags("rotate-key").withAs()
	pos, err := f.parse(args, usage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("rotate-key: unexpected argument %q (usage: %s)", pos[0], usage)
	}
	op, err := f.operator(env)
	if err != nil {
		return err
	}
	dsn := f.dsn(env)
	if _, err := openAdminStoreCheck(dsn); err != nil {
		return err
	}
	kr, finish, err := store.RotationKeys(dsn, env.getenv)
	if err != nil {
		return usageError{fmt.Errorf("rotate-key: %w (usage: %s)", err, usage)}
	}
	s, err := openWithKeys(ctx, dsn, store.WithKeys(kr))
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.RotateKey(ctx, op)
	if err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, res.String())
	for _, u := range res.Unreadable {
		fmt.Fprintln(env.stdout, "  unreadable: "+u)
	}
	if env.getenv(store.EnvDataKey) == "" {
		if kf := store.KeyFile(dsn); kf != "" {
			fmt.Fprintf(env.stdout, "the key file %s now holds the new key\n", kf)
		}
	} else if len(res.Retired) > 0 {
		fmt.Fprintf(env.stdout, "%s can now be emptied\n", store.EnvOldDataKeys)
		if kf := store.KeyFile(dsn); kf != "" {
			if _, err := os.Stat(kf); err == nil {
				fmt.Fprintf(env.stdout, "the key file %s holds a retired key: delete it, or put the new key in it\n", kf)
			}
		}
	}
	return nil
}

// openAdminStoreCheck refuses a SQLite file that does not exist.
func openAdminStoreCheck(dsn string) (string, error) {
	if store.IsPostgres(dsn) {
		return dsn, nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	if _, err := os.Stat(path); err != nil {
		return "", usagef("no database at %s (pass --db or set %s)", path, store.EnvDB)
	}
	return path, nil
}

// runPurge deletes what the retention periods (INTAKEBOT_RETENTION_*) no
// longer allow and says how much.
func runPurge(ctx context.Context, env *environment, args []string) error {
	const usage = "intakebot purge [--db DB] [--json]"
	f := newAdminFlags("purge").withJSON()
	pos, err := f.parse(args, usage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("purge: unexpected argument %q (usage: %s)", pos[0], usage)
	}
	r, err := store.RetentionFromEnv(env.getenv)
	if err != nil {
		return usageError{err}
	}
	s, err := openAdminStore(ctx, env, f.dsn(env), false)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Purge(ctx, r)
	if err != nil {
		return err
	}
	if *f.json {
		return writeJSON(env.stdout, res)
	}
	fmt.Fprintf(env.stdout, "purged %d transcript messages (older than %s), %d closed intakes (closed over %s ago), %d update ids, %d outbox rows, %d cache entries\n",
		res.Transcript, shortDuration(r.Transcripts), res.Intakes, shortDuration(r.ClosedIntakes), res.Processed, res.Outbox, res.Cache)
	return nil
}

// shortDuration writes whole days as days.
func shortDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// runOutbox lists outbox events that are not delivered, or requeues a dead
// one after its cause was fixed.
func runOutbox(ctx context.Context, env *environment, args []string) error {
	const usage = "intakebot outbox list [--status pending|dead|delivered|cancelled] [--json] [--db DB] | intakebot outbox requeue ID [--as NAME] [--db DB]"
	if len(args) == 0 {
		return usagef("outbox: say list or requeue (usage: %s)", usage)
	}
	switch args[0] {
	case "list":
		f := newAdminFlags("outbox list").withJSON()
		status := f.fs.String("status", "", "only events with this status (default: pending and dead)")
		pos, err := f.parse(args[1:], usage)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("outbox list: unexpected argument %q (usage: %s)", pos[0], usage)
		}
		s, err := openAdminStore(ctx, env, f.dsn(env), false)
		if err != nil {
			return err
		}
		defer s.Close()
		var list []store.OutboxEntry
		statuses := []string{*status}
		if *status == "" {
			statuses = []string{store.OutboxPending, store.OutboxDead}
		}
		for _, st := range statuses {
			l, err := s.OutboxEntries(ctx, st, 0)
			if err != nil {
				return err
			}
			list = append(list, l...)
		}
		if *f.json {
			if list == nil {
				list = []store.OutboxEntry{}
			}
			return writeJSON(env.stdout, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(env.stdout, "no events")
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tATTEMPTS\tCREATED\tNEXT")
		for _, e := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Type, e.Status, e.Attempts,
				e.Created.Local().Format("2006-01-02 15:04:05"), e.Next.Local().Format("2006-01-02 15:04:05"))
		}
		return tw.Flush()
	case "requeue":
		f := newAdminFlags("outbox requeue").withAs()
		pos, err := f.parse(args[1:], usage)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("outbox requeue: give one event id (usage: %s)", usage)
		}
		op, s, err := f.openAs(ctx, env, false)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Requeue(ctx, pos[0], op); errors.Is(err, bot.ErrNotFound) {
			return fmt.Errorf("no dead event %s", pos[0])
		} else if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "event %s will be delivered again\n", pos[0])
		return nil
	}
	return usagef("outbox: unknown action %q (usage: %s)", args[0], usage)
}
