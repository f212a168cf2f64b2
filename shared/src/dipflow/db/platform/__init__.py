"""Tables every service has (audit log, idempotency keys, ...), recorded in platform_migrations."""
