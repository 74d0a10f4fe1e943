package bot_test

import (
	"os"
	"path/filepath"
	"testing"

	"intakebot/bot/bottest"
	"intakebot/flows"
)

// mustSpec loads the shipped flows.yaml.
func mustSpec(tb testing.TB) *flows.Spec {
	tb.Helper()
	path := "../flows.yaml"
	if p := os.Getenv("INTAKEBOT_TEST_FLOWS"); p != "" {
		// Lets a developer test the engine against another flows file.
		path = p
	}
	spec, err := flows.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

// TestTranscripts plays every conversation in testdata/transcripts.
func TestTranscripts(t *testing.T) {
	spec := mustSpec(t)
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			bottest.RunTranscript(t, spec, f)
		})
	}
}
