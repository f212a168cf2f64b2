"""``python -m dipflow.kafka.provision``: create every topic of the catalogue (used by docker-compose)."""

from __future__ import annotations

import asyncio

import typer

from dipflow.kafka.admin import ensure_topics, wait_for_broker
from dipflow.topics import all_topics


def main(
    bootstrap: str = typer.Option(..., envvar="DIPFLOW_KAFKA_BOOTSTRAP"),
    replication_factor: int = typer.Option(1, envvar="DIPFLOW_TOPIC_REPLICATION"),
    wait_s: float = typer.Option(120.0),
) -> None:
    async def provision() -> list[str]:
        await wait_for_broker(bootstrap, wait_s)
        return await ensure_topics(bootstrap, all_topics(), replication_factor=replication_factor)

    created = asyncio.run(provision())
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


if __name__ == "__main__":
    typer.run(main)
