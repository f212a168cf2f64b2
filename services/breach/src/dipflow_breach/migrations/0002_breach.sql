-- DRR orders from probation, their compliance records, warnings and breach cases (D1-D4).
CREATE TABLE orders (
    order_id            text PRIMARY KEY,
    person_id           text NOT NULL,
    area                text NOT NULL,
    court               text NOT NULL,
    start_date          date NOT NULL,
    treatment_months    integer NOT NULL,
    review_schedule     text,
    responsible_officer text NOT NULL,
    high_risk           boolean NOT NULL DEFAULT false,
    ended_on            date,
    end_reason          text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_person ON orders (person_id);

CREATE TABLE compliance (
    id         bigserial PRIMARY KEY,
    order_id   text NOT NULL REFERENCES orders,
    record_id  text NOT NULL UNIQUE,  -- the sender's id: a record sent twice is kept once
    kind       text NOT NULL,
    on_date    date NOT NULL,
    reason     text,
    result     text,
    decision   text NOT NULL,
    rule_ids   text[] NOT NULL,
    explanation text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compliance_order ON compliance (order_id, on_date);

CREATE TABLE warnings (
    id        bigserial PRIMARY KEY,
    order_id  text NOT NULL REFERENCES orders,
    issued_on date NOT NULL,
    reason    text NOT NULL
);

CREATE TABLE breach_cases (
    case_id          text PRIMARY KEY,
    order_id         text NOT NULL REFERENCES orders,
    person_id        text NOT NULL,
    area             text NOT NULL,
    failure_on       date NOT NULL,
    enforcement_due  date NOT NULL,
    hearing_due      date NOT NULL,
    ppo              boolean NOT NULL,
    high_risk        boolean NOT NULL,
    rule_ids         text[] NOT NULL,
    reason           text NOT NULL,
    enforcement      text,
    enforcement_at   timestamptz,
    hearing_on       date,
    escalations      text[] NOT NULL DEFAULT '{}',
    opened_at        timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
CREATE UNIQUE INDEX breach_cases_one_open ON breach_cases (order_id) WHERE closed_at IS NULL;

-- Arrest requests from three sources (D5, A4/A5, B4) and time to arrest (D6, K3).
CREATE TABLE arrest_requests (
    request_id      text PRIMARY KEY,
    person_id       text NOT NULL,
    source          text NOT NULL,
    source_ref      text NOT NULL,
    area            text NOT NULL,
    basis           text NOT NULL,
    rule_ids        text[] NOT NULL,
    premium         boolean NOT NULL,
    ppo             boolean NOT NULL,
    requested_at    timestamptz NOT NULL,
    deadline_at     timestamptz NOT NULL,
    escalated_at    timestamptz,
    arrested_at     timestamptz,
    arrest_detention_id text,
    UNIQUE (source, source_ref)
);
CREATE INDEX arrest_requests_open ON arrest_requests (person_id) WHERE arrested_at IS NULL;
CREATE INDEX arrest_requests_area ON arrest_requests (area, requested_at);

-- Local copy of the PPO register (compacted topic ppo.register.v1).
CREATE TABLE ppo_register (
    person_id  text PRIMARY KEY,
    borough    text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Notifications to probation liaison: a feed (stable ids) and signed webhook deliveries per area.
CREATE TABLE liaison_webhooks (
    area       text PRIMARY KEY,
    url        text NOT NULL,
    secret     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE notifications (
    seq             bigserial PRIMARY KEY,
    notification_id uuid NOT NULL UNIQUE,
    area            text NOT NULL,
    person_id       text NOT NULL,
    kind            text NOT NULL,
    body            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    dead_lettered_at timestamptz,
    last_error      text
);
CREATE INDEX notifications_area ON notifications (area, seq);
