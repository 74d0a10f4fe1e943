// Package evaldata reads the evaluation data sets that live beside the
// project in ../shared/data, in place: they are never copied into the
// repository. Tests in any package use it to run real people's questions
// through the matcher, the crisis screen or the whole engine.
package evaldata

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Question is one unique question of the counsel-chat data set.
type Question struct {
	ID    string
	Topic string
	// Text is the question's title and body, as a person would send them.
	Text string
}

// CounselChatPath is where the counsel-chat data set is, relative to the
// repository's root: ../shared/data beside the checkout.
func CounselChatPath() string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(root, "..", "shared", "data", "counsel-chat", "20200325_counsel_chat.csv")
}

// CounselChat reads the data set's unique questions (one per questionID;
// the file has a row per answer). The error wraps os.ErrNotExist when the
// file is absent.
func CounselChat(path string) ([]Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("counsel-chat: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("counsel-chat header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, c := range []string{"questionID", "questionTitle", "questionText", "topic"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("counsel-chat: no column %s", c)
		}
	}
	seen := map[string]bool{}
	var qs []Question
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("counsel-chat: %w", err)
		}
		id := rec[col["questionID"]]
		if seen[id] {
			continue
		}
		seen[id] = true
		qs = append(qs, Question{ID: id, Topic: rec[col["topic"]], Text: rec[col["questionTitle"]] + " " + rec[col["questionText"]]})
	}
	return qs, nil
}

// CounselChatOrSkip returns the counsel-chat questions, or skips the test,
// saying so, when the data set is not beside the checkout.
func CounselChatOrSkip(tb testing.TB) []Question {
	tb.Helper()
	path := CounselChatPath()
	qs, err := CounselChat(path)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("counsel-chat data set not found at %s: skipping the real-question run", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if len(qs) != 815 {
		tb.Errorf("counsel-chat: %d unique questions, want 815", len(qs))
	}
	return qs
}
