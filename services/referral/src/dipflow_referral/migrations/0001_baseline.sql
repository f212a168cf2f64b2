-- Baseline of the referral service's own database: who this database belongs to.
CREATE TABLE service_metadata (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO service_metadata (key, value) VALUES ('service', 'referral');
