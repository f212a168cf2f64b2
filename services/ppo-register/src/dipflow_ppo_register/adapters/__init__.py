"""Adapters: database repositories, Kafka, webhooks."""
