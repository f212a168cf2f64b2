"""Kafka helpers shared by the services."""

from dipflow.kafka.admin import broker_ready, ensure_topics, wait_for_broker

__all__ = ["broker_ready", "ensure_topics", "wait_for_broker"]
