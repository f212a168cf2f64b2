-- A count of committed changes to the notifications, kept by a trigger so that every writer counts (the
-- service, a seed, an operator's own SQL). With the newest reference record's id it stamps the reference data
-- a transaction reads: the same stamp is the same data, so the service keeps what it read and reads it again
-- only when the stamp moves. The single row is locked by each change until it commits, so the count follows
-- the order changes commit in.
CREATE TABLE reference_changes (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    notifications bigint NOT NULL DEFAULT 0
);
INSERT INTO reference_changes DEFAULT VALUES;

CREATE FUNCTION count_notification_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reference_changes SET notifications = notifications + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION count_notification_change();
