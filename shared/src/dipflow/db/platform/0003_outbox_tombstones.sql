-- Compacted topics need tombstones: an outbox row with no value deletes the key.
ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
