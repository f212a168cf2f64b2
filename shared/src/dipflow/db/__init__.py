"""PostgreSQL access: database creation, connection pool, migrations."""

from dipflow.db.database import connect_pool, database_answers, ensure_database, server_dsn
from dipflow.db.migrations import Migration, MigrationError, apply_migrations, load_migrations

__all__ = [
    "Migration",
    "MigrationError",
    "apply_migrations",
    "connect_pool",
    "database_answers",
    "ensure_database",
    "load_migrations",
    "server_dsn",
]
