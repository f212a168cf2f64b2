-- Reference data a force manages (areas, custody suites, the offence catalogue, the drug vocabulary): every
-- change is a new row, nothing is overwritten. The record of a key on a day is its latest row effective by then
-- (a suite moving to another borough from a date is a new row effective from that date); for offences and drugs
-- the latest row is the definition in force. Shipped data files are imported into it on start (keys not yet
-- present); the suites seeded by 0002 move here.
CREATE TABLE reference_records (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('area', 'suite', 'offence', 'drug')),
    key            text NOT NULL,
    effective_from date NOT NULL,
    body           jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    recorded_by    text NOT NULL
);
CREATE INDEX reference_records_key ON reference_records (kind, key, effective_from DESC, id DESC);

INSERT INTO reference_records (kind, key, effective_from, body, recorded_by)
SELECT 'suite', suite, DATE '2000-01-01',
       jsonb_build_object('name', name, 'force', force, 'borough', area, 'address', NULL), 'migration'
FROM suites ORDER BY suite;
DROP TABLE suites;

-- Who changed a notification and when (ending one keeps the row, with its end).
ALTER TABLE notifications ADD COLUMN recorded_by text NOT NULL DEFAULT 'migration';
ALTER TABLE notifications ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE notifications ADD COLUMN ended_by text;
