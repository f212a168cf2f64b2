-- The PPO register: one row per period on the register; rows are ended, never overwritten.
CREATE TABLE register_periods (
    id          bigserial PRIMARY KEY,
    person_id   text NOT NULL,
    borough     text NOT NULL,
    strand      text NOT NULL,
    start_date  date NOT NULL,
    end_date    date,
    reason      text NOT NULL,
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    end_reason  text,
    ended_by    text,
    ended_at    timestamptz,
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE UNIQUE INDEX register_one_open_period ON register_periods (person_id) WHERE end_date IS NULL;
CREATE INDEX register_borough_dates ON register_periods (borough, start_date, end_date);
CREATE INDEX register_person ON register_periods (person_id, start_date);
