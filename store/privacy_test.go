package store_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intakebot/bot"
	"intakebot/store"
)

// secrets are identifying or health values a participant gives; none may
// appear in clear anywhere in the database files.
var secrets = []string{
	"Jordan Quillfeather",      // name
	"+12065550123",             // phone, E.164
	"(206) 555-0123",           // phone as typed
	"jordan.quill@example.com", // email
	"panic attacks at work",    // an answer
	"Blue Cross Platinum",      // insurance
	"MEMBER-77341",             // member id
	"987654321",                // the chat id
	"nobody knows I drink",     // a relayed message
}

// intakeTurn is a turn that saves a complete intake with its transcript,
// handoff and events, carrying every secret.
func intakeTurn(now time.Time) bot.TurnFunc {
	return func(c *bot.Conversation) (*bot.Changes, error) {
		answers := map[string]bot.Answer{
			"name":      {Value: secrets[0], Display: secrets[0]},
			"phone":     {Value: secrets[1], Display: secrets[2]},
			"email":     {Value: secrets[3]},
			"concerns":  {Values: []string{"anxiety", "other"}, Other: secrets[4]},
			"insurance": {Value: secrets[5]},
			"member_id": {Value: secrets[6]},
		}
		c.State.Consent = consentGranted(now)
		c.State.Answers = answers
		in := &bot.Intake{ID: "intake-1", ConversationID: c.ID, Channel: "telegram", Status: bot.IntakeNew, Urgency: bot.UrgencyRoutine,
			ConsentVersion: "v1", Answers: answers, Created: now,
			Summary:    []bot.SummaryLine{{Field: "name", Label: "Name", Value: secrets[0]}, {Field: "phone", Label: "Phone", Value: secrets[2]}},
			Scores:     map[string]bot.Score{"phq9": {Instrument: "phq9", Total: 17, Band: "moderately severe"}},
			Suggestion: &bot.Suggestion{Level: "iop", Label: "Intensive outpatient", Trace: []string{"phq9 17"}}}
		return &bot.Changes{
			Conversation: c,
			Consent:      c.State.Consent,
			Transcript: []bot.TranscriptEntry{
				{Direction: "in", Text: "my name is " + secrets[0] + ", call " + secrets[2], At: now},
				{Direction: "out", Text: "Thanks " + secrets[0], At: now},
				{Direction: "in", Text: secrets[3] + " " + secrets[4], At: now},
			},
			Intake:   in,
			Handoffs: []bot.Handoff{{ID: "handoff-1", IntakeID: in.ID, Reason: bot.ReasonIntake, Urgency: bot.UrgencyRoutine, Created: now}},
			Events: []bot.Event{
				{ID: "ev-saved", Type: bot.EventIntakeSaved, Data: map[string]any{"id": in.ID}, At: now},
				{ID: "ev-handoff", Type: bot.EventHandoff, Data: map[string]any{"handoff_id": "handoff-1"}, At: now, Deliver: true},
				{ID: "ev-relay", Type: bot.EventRelay, Data: map[string]any{"text": secrets[8]}, At: now, Deliver: true},
			},
		}, nil
	}
}

// TestNoClearTextOnDisk greps the raw SQLite file and its WAL for every
// secret after a full intake, a staff message and a handoff closed with an
// outcome: none is there in clear.
func TestNoClearTextOnDisk(t *testing.T) {
	path := sqliteFile(t)
	s := mustOpen(t, path, store.WithKeys(mustKeys(t, testKey())))
	now := time.Now()
	if err := s.Turn(ctx, chat, "1", intakeTurn(now)); err != nil {
		t.Fatal(err)
	}
	var convID string
	s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) { convID = c.ID; return nil, nil })
	if err := s.TurnByID(ctx, convID, staffMessage("Hi "+secrets[0]+", we will call "+secrets[1], "U123")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateHandoff(ctx, "handoff-1", store.HandoffUpdate{Actor: "U123", Status: bot.IntakeClosed, Outcome: "enrolled; " + secrets[4]}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(path + "*")
		if len(files) < 2 {
			t.Fatalf("%s: expected the database and its WAL, got %v", when, files)
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v, want readable by its owner only", filepath.Base(f), fi.Mode())
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range secrets {
				for _, form := range []string{sec, strings.ToLower(sec)} {
					if bytes.Contains(data, []byte(form)) {
						t.Errorf("%s: %s holds %q in clear", when, filepath.Base(f), form)
					}
				}
			}
		}
	}
	check("open")
	// Everything reads back.
	in, err := s.Intake(ctx, "intake-1", "tester")
	if err != nil || in.Answers["name"].Value != secrets[0] || in.Suggestion.Level != "iop" {
		t.Fatalf("intake read back: %+v, %v", in, err)
	}
	if _, err := s.DB().Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		t.Fatal(err)
	}
	check("after checkpoint")
}

