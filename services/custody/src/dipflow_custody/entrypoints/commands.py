"""The subscription to ``custody.commands.v1`` (and referral's events: :mod:`.referral_events`): each command
applied in the consumer's unit of work.

A command that breaks a rule, names an unknown code, suite, drug or detention, or names another person's
detention than the one it is keyed by is refused for good: dead-lettered at once with the reason
(``dipflow.events.errors.as_refusal``); the consumer carries on. Each command's facts are recorded at their
own time (the body's ``at``, else the envelope's ``occurred_at``), and the events it causes name it as their
cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dipflow.auth.principal import area_covers
from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow.events.errors import Rejected
from dipflow.events.senders import Sender, sender_check
from dipflow.topics import CUSTODY_COMMANDS
from dipflow.uow import UnitOfWork, system_actor
from dipflow.wiring import Subscription
from dipflow_custody.contracts.inbound import INBOUND, BookInCommand, DetentionCommand, detention_id_for
from dipflow_custody.entrypoints import referral_events
from dipflow_custody.service_layer import detentions
from dipflow_custody.service_layer.actions import COMMANDS, Reporter
from dipflow_custody.service_layer.detentions import AreaCheck
from dipflow_custody.settings import CommandSender


def acting_for(sender: str, areas: Sequence[str]) -> AreaCheck:
    """A sending system acts for the suites of its areas: a borough, every borough of a force, or all (``*``)."""

    def check(area: str) -> None:
        if not any(area_covers(mine, area) for mine in areas):
            raise Rejected(
                "outside-sender-areas",
                f"{sender} acts for {', '.join(areas)}; this command is for a suite in {area}",
            )

    return check


def command_handler(confirmation_working_days: int, senders: Mapping[str, CommandSender]) -> Handler:
    """Applies a command whose sender the subscription's check proved (:func:`subscription`), and hands
    referral's events, read in the same batches, to :func:`.referral_events.on_referral_event`."""

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        if isinstance(payload, referral_events.REFERRAL_TYPES):
            await referral_events.on_referral_event(uow, envelope, payload)
            return
        work = uow.acting_as(system_actor(envelope.producer))
        check_area = acting_for(envelope.producer, senders[envelope.producer].areas)
        try:
            await _apply(work, envelope, payload, confirmation_working_days, check_area)
        except detentions.NotThisPersons as exc:
            raise Rejected(
                "key-mismatch",
                f"{exc}: a command is keyed by the person whose detention it names (the key orders one "
                "person's commands)",
            ) from exc

    return handle


async def _apply(
    uow: UnitOfWork, envelope: Envelope, payload: EventPayload, working_days: int, check_area: AreaCheck
) -> None:
    if isinstance(payload, BookInCommand):
        if payload.body.person_id != envelope.person_id:
            raise Rejected("key-mismatch", "the command's key (person id) and body.person_id differ")
        command = detentions.book_in_command(
            payload.body, booked_in_at=envelope.occurred_at, detention_id=detention_id_for(envelope.event_id)
        )
        await detentions.book_in(uow, command, check_area)
    elif isinstance(payload, DetentionCommand):
        name = payload.canonical_action
        spec = COMMANDS[name]
        reporter = Reporter(
            by=f"system:{envelope.producer}",
            default_at=envelope.occurred_at,
            confirmation_working_days=working_days,
            from_token=False,
        )
        action = spec.build(payload.typed_body, reporter)
        act = detentions.Act(payload.detention_id, name, action, keyed_by=envelope.person_id)
        await detentions.act(uow, act, check_area)
    else:  # pragma: no cover - the registry admits only the two
        raise TypeError(type(payload).__name__)


async def read_ahead(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]]) -> None:
    """The detentions the batch's commands act on and its referral events name, read and locked in one
    statement; the PPO copy's rows of the people it books in, in another."""
    await detentions.read_ahead(
        uow,
        [
            *(payload.detention_id for _, payload in events if isinstance(payload, DetentionCommand)),
            *referral_events.detentions_named(events),
        ],
        [payload.body.person_id for _, payload in events if isinstance(payload, BookInCommand)],
    )


def subscription(working_days: int, senders: Mapping[str, CommandSender]) -> Subscription:
    """Custody systems' commands (consumer group ``<service>.commands``), each signed by a registered sender,
    and referral's events, which need no signature (the broker lets only referral write them)."""
    keys = {name: Sender(name, sender.key.get_secret_value()) for name, sender in senders.items()}
    return Subscription(
        "commands",
        [CUSTODY_COMMANDS.name],
        INBOUND,
        command_handler(working_days, senders),
        check=sender_check(keys),
        prefetch=read_ahead,
        feeds=[referral_events.FEED],
    )
