-- Each timer loop looks only at its own kinds (a webhook's deliveries, a rule's deadlines). Ordered by due
-- time alone, finding a kind's next deadline meant walking past every other kind's pending ones, all of them
-- when the kind had none: each pass grew with the table. By kind first, it is one index probe per kind.
CREATE INDEX deadlines_pending_by_kind ON deadlines (kind, due_at, id)
    WHERE fired_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL;
DROP INDEX deadlines_pending;
