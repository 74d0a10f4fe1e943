-- Crisis alerts in Slack: when the next re-alert of an unacknowledged urgent
-- case is due, who acknowledged it and when, how many re-alerts went out,
-- how many crisis messages the alert counts, and the crisis category (sealed:
-- it is health information). Times are Unix microseconds.

-- +goose Up
ALTER TABLE handoffs ADD COLUMN alert_due_at INTEGER;
ALTER TABLE handoffs ADD COLUMN acked_at INTEGER;
ALTER TABLE handoffs ADD COLUMN acked_by TEXT;
ALTER TABLE handoffs ADD COLUMN realerts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE handoffs ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE handoffs ADD COLUMN category_enc BLOB;
CREATE INDEX handoffs_alert_due ON handoffs(alert_due_at) WHERE alert_due_at IS NOT NULL;

-- +goose Down
DROP INDEX handoffs_alert_due;
ALTER TABLE handoffs DROP COLUMN category_enc;
ALTER TABLE handoffs DROP COLUMN repeats;
ALTER TABLE handoffs DROP COLUMN realerts;
ALTER TABLE handoffs DROP COLUMN acked_by;
ALTER TABLE handoffs DROP COLUMN acked_at;
ALTER TABLE handoffs DROP COLUMN alert_due_at;
