-- Every service's copy of the reference records custody publishes on reference.v1 (areas and custody suites,
-- each with its history): the areas give the force of each borough for access checks.
CREATE TABLE reference_copies (
    kind       text NOT NULL,
    key        text NOT NULL,
    record     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
