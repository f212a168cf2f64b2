-- An outbox row lives until the relay has published it. Its event id was kept unique, and every insert paid
-- for the index and the conflict check (about a third of the server's time on a consumer batch's outbox rows).
-- Nothing needs it: the same event written twice (a writer retrying a commit that had landed) is published
-- twice, and every consumer's inbox applies it once, as it does an event the relay published twice.
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
