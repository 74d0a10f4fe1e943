-- The intakebot schema for SQLite. Times are Unix microseconds (UTC).
-- Columns named *_enc hold AES-256-GCM sealed values (key id inside each value).

-- +goose Up
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    lookup     TEXT NOT NULL UNIQUE,      -- HMAC of channel and chat id: no chat id in clear
    channel    TEXT NOT NULL,
    chat_enc   BLOB NOT NULL,             -- the chat id, for delivering staff messages
    state_enc  BLOB,                      -- bot.State as JSON; NULL until the first turn commits
    version    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE transcript (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    direction       TEXT NOT NULL,
    body_enc        BLOB NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX transcript_conversation ON transcript(conversation_id, id);
CREATE INDEX transcript_at ON transcript(at);

CREATE TABLE consents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    version         TEXT NOT NULL,
    scope           TEXT NOT NULL,
    granted         BOOLEAN NOT NULL,
    granted_at      INTEGER,
    revoked_at      INTEGER,
    at              INTEGER NOT NULL
);
CREATE INDEX consents_conversation ON consents(conversation_id);

CREATE TABLE intakes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    body_enc        BLOB NOT NULL,        -- answers, summary, scores, suggestion, source
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER
);
CREATE INDEX intakes_conversation ON intakes(conversation_id);
CREATE INDEX intakes_status ON intakes(status, created_at);

CREATE TABLE handoffs (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,        -- kept after deletion: an opaque id
    intake_id       TEXT,
    reason          TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    status          TEXT NOT NULL,
    assignee        TEXT,                 -- staff user id
    outcome_enc     BLOB,
    slack_channel   TEXT,
    slack_ts        TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER
);
CREATE INDEX handoffs_conversation ON handoffs(conversation_id);
CREATE UNIQUE INDEX handoffs_message ON handoffs(slack_channel, slack_ts);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,     -- the event id: travels with every delivery
    type            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    payload_enc     BLOB,                 -- the event as JSON; dropped once delivered
    status          TEXT NOT NULL,        -- pending, delivered, dead, cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,     -- due time, or the end of a claim's lease
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
);
CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 'pending';
CREATE INDEX outbox_conversation ON outbox(conversation_id);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit(subject);

CREATE TABLE processed (
    update_key TEXT PRIMARY KEY,          -- channel/update id
    at  INTEGER NOT NULL
);
CREATE INDEX processed_at ON processed(at);

CREATE TABLE tombstones (
    conversation_id TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    deleted_at      INTEGER NOT NULL
);

CREATE TABLE cache (
    cache_key  TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE data_keys (
    key_id     TEXT PRIMARY KEY,          -- short hash of a data key that has sealed values here
    check_enc  BLOB NOT NULL,             -- a known text sealed with it
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE data_keys;
DROP TABLE cache;
DROP TABLE tombstones;
DROP TABLE processed;
DROP TABLE audit;
DROP TABLE outbox;
DROP TABLE handoffs;
DROP TABLE intakes;
DROP TABLE consents;
DROP TABLE transcript;
DROP TABLE conversations;
