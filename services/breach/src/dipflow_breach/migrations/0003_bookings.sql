-- Custody bookings seen, so that an arrest request that arrives after the booking that answers it (events on
-- different topics come in no fixed order) is closed at once.
CREATE TABLE bookings (
    detention_id text PRIMARY KEY,
    person_id    text NOT NULL,
    arrested_at  timestamptz NOT NULL
);
CREATE INDEX bookings_person ON bookings (person_id, arrested_at);