// TestDeclinedConsentStoresNothingIdentifying runs the real engine: a
// person opens the intake and declines consent, then asks a question.
// There is no transcript, no intake, no answer, and only a consent row
// that says no.
func TestDeclinedConsentStoresNothingIdentifying(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		e := bot.New(mustSpec(t), s)
		for i, in := range []bot.Inbound{
			{Text: "/start"}, {Choice: "flow:intake"}, {Text: "no thanks"}, {Text: "what is an iop"},
		} {
			in.Channel, in.ChatID, in.UpdateID = chat.Channel, chat.ChatID, string(rune('a'+i))
			if _, err := e.Handle(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		for table, want := range map[string]int{"transcript": 0, "intakes": 0, "handoffs": 0, "outbox": 0, "consents": 1} {
			if n := count(t, s, table, ""); n != want {
				t.Errorf("%s: %d rows, want %d", table, n, want)
			}
		}
		if n := count(t, s, "consents", "granted = ?", false); n != 1 {
			t.Errorf("the consent row does not say no")
		}
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) {
			if len(c.State.Answers) != 0 || c.State.Consent == nil || c.State.Consent.Granted {
				t.Errorf("state after decline: %+v", c.State)
			}
			return nil, nil
		})
	})
}

// TestKeys: a wrong key is refused at Open with a clear error; no key
// refuses every sealed read and write without writing anything; the right
// key still works afterwards.
func TestKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		right := testKey()
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, right)))
		if err := s.Turn(ctx, chat, "1", intakeTurn(time.Now())); err != nil {
			t.Fatal(err)
		}
		s.Close()

		_, err := store.Open(ctx, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), store.EnvDataKey) {
			t.Fatalf("wrong key: err = %v, want ErrWrongKey naming %s", err, store.EnvDataKey)
		}

		nokey := mustOpen(t, b.dsn)
		before := count(t, nokey, "processed", "")
		called := false
		err = nokey.Turn(ctx, chat, "2", func(c *bot.Conversation) (*bot.Changes, error) { called = true; return nil, nil })
		if !errors.Is(err, store.ErrNoKey) || called {
			t.Fatalf("no key: err = %v (fn called: %v), want ErrNoKey", err, called)
		}
		if _, err := nokey.Intake(ctx, "intake-1", "tester"); !errors.Is(err, store.ErrNoKey) {
			t.Fatalf("no key: intake read err = %v", err)
		}
		if n := count(t, nokey, "processed", ""); n != before {
			t.Fatalf("a refused turn wrote its update id")
		}
		// Lists show nothing sealed and need no key.
		if l, err := nokey.ListIntakes(ctx, "", 0, "tester"); err != nil || len(l) != 1 {
			t.Fatalf("list without key: %v, %v", l, err)
		}

		again := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, right)))
		if in, err := again.Intake(ctx, "intake-1", "tester"); err != nil || in.Answers["email"].Value != secrets[3] {
			t.Fatalf("right key after refusals: %v", err)
		}
	})
}

// TestCorruptCiphertext: a damaged intake is reported by id while the
// others stay readable; a damaged conversation state starts afresh rather
// than locking the person out, and leaves an audit entry.
func TestCorruptCiphertext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := mustOpen(t, b.dsn, store.WithKeys(mustKeys(t, testKey())))
		now := time.Now()
		if err := s.Turn(ctx, chat, "1", intakeTurn(now)); err != nil {
			t.Fatal(err)
		}
		other := bot.Key{Channel: "telegram", ChatID: "2"}
		if err := s.Turn(ctx, other, "2", turnWith(func(c *bot.Conversation) *bot.Changes {
			return &bot.Changes{Conversation: c, Intake: &bot.Intake{ID: "intake-2", Answers: map[string]bot.Answer{"name": {Value: "Sam"}}}}
		})); err != nil {
			t.Fatal(err)
		}
		var body []byte
		db := s.DB()
		if err := db.Get(&body, db.Rebind("SELECT body_enc FROM intakes WHERE id = ?"), "intake-1"); err != nil {
			t.Fatal(err)
		}
		body[len(body)-3] ^= 0x55
		db.MustExec(db.Rebind("UPDATE intakes SET body_enc = ? WHERE id = ?"), body, "intake-1")

		_, err := s.Intake(ctx, "intake-1", "tester")
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "intake-1") {
			t.Fatalf("corrupt intake: err = %v, want ErrCorrupt naming it", err)
		}
		if in, err := s.Intake(ctx, "intake-2", "tester"); err != nil || in.Answers["name"].Value != "Sam" {
			t.Fatalf("the other intake: %v", err)
		}
		if l, err := s.ListIntakes(ctx, "", 0, "tester"); err != nil || len(l) != 2 {
			t.Fatalf("list: %d, %v", len(l), err)
		}

		// A damaged state.
		var convID string
		s.Turn(ctx, chat, "", func(c *bot.Conversation) (*bot.Changes, error) { convID = c.ID; return nil, nil })
		var state []byte
		if err := db.Get(&state, db.Rebind("SELECT state_enc FROM conversations WHERE id = ?"), convID); err != nil {
			t.Fatal(err)
		}
		state[len(state)/2] ^= 0xff
		db.MustExec(db.Rebind("UPDATE conversations SET state_enc = ? WHERE id = ?"), state, convID)
		err = s.Turn(ctx, chat, "3", func(c *bot.Conversation) (*bot.Changes, error) {
			if c.ID != convID || len(c.State.Answers) != 0 {
				t.Errorf("damaged state: got %+v", c)
			}
			c.State.Step = "fresh"
			return &bot.Changes{Conversation: c}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		log, _ := s.AuditLog(ctx, convID, 0)
		if len(log) != 1 || log[0].Action != "conversation.state_unreadable" {
			t.Fatalf("audit = %+v", log)
		}
	})
}

