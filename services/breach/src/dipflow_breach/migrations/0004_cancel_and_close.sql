-- A6: an arrest request for a failure whose prosecution was dropped is cancelled, not left open.
ALTER TABLE arrest_requests ADD COLUMN cancelled_at timestamptz;
ALTER TABLE arrest_requests ADD COLUMN cancel_reason text;
DROP INDEX arrest_requests_open;
CREATE INDEX arrest_requests_open ON arrest_requests (person_id) WHERE arrested_at IS NULL AND cancelled_at IS NULL;
