-- Personal data: the key of this service's pseudonyms, erasures honoured here, retention runs, and (in the
-- service that takes erasure requests) the requests and each service's confirmation. None of these tables
-- holds a person id: only pseudonyms.
CREATE TABLE privacy_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       bytea NOT NULL
);

CREATE TABLE erasures (
    request_id   uuid PRIMARY KEY,
    pseudonym    text NOT NULL,
    requested_at timestamptz NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now(),
    rows         jsonb NOT NULL
);
CREATE INDEX erasures_pseudonym ON erasures (pseudonym);

CREATE TABLE retention_runs (
    id     bigserial PRIMARY KEY,
    ran_at timestamptz NOT NULL DEFAULT now(),
    policy jsonb NOT NULL,
    rows   jsonb NOT NULL
);

CREATE TABLE erasure_requests (
    request_id   uuid PRIMARY KEY,
    pseudonym    text NOT NULL,
    requested_by text NOT NULL,
    reason       text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE erasure_confirmations (
    request_id uuid NOT NULL,
    service    text NOT NULL,
    erased_at  timestamptz NOT NULL,
    rows       jsonb NOT NULL,
    PRIMARY KEY (request_id, service)
);

-- When the retention schedule started (a fresh service waits one interval before the first run).
CREATE TABLE retention_schedule (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    scheduled_from timestamptz NOT NULL DEFAULT now()
);
