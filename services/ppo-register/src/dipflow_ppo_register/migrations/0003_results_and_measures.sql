-- What the register needs from other services' events: positive results (P2, P3), failed required
-- assessments (P3), arrests and charges (K1, K2). Dates are Europe/London calendar days.
CREATE TABLE positive_results (
    detention_id text NOT NULL,
    drug         text NOT NULL,
    person_id    text NOT NULL,
    sampled_on   date NOT NULL,
    home_area    text NOT NULL,
    void         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (detention_id, drug)
);
CREATE INDEX positive_results_person ON positive_results (person_id, sampled_on);

CREATE TABLE assessment_failures (
    event_id      uuid PRIMARY KEY,
    person_id     text NOT NULL,
    assessment_id text NOT NULL,
    occurred_on   date NOT NULL,
    outcome       text NOT NULL
);
CREATE INDEX assessment_failures_person ON assessment_failures (person_id, occurred_on);

CREATE TABLE arrests (
    detention_id       text PRIMARY KEY,
    person_id          text NOT NULL,
    arrested_on        date,
    suite              text,
    codes              text[] NOT NULL DEFAULT '{}',
    trigger_offence    boolean NOT NULL DEFAULT false,
    offences           integer NOT NULL DEFAULT 0,  -- offences other than powers of arrest
    inspector_decision text
);
CREATE INDEX arrests_month ON arrests (arrested_on);

CREATE TABLE charges (
    detention_id text PRIMARY KEY,
    person_id    text NOT NULL,
    charged_on   date NOT NULL,
    codes        text[] NOT NULL
);
CREATE INDEX charges_month ON charges (charged_on);

CREATE TABLE panel_flags (
    id             bigserial PRIMARY KEY,
    person_id      text NOT NULL,
    borough        text NOT NULL,
    raised_on      date NOT NULL,
    reason         text NOT NULL,
    rule_ids       text[] NOT NULL,
    evidence       jsonb NOT NULL,
    raised_at      timestamptz NOT NULL DEFAULT now(),
    reviewed_at    timestamptz,
    reviewed_by    text,
    review_outcome text,
    review_note    text
);
CREATE UNIQUE INDEX panel_flags_one_open ON panel_flags (person_id) WHERE reviewed_at IS NULL;
CREATE INDEX panel_flags_borough ON panel_flags (borough, raised_on);
