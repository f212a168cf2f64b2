-- K2 (5.1.2): what happened after a failure to attend was notified: an arrest for it released with no further
-- action is told apart from one still to be decided. From custody.released.
ALTER TABLE arrests ADD COLUMN released_on date, ADD COLUMN release text;
