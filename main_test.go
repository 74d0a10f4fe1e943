package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runArgs runs the program as a test would from a shell.
func runArgs(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), args, strings.NewReader(stdin), &out, getenv)
	return out.String(), err
}

func TestValidateShippedFlows(t *testing.T) {
	out, err := runArgs(t, nil, "", "validate")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "flows.yaml: ok: ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("summary = %q", out)
	}
}

func TestValidateNamesTheLine(t *testing.T) {
	data, err := os.ReadFile("flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(string) string
		wantMsg string
		// atLine is text on the line the error must name.
		atLine string
	}{
		{"unknown field", func(s string) string {
			return strings.Replace(s, "  short_name:", "  shortname:", 1)
		}, `unknown field "shortname"`, "shortname:"},
		{"missing step", func(s string) string {
			return strings.Replace(s, "        next: call_days", "        next: call_dayz", 1)
		}, `missing step "call_dayz"`, "next: call_dayz"},
		{"undefined placeholder", func(s string) string {
			return strings.Replace(s, "How would you like us to reach you, {answer.name}?", "Reach you at {program.fax}?", 1)
		}, "{program.fax}", "{program.fax}"},
		{"missing crisis reply", func(s string) string {
			i := strings.Index(s, "  reply: |")
			j := strings.Index(s, "  paused:")
			return s[:i] + s[j:]
		}, "crisis reply", "safety:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edited := tc.edit(string(data))
			if edited == string(data) {
				t.Fatal("the edit changed nothing: update the test")
			}
			path := filepath.Join(t.TempDir(), "flows.yaml")
			if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := runArgs(t, nil, "", "validate", path)
			if err == nil {
				t.Fatal("validate accepted a broken file")
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(err))
			}
			line := 1 + strings.Count(edited[:strings.Index(edited, tc.atLine)], "\n")
			want := fmt.Sprintf("%s:%d: ", path, line)
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not name %q and %q", err, want, tc.wantMsg)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"chat", "--nope"}, {"validate", "a", "b"}} {
		_, err := runArgs(t, nil, "", args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	if _, err := runArgs(t, nil, "", "validate", "/does/not/exist.yaml"); err == nil || exitCode(err) != 2 {
		t.Errorf("missing flows file: err = %v, want exit 2", err)
	}
}
