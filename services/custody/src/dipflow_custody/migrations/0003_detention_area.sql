-- Access to a detention follows the area (borough) of its custody suite, so that a custody officer or an
-- inspector of that borough, and of its force, acts on it (docs/access-policy.md).
ALTER TABLE detentions ADD COLUMN area text;
UPDATE detentions d SET area = s.area FROM suites s WHERE s.suite = d.suite;
UPDATE detentions SET area = force WHERE area IS NULL;
ALTER TABLE detentions ALTER COLUMN area SET NOT NULL;
CREATE INDEX detentions_person_open ON detentions (person_id) WHERE released_at IS NULL;
