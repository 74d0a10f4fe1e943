package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

const auditUsage = "intakebot audit [--subject ID] [--limit N] [--json] [--db DB] [--as NAME]"

// runAudit prints the audit log: who read which intake, which staff
// action changed which case, which key rotation or purge ran. Entries hold
// ids and action names only, so no key is needed; reading the log is
// itself recorded.
func runAudit(ctx context.Context, env *environment, args []string) error {
	f := newAdminFlags("audit").withAs().withJSON()
	subject := f.fs.String("subject", "", "only entries about this id (an intake, a handoff, a conversation)")
	limit := f.fs.Int("limit", 0, "at most this many entries, oldest first (0: all)")
	pos, err := f.parse(args, auditUsage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit: unexpected argument %q (usage: %s)", pos[0], auditUsage)
	}
	if *limit < 0 {
		return usagef("audit: --limit must not be negative")
	}
	op, s, err := f.openAs(ctx, env, false)
	if err != nil {
		return err
	}
	defer s.Close()
	entries, err := s.AuditLog(ctx, *subject, *limit)
	if err != nil {
		return err
	}
	if err := s.Audit(ctx, op, "audit read", *subject); err != nil {
		return err
	}
	if *f.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tACTOR\tACTION\tSUBJECT")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Subject)
	}
	return tw.Flush()
}
