"""Pseudonyms: a keyed hash of the person id, with a key that never leaves this service's database.

The same person gets the same pseudonym in every table of one service, so records pseudonymised at different
times still count as one person (K1 joins arrests with register periods by person, P2 counts a person's
positives); two services give different pseudonyms, so their records cannot be joined on them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable

import asyncpg

PREFIX = "Z-"


class Pseudonyms:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    async def load(cls, conn: asyncpg.Connection) -> Pseudonyms:
        """This service's key, created on first use."""
        await conn.execute(
            "INSERT INTO privacy_key (key) VALUES ($1) ON CONFLICT DO NOTHING", secrets.token_bytes(32)
        )
        key: bytes = await conn.fetchval("SELECT key FROM privacy_key")
        return cls(key)

    def of(self, person_id: str) -> str:
        if is_pseudonym(person_id):
            return person_id
        return PREFIX + hmac.digest(self._key, person_id.encode(), "sha256").hex()[:24].upper()


def is_pseudonym(person_id: str) -> bool:
    return person_id.startswith(PREFIX)


async def pseudonymise_rows(
    conn: asyncpg.Connection,
    pseudonyms: Pseudonyms,
    table: str,
    where: str,
    *args: object,
    column: str = "person_id",
    also: str = "",
) -> int:
    """Replace ``column`` with its pseudonym in the rows of ``table`` matching ``where`` (SQL over the table's
    columns, ``$n`` from ``args``; table and column names come from code, never from input). ``also`` adds
    more ``SET`` assignments (the table is aliased ``t`` and the pseudonym is ``m.alias``). Returns the number of rows changed."""
    people: Iterable[str] = await conn.fetchval(
        f"SELECT coalesce(array_agg(DISTINCT {column}), '{{}}') FROM {table} AS t "
        f"WHERE ({where}) AND {column} NOT LIKE '{PREFIX}%'",
        *args,
    )
    people = list(people)
    if not people:
        return 0
    n = len(args)
    result: str = await conn.execute(
        f"UPDATE {table} AS t SET {column} = m.alias{', ' + also if also else ''} "
        f"FROM unnest(${n + 1}::text[], ${n + 2}::text[]) AS m(person, alias) "
        f"WHERE t.{column} = m.person AND ({where})",
        *args,
        people,
        [pseudonyms.of(p) for p in people],
    )
    return int(result.rsplit(" ", 1)[-1])


def json_person(column: str, key: str = "person_id") -> str:
    """A ``SET`` assignment for :func:`pseudonymise_rows`: the person id repeated inside a jsonb document."""
    return (
        f"{column} = CASE WHEN t.{column} ? '{key}' "
        f"THEN jsonb_set(t.{column}, '{{{key}}}', to_jsonb(m.alias)) ELSE t.{column} END"
    )
