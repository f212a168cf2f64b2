"""Entrypoints: the HTTP routes (one module per resource) and the Kafka subscriptions."""
