"""Benchmarks run on this machine against real Kafka and PostgreSQL servers (``make bench``)."""
