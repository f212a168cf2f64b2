-- B3: the appointment under a bail condition to undergo assessment, and the person's attendance at it. A waiting
-- one counts against its worker's day like a required assessment's (A9).
ALTER TABLE bail_cases
    ADD COLUMN condition_appointment_at timestamptz,
    ADD COLUMN condition_place          text,
    ADD COLUMN condition_worker_id      text,
    ADD COLUMN condition_attendance     text,
    ADD COLUMN condition_good_cause     boolean,
    ADD COLUMN condition_attended_at    timestamptz;
CREATE INDEX bail_cases_condition_waiting ON bail_cases (condition_worker_id, condition_appointment_at)
    WHERE condition_worker_id IS NOT NULL AND condition_attendance IS NULL;
