-- Outgoing events, written in the same transaction as the state change they describe.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        bytea NOT NULL,
    value      bytea NOT NULL,
    event_id   uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Consumed events already applied, per consumer group (the idempotent consumer's memory).
CREATE TABLE inbox (
    consumer_group text NOT NULL,
    event_id       uuid NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    "offset"       bigint NOT NULL,
    outcome        text NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'dead_lettered')),
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);

-- Durable timers: each row fires exactly once, in the same transaction as its effects.
CREATE TABLE deadlines (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    subject    text NOT NULL,
    due_at     timestamptz NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    fired_at   timestamptz,
    cancelled_at timestamptz,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    failed_at  timestamptz,
    UNIQUE (kind, subject)
);
CREATE INDEX deadlines_pending ON deadlines (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL;
