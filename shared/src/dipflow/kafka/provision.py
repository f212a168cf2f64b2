"""``python -m dipflow.kafka.provision``: create every topic of the catalogue, and the ACLs of a table written by
``dipflow infra compose-secrets`` (used by docker-compose)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from dipflow.kafka.acls import Acl, Operation, Pattern, Resource, create_acls
from dipflow.kafka.admin import ensure_topics, wait_for_broker
from dipflow.topics import all_topics


def read_acls(path: Path) -> list[Acl]:
    return [
        Acl(
            row["principal"],
            Resource(row["resource"]),
            row["name"],
            Operation(row["operation"]),
            Pattern(row["pattern"]),
        )
        for row in json.loads(path.read_text())
    ]


def main(
    bootstrap: str = typer.Option(..., envvar="DIPFLOW_KAFKA_BOOTSTRAP"),
    replication_factor: int = typer.Option(1, envvar="DIPFLOW_TOPIC_REPLICATION"),
    wait_s: float = typer.Option(120.0),
    acls: Path | None = typer.Option(None, envvar="DIPFLOW_KAFKA_ACLS", help="JSON list of ACLs to create"),
) -> None:
    async def provision() -> list[str]:
        await wait_for_broker(bootstrap, wait_s)
        created = await ensure_topics(bootstrap, all_topics(), replication_factor=replication_factor)
        if acls is not None:
            await create_acls(bootstrap, read_acls(acls))
        return created

    created = asyncio.run(provision())
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


if __name__ == "__main__":
    typer.run(main)