// TestKeyFiles: chat's key file is created once, mode 0600, with one
// notice; serve's check refuses to start without INTAKEBOT_DATA_KEY.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "intakebot.db")
	env := func(string) string { return "" }
	if got := store.KeyFile(db); got != filepath.Join(dir, "intakebot.key") {
		t.Fatalf("KeyFile = %s", got)
	}
	if store.KeyFile("postgres://x/y") != "" {
		t.Fatal("a PostgreSQL database has no key file")
	}
	if _, err := store.LoadKeys(db, env); !errors.Is(err, store.ErrNoKey) {
		t.Fatalf("LoadKeys before creation: %v", err)
	}
	var notice strings.Builder
	kr, err := store.LoadOrCreateKey(db, env, &notice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice.String(), "intakebot.key") || strings.Count(notice.String(), "\n") != 1 {
		t.Fatalf("notice = %q", notice.String())
	}
	fi, err := os.Stat(store.KeyFile(db))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", fi.Mode(), err)
	}
	notice.Reset()
	kr2, err := store.LoadOrCreateKey(db, env, &notice)
	if err != nil || kr2.PrimaryID() != kr.PrimaryID() || notice.Len() != 0 {
		t.Fatalf("second load: %v, same key %v, notice %q", err, kr2.PrimaryID() == kr.PrimaryID(), notice.String())
	}
	// The environment wins over the file.
	k := testKey()
	envKey := func(n string) string {
		if n == store.EnvDataKey {
			return k
		}
		return ""
	}
	kr3, err := store.LoadKeys(db, envKey)
	if err != nil || kr3.PrimaryID() == kr.PrimaryID() {
		t.Fatalf("env key not used: %v", err)
	}
	if _, err := store.LoadOrCreateKey("postgres://localhost/x", env, &notice); !errors.Is(err, store.ErrNoKey) {
		t.Fatalf("PostgreSQL without a key: %v", err)
	}
	_, err = store.RequireKey(env)
	if !errors.Is(err, store.ErrNoKey) || !strings.Contains(err.Error(), store.EnvDataKey) {
		t.Fatalf("RequireKey without key: %v", err)
	}
	if _, err := store.RequireKey(envKey); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"not base64!", "c2hvcnQ="} {
		if _, err := store.ParseKeys(bad, ""); err == nil || errors.Is(err, store.ErrNoKey) {
			t.Errorf("ParseKeys(%q) = %v, want a format error", bad, err)
		}
	}
}

// staffMessage is a turn like the engine's staff message: human mode, an
// event to the participant, and the transcript.
func staffMessage(text, staff string) bot.TurnFunc {
	return func(c *bot.Conversation) (*bot.Changes, error) {
		c.State.Mode = bot.ModeHuman
		now := time.Now()
		return &bot.Changes{Conversation: c,
			Transcript: []bot.TranscriptEntry{{Direction: "out", Text: text, At: now}},
			Events: []bot.Event{{ID: "staff-" + now.Format("150405.000000000"), Type: bot.EventStaffMessage, ConversationID: c.ID, At: now, Deliver: true,
				Data: map[string]any{"channel": c.Key.Channel, "chat_id": c.Key.ChatID, "text": text, "staff": staff}}},
		}, nil
	}
}
