"""SQL migrations, applied in order by dipflow.db.apply_migrations."""
