-- Custody facts the referral service keeps, per detention (from custody.events.v1).
CREATE TABLE detentions (
    detention_id          text PRIMARY KEY,
    person_id             text NOT NULL,
    suite                 text,
    home_area             text,
    age                   integer,
    arrested_at           timestamptz,
    released_at           timestamptz,
    charged_at            timestamptz,
    charged_codes         text[] NOT NULL DEFAULT '{}',
    restriction_notified  boolean,
    class_a_offence_codes text[] NOT NULL DEFAULT '{}',
    positive_drugs        text[] NOT NULL DEFAULT '{}',
    sample_taken_at       timestamptz,
    offence_codes         text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX detentions_person ON detentions (person_id, arrested_at);

-- Arrest referral workers, the suites they cover, capacity, working days and leave (A9).
CREATE TABLE workers (
    worker_id        text PRIMARY KEY,
    name             text NOT NULL,
    area             text NOT NULL,
    suites           text[] NOT NULL,
    daily_capacity   integer NOT NULL CHECK (daily_capacity BETWEEN 1 AND 50),
    working_weekdays integer[] NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE worker_leave (
    id        bigserial PRIMARY KEY,
    worker_id text NOT NULL REFERENCES workers,
    first_day date NOT NULL,
    last_day  date NOT NULL,
    reason    text,
    CHECK (last_day >= first_day)
);

-- Required assessments: the domain object as a document, with the columns queries need.
CREATE TABLE assessments (
    assessment_id text PRIMARY KEY,
    detention_id  text NOT NULL UNIQUE,
    person_id     text NOT NULL,
    suite         text NOT NULL,
    area          text NOT NULL,
    status        text NOT NULL,
    state         jsonb NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_area_status ON assessments (area, status);

-- Appointments and who holds them: a worker's load on a day is the count of their active appointments.
CREATE TABLE appointments (
    assessment_id text NOT NULL REFERENCES assessments,
    kind          text NOT NULL,
    worker_id     text,
    at            timestamptz NOT NULL,
    day           date NOT NULL,
    place         text,
    active        boolean NOT NULL DEFAULT true,
    PRIMARY KEY (assessment_id, kind)
);
CREATE INDEX appointments_worker_day ON appointments (worker_id, day) WHERE active;
CREATE INDEX appointments_unassigned ON appointments (day) WHERE active AND worker_id IS NULL;

-- Notices served (RA1-RA5) and attendance records (RA3), kept for statements and K4.
CREATE TABLE notices (
    id            bigserial PRIMARY KEY,
    assessment_id text NOT NULL REFERENCES assessments,
    form          text NOT NULL,
    served_at     timestamptz NOT NULL,
    text          text NOT NULL
);
CREATE TABLE attendances (
    id            bigserial PRIMARY KEY,
    assessment_id text NOT NULL REFERENCES assessments,
    kind          text NOT NULL,
    outcome       text NOT NULL,
    good_cause    boolean NOT NULL,
    recorded_at   timestamptz NOT NULL
);

-- A8: clinical content, readable by assessment staff only; never in events or logs.
CREATE TABLE clinical_notes (
    id            bigserial PRIMARY KEY,
    assessment_id text NOT NULL REFERENCES assessments,
    written_by    text NOT NULL,
    written_at    timestamptz NOT NULL DEFAULT now(),
    note          text NOT NULL
);

-- Restriction on bail (B1-B4), one per charged detention with a positive result.
CREATE TABLE bail_cases (
    detention_id        text PRIMARY KEY,
    person_id           text NOT NULL,
    area                text NOT NULL,
    agreed              boolean,
    substantial_grounds boolean,
    restriction         text,
    rule_ids            text[] NOT NULL DEFAULT '{}',
    reasons             text[] NOT NULL DEFAULT '{}',
    notified_at         timestamptz,
    outcome             text,
    court               text,
    decided_on          date,
    breached_at         timestamptz,
    breach_what         text,
    arrested_at         timestamptz,
    before_justice_by   timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bail_cases_area ON bail_cases (area, notified_at);

-- Optional webhook per team (the workers of an area): signed deliveries of new assignments, retried.
CREATE TABLE team_webhooks (
    area       text PRIMARY KEY,
    url        text NOT NULL,
    secret     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    area         text NOT NULL,
    body         jsonb NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    failed_at    timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
