"""Inbound commands on ``custody.commands.v1``: the same commands as the HTTP API, for custody suite systems
that prefer Kafka. Keyed by person id (the key orders one person's commands); the envelope's event id makes each
command apply once; ``occurred_at`` is when it happened unless the body gives its own ``at``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, Field, PrivateAttr, TypeAdapter, create_model, model_validator
from pydantic.json_schema import JsonSchemaMode

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_COMMANDS
from dipflow_custody.contracts.bodies import BODIES, BookIn

DETENTION_ID_NAMESPACE = uuid.UUID("6f1c2a8e-5d7b-4c1e-9a3f-2b8d0e4c7a91")


def detention_id_for(command_event_id: uuid.UUID) -> str:
    """A book-in command always creates the same detention id, so a re-sent command is recognisable and the
    sender can address the detention's later commands before any answer: uuid5 of the namespace
    ``6f1c2a8e-5d7b-4c1e-9a3f-2b8d0e4c7a91`` and the command's event id as text."""
    return str(uuid.uuid5(DETENTION_ID_NAMESPACE, str(command_event_id)))


ALIASES = {"add_offence": "offences", "result": "results"}
"""Names the command topic accepted before the actions were named after their routes; still accepted."""

ActionName = Literal[
    "offences",
    "offence_disposal",
    "charge",
    "inspector_decision",
    "written_confirmation",
    "person_told",
    "appropriate_adult",
    "warning",
    "sample",
    "results",
    "confirmation_dispatch",
    "confirmatory_result",
    "refusal",
    "release",
    "add_offence",
    "result",
]


class BookInCommand(EventPayload):
    """Book a person in (the body of POST /v1/detentions). The detention's id is not sent: it is uuid5 of the
    namespace 6f1c2a8e-5d7b-4c1e-9a3f-2b8d0e4c7a91 and the envelope's event_id as text, so the sender knows it
    at once and a re-sent command books in once. ``booked_in_at`` defaults to the envelope's occurred_at."""

    event_type = "custody.command.book_in"
    topic = CUSTODY_COMMANDS.name
    body: BookIn


class DetentionCommand(EventPayload):
    """Something that happened in a detention: ``action`` is the name of the HTTP route (its last path segment,
    ``-`` written ``_``) and ``body`` that route's body. The detention must be the keyed person's; a command for
    another person's detention is dead-lettered. ``add_offence`` and ``result`` are older names of ``offences``
    and ``results``."""

    event_type = "custody.command.record"
    topic = CUSTODY_COMMANDS.name
    detention_id: str = Field(min_length=36, max_length=36)
    action: ActionName
    body: dict[str, Any]

    @property
    def canonical_action(self) -> str:
        return ALIASES.get(self.action, self.action)

    _typed_body: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _body_fits_the_action(self) -> DetentionCommand:
        self._typed_body = BODIES[self.canonical_action].model_validate(self.body)
        return self

    @property
    def typed_body(self) -> BaseModel:
        """The body as its action's model, validated once when the command was read."""
        assert self._typed_body is not None
        return self._typed_body

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The envelope of every action, and one typed body per action (``oneOf`` on ``action``)."""
        mode: JsonSchemaMode = kwargs.get("mode", "validation")
        schema = super().model_json_schema(*args, **kwargs)
        names: tuple[str, ...] = get_args(ActionName)

        def literal(name: str) -> Any:
            return Literal[name]

        variants: list[Any] = [
            create_model(
                f"{name.title().replace('_', '')}Command",
                action=(literal(name), ...),
                body=(BODIES[ALIASES.get(name, name)], ...),
            )
            for name in names
        ]
        union_type: Any = Union[tuple(variants)]  # noqa: UP007
        union: TypeAdapter[Any] = TypeAdapter(Annotated[union_type, Field(discriminator="action")])
        typed = union.json_schema(mode=mode, ref_template="#/$defs/{model}")
        schema.setdefault("$defs", {}).update(typed.get("$defs", {}))
        schema["oneOf"] = typed["oneOf"]
        schema["discriminator"] = "action"  # AsyncAPI: the name of the property that tells the variants apart
        return schema


INBOUND = EventRegistry(BookInCommand, DetentionCommand)
