"""Inbound commands on ``custody.commands.v1``: the same commands as the HTTP API, for custody suite systems
that prefer Kafka. Keyed by person id; the envelope's event id makes each command apply once."""

from __future__ import annotations

from typing import Any, Literal

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_COMMANDS
from dipflow_custody.entrypoints.bodies import BookIn

ActionName = Literal[
    "add_offence",
    "charge",
    "inspector_decision",
    "appropriate_adult",
    "warning",
    "sample",
    "result",
    "confirmatory_result",
    "refusal",
    "release",
]


class BookInCommand(EventPayload):
    """Book a person in (the body of POST /v1/detentions). The detention id is derived from the event id."""

    event_type = "custody.command.book_in"
    topic = CUSTODY_COMMANDS.name
    body: BookIn


class DetentionCommand(EventPayload):
    """Something that happened in a detention: ``action`` names it, ``body`` is that HTTP route's body."""

    event_type = "custody.command.record"
    topic = CUSTODY_COMMANDS.name
    detention_id: str
    action: ActionName
    body: dict[str, Any]


INBOUND = EventRegistry(BookInCommand, DetentionCommand)
