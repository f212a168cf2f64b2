-- Alerts: a deadline that passed (or a case nobody could take) that a person in a role and area must act on.
-- One row per (kind, subject): raising the same alert again changes nothing, so timers and events may raise it
-- more than once and it is still raised exactly once. ``role`` is who must act now (escalation moves it on);
-- ``assignee`` narrows a worker's alert to that worker. ``seq`` orders the feeds (cursor).
CREATE TABLE alerts (
    alert_id        uuid PRIMARY KEY,
    seq             bigserial NOT NULL UNIQUE,
    kind            text NOT NULL,
    subject         text NOT NULL,
    person_id       text,
    case_id         text,
    role            text NOT NULL,
    area            text NOT NULL,
    assignee        text,
    due_at          timestamptz NOT NULL,
    rule_ids        text[] NOT NULL DEFAULT '{}',
    summary         text NOT NULL,
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'acknowledged', 'resolved', 'escalated')),
    raised_at       timestamptz NOT NULL DEFAULT now(),
    escalated_at    timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    resolution      text,
    UNIQUE (kind, subject)
);
CREATE INDEX alerts_feed ON alerts (role, area, seq);

-- A signed webhook per role and area ("<role>:<area>"), and each alert's deliveries (dipflow.webhooks).
CREATE TABLE alert_receivers (
    area       text PRIMARY KEY,
    url        text NOT NULL,
    secret     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE alert_deliveries (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL,
    alert_id     uuid NOT NULL REFERENCES alerts (alert_id),
    area         text NOT NULL,
    body         jsonb NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    last_error   text,
    given_up_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id)
);
