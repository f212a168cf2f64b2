"""Adapters: all of breach's SQL (repositories and read models), the webhook delivery store, personal data."""
