package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAudit: reading an intake is in the audit log under the operator, and
// reading the log is recorded too; the log holds no name or phone.
func TestAudit(t *testing.T) {
	db := adminDB(t)
	if _, err := runArgs(t, nil, "", "intakes", "show", "intake-a", "--db", db, "--as", "ana"); err != nil {
		t.Fatal(err)
	}
	out, err := runArgs(t, nil, "", "audit", "--db", db, "--as", "ben", "--subject", "intake-a", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct{ Actor, Action, Subject string }
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	found := false
	for _, e := range entries {
		if e.Actor == "ana" && e.Subject == "intake-a" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no read by ana of intake-a in %+v", entries)
	}
	out, err = runArgs(t, nil, "", "audit", "--db", db, "--as", "ben")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "audit read") || strings.Contains(out, "Avery") || strings.Contains(out, "555") {
		t.Fatalf("audit log:\n%s", out)
	}
	for _, args := range [][]string{{"audit", "extra"}, {"audit", "--limit", "-1"}} {
		if _, err := runArgs(t, map[string]string{"USER": "x"}, "", append(args, "--db", db)...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}
