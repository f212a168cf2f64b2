-- One row per continuous detention; the state machine's state as a document, versioned for
-- optimistic concurrency. Personal data (name, date of birth) lives only here.
CREATE TABLE detentions (
    detention_id text PRIMARY KEY,
    person_id    text NOT NULL,
    name         text NOT NULL,
    suite        text NOT NULL,
    force        text NOT NULL,
    state        jsonb NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    booked_in_at timestamptz NOT NULL,
    released_at  timestamptz
);
CREATE INDEX detentions_person ON detentions (person_id, booked_in_at DESC);
CREATE INDEX detentions_suite_open ON detentions (suite) WHERE released_at IS NULL;

-- Station and area notifications, effective-dated (RULES.md T1, T2, A, B).
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    place      text NOT NULL,
    kind       text NOT NULL,
    valid_from date NOT NULL,
    valid_to   date,
    UNIQUE (place, kind, valid_from)
);

-- Custody suites and the force they belong to.
CREATE TABLE suites (
    suite text PRIMARY KEY,
    name  text NOT NULL,
    force text NOT NULL,
    area  text NOT NULL
);

-- Local copy of the PPO register (compacted topic ppo.register.v1).
CREATE TABLE ppo_register (
    person_id  text PRIMARY KEY,
    borough    text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Seed: a few London suites, notified for everything since 2004 (change through the admin API).
INSERT INTO suites (suite, name, force, area) VALUES
    ('MET-BRIXTON', 'Brixton custody suite', 'metropolitan', 'lambeth'),
    ('MET-CAMDEN', 'Holborn custody suite', 'metropolitan', 'camden'),
    ('MET-STOKE-NEWINGTON', 'Stoke Newington custody suite', 'metropolitan', 'hackney'),
    ('MET-CHARING-CROSS', 'Charing Cross custody suite', 'metropolitan', 'westminster');
INSERT INTO notifications (place, kind, valid_from) VALUES
    ('MET-BRIXTON', 'testing_on_arrest', '2005-04-01'),
    ('MET-BRIXTON', 'testing_on_charge', '2004-01-01'),
    ('MET-BRIXTON', 'under_18_testing', '2006-01-01'),
    ('MET-CAMDEN', 'testing_on_arrest', '2005-04-01'),
    ('MET-CAMDEN', 'testing_on_charge', '2004-01-01'),
    ('MET-STOKE-NEWINGTON', 'testing_on_charge', '2004-01-01'),
    ('MET-CHARING-CROSS', 'testing_on_arrest', '2005-04-01'),
    ('MET-CHARING-CROSS', 'testing_on_charge', '2004-01-01'),
    ('MET-CHARING-CROSS', 'under_18_testing', '2006-01-01'),
    ('lambeth', 'initial_assessment', '2005-04-01'),
    ('lambeth', 'follow_up_assessment', '2005-04-01'),
    ('lambeth', 'restriction_on_bail', '2006-04-01'),
    ('camden', 'initial_assessment', '2005-04-01'),
    ('camden', 'follow_up_assessment', '2005-04-01'),
    ('camden', 'restriction_on_bail', '2006-04-01');
