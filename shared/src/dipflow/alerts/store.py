"""Alerts kept in a service's own database (``alerts``, platform migration 0006), with their feed, their state
changes and their signed webhooks. Every function takes the unit of work of the change that causes it, so an
alert is raised, escalated or resolved in the same transaction as the timer or event that decides it: exactly
once, across restarts. The SQL of alerts lives here."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from dipflow.alerts.model import Alert, AlertState, RaiseAlert, alert_id, check_acknowledge
from dipflow.errors import NotFound
from dipflow.uow import UnitOfWork
from dipflow.webhooks import DeliveryTable, TableDeliveries, queue_with_first_attempt

WEBHOOK = "alert-webhook"
"""The timer kind of alert deliveries (one loop per service, :func:`dipflow.webhooks.delivery_loop`)."""
CHANNEL = "dipflow_alerts"
DELIVERIES = DeliveryTable("alert_deliveries", "id", "alert_receivers", "given_up_at", "delivery_id")
STORE = TableDeliveries(DELIVERIES)
_COLUMNS = (
    "alert_id::text, seq, kind, subject, person_id, case_id, role, area, assignee, due_at, rule_ids, summary, "
    "state, raised_at, escalated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution"
)


def receiver(role: str, area: str) -> str:
    """The key of the webhook of a role in an area."""
    return f"{role}:{area}"


def _alert(row: asyncpg.Record) -> Alert:
    values = dict(row)
    values["rule_ids"] = tuple(values["rule_ids"])
    values["state"] = AlertState(values["state"])
    return Alert(**values)


def webhook_body(alert: Alert, event: str) -> dict[str, Any]:
    """What a receiver gets: what happened to the alert (raised, escalated) and what it is about; no personal
    data (the case id leads to the record, behind the feed's access checks)."""
    return {
        "event": event,
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "case_id": alert.case_id,
        "role": alert.role,
        "area": alert.area,
        "assignee": alert.assignee,
        "due_at": alert.due_at.isoformat(),
        "rule_ids": list(alert.rule_ids),
        "summary": alert.summary,
        "state": str(alert.state),
    }


async def _deliver(uow: UnitOfWork, alert: Alert, event: str) -> None:
    key = receiver(alert.role, alert.area)
    if not await DELIVERIES.has_receiver(uow, key):
        return
    await queue_with_first_attempt(
        uow,
        WEBHOOK,
        "INSERT INTO alert_deliveries (delivery_id, alert_id, area, body) VALUES ($1, $2, $3, $4) RETURNING id",
        uuid.uuid4(),
        uuid.UUID(alert.alert_id),
        key,
        webhook_body(alert, event),
    )


Then = Callable[[Alert | None], Awaitable[None]]
"""What a raise leads to, given the alert raised (None when it had been raised before)."""


@dataclass(frozen=True)
class _Raise:
    uow: UnitOfWork
    new: RaiseAlert
    then: Then | None


@dataclass(frozen=True)
class _Escalate:
    uow: UnitOfWork
    kind: str
    subject: str
    to_role: str


@dataclass(frozen=True)
class _Resolve:
    uow: UnitOfWork
    alerts: tuple[tuple[str, str], ...]
    resolution: str
    by: str


_CHANGES = "alert-changes"
_RAISE = (
    "INSERT INTO alerts (alert_id, kind, subject, person_id, case_id, role, area, assignee, due_at, rule_ids, "
    "summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    f"ON CONFLICT (kind, subject) DO NOTHING RETURNING {_COLUMNS}"
)
_RESOLVE = (
    "UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = $3, resolution = $4 "
    "WHERE kind = $1 AND subject = $2 AND state <> 'resolved' RETURNING kind, subject, person_id"
)


_OPEN = (
    "SELECT kind, subject FROM alerts WHERE kind = ANY($1::text[]) AND subject = ANY($2::text[]) "
    "AND state <> 'resolved'"
)


async def raise_alert(uow: UnitOfWork, new: RaiseAlert, then: Then | None = None) -> None:
    """Raise ``new`` unless it was raised before (then nothing happens); ``then`` is given the alert raised, or
    None. In a consumer's batch, raises and resolutions go in the order asked, once the batch's events are all
    handled (a run of raises, or of resolutions, in one round trip), and ``then`` runs there; elsewhere at once."""
    await uow.at_end(_CHANGES, _Raise(uow, new, then), _change)


async def resolve(
    uow: UnitOfWork, kind: str, subject: str, *, resolution: str, by: str | None = None
) -> None:
    """Resolve the alert ``kind``/``subject`` if it is open (the event that answers it, or a person); in a batch,
    in order with its raises (:func:`raise_alert`). Resolving before the alert is raised is fine: it will then
    find the case answered."""
    await resolve_all(uow, [(kind, subject)], resolution=resolution, by=by)


async def resolve_all(
    uow: UnitOfWork, alerts: Sequence[tuple[str, str]], *, resolution: str, by: str | None = None
) -> None:
    """:func:`resolve` for each (kind, subject)."""
    if alerts:
        by = by or (uow.actor.subject if uow.actor else f"system:{uow.producer.name}")
        await uow.at_end(_CHANGES, _Resolve(uow, tuple(alerts), resolution, by), _change)


async def _change(changes: list[_Raise | _Resolve | _Escalate]) -> None:
    """The raises, escalations and resolutions asked for, each alert's in the order asked, in as few round trips
    as that allows: a change joins the latest run of its kind that comes after every run touching one of its
    alerts, and each run is one round trip (a run of resolutions two at most: which are open, then those). A
    resolution is one statement per open alert, each a probe of the (kind, subject) index (a single statement
    joining the pairs, planned while the table was small, kept a scan of the whole table as it grew: PostgreSQL
    keeps a prepared statement's generic plan)."""
    runs: list[tuple[type, list[Any], set[tuple[str, str]]]] = []
    for change in changes:
        match change:
            case _Raise():
                keys = {(change.new.kind, change.new.subject)}
            case _Escalate():
                keys = {(change.kind, change.subject)}
            case _Resolve():
                keys = set(change.alerts)
        after = max((i for i, (_, _, touched) in enumerate(runs) if touched & keys), default=-1)
        joins = [i for i in range(after + 1, len(runs)) if runs[i][0] is type(change)]
        if joins:
            runs[joins[-1]][1].append(change)
            runs[joins[-1]][2].update(keys)
        else:
            runs.append((type(change), [change], keys))
    for kind, run, _ in runs:
        if kind is _Raise:
            await _raise_all(run)
        elif kind is _Escalate:
            await _escalate_all(run)
        else:
            await _resolve_all(run)


async def _raise_all(raises: list[_Raise]) -> None:
    conn = raises[0].uow.conn
    rows = await conn.fetchmany(_RAISE, [_raise_args(r.new) for r in raises])
    raised = {(a.kind, a.subject): a for a in map(_alert, rows)}
    for r in raises:
        alert = raised.pop((r.new.kind, r.new.subject), None)  # a second raise of one alert finds it raised
        if alert is not None:
            await r.uow.audit(
                "alert.raise", alert.person_id, {"alert_id": alert.alert_id, "kind": alert.kind}
            )
            await _deliver(r.uow, alert, "raised")
            await r.uow.notify(CHANNEL)
        if r.then is not None:
            await r.then(alert)


def _raise_args(new: RaiseAlert) -> tuple[Any, ...]:
    return (
        uuid.UUID(new.alert_id),
        new.kind,
        new.subject,
        new.person_id,
        new.case_id,
        new.role,
        new.area,
        new.assignee,
        new.due_at,
        list(new.rule_ids),
        new.summary,
    )


async def _resolve_all(resolutions: list[_Resolve]) -> None:
    """The open ones of the alerts asked are found in one statement and only those updated: most resolutions
    answer a case whose clock never raised an alert, and then nothing is written."""
    conn = resolutions[0].uow.conn
    pairs = {pair for r in resolutions for pair in r.alerts}
    kinds, subjects = sorted({k for k, _ in pairs}), sorted({s for _, s in pairs})
    open_ = {(row["kind"], row["subject"]) for row in await conn.fetch(_OPEN, kinds, subjects)} & pairs
    asked = [
        (r, kind, subject) for r in resolutions for kind, subject in r.alerts if (kind, subject) in open_
    ]
    if not asked:
        return
    rows = await conn.fetchmany(_RESOLVE, [(kind, subject, r.by, r.resolution) for r, kind, subject in asked])
    resolved = {(row["kind"], row["subject"]): row["person_id"] for row in rows}
    for r, kind, subject in asked:
        if (kind, subject) in resolved:
            person_id = resolved.pop((kind, subject))
            detail = {"alert_id": alert_id(kind, subject), "resolution": r.resolution}
            await r.uow.audit("alert.resolve", person_id, detail)
            await r.uow.notify(CHANNEL)


_ESCALATE = (
    "UPDATE alerts SET state = 'escalated', role = $3, assignee = NULL, escalated_at = now() "
    f"WHERE kind = $1 AND subject = $2 AND state IN ('open', 'acknowledged') RETURNING {_COLUMNS}"
)


async def escalate(uow: UnitOfWork, kind: str, subject: str, *, to_role: str) -> None:
    """Hand an alert nobody resolved to ``to_role`` of its area (a worker's goes to the team's managers); nothing
    happens when it was resolved or escalated already, or never raised. In a batch, in order with its raises and
    resolutions (:func:`raise_alert`); elsewhere at once."""
    await uow.at_end(_CHANGES, _Escalate(uow, kind, subject, to_role), _change)


async def escalate_all(works: Sequence[tuple[UnitOfWork, str, str]], *, to_role: str) -> list[Alert]:
    """:func:`escalate` at once for each (unit of work, kind, subject) of one transaction, sent in one round trip
    (as :func:`resolve_all`); each escalation audited, delivered and announced in the unit of work that asked for
    it. The alerts escalated."""
    return await _escalate_all([_Escalate(uow, kind, subject, to_role) for uow, kind, subject in works])


async def _escalate_all(escalations: list[_Escalate]) -> list[Alert]:
    if not escalations:
        return []
    asked = {(e.kind, e.subject): e.uow for e in escalations}
    rows = await escalations[0].uow.conn.fetchmany(
        _ESCALATE, [(e.kind, e.subject, e.to_role) for e in escalations]
    )
    escalated = []
    for row in rows:
        alert = _alert(row)
        uow = asked[(alert.kind, alert.subject)]
        await uow.audit("alert.escalate", alert.person_id, {"alert_id": alert.alert_id, "to": alert.role})
        await _deliver(uow, alert, "escalated")
        await uow.notify(CHANNEL)
        escalated.append(alert)
    return escalated


async def get(uow: UnitOfWork, alert: str) -> Alert:
    row = await uow.conn.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = $1", _uuid(alert))
    if row is None:
        raise NotFound("alert", alert)
    return _alert(row)


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise NotFound("alert", text) from exc


async def acknowledge(uow: UnitOfWork, alert: Alert) -> Alert:
    """Someone of the role has seen it and is acting (recorded and audited); it stays on the feed until resolved."""
    check_acknowledge(alert)
    by = uow.actor.subject if uow.actor else f"system:{uow.producer.name}"
    row = await uow.conn.fetchrow(
        "UPDATE alerts SET state = CASE WHEN state = 'open' THEN 'acknowledged' ELSE state END, "
        f"acknowledged_at = now(), acknowledged_by = $2 WHERE alert_id = $1 RETURNING {_COLUMNS}",
        uuid.UUID(alert.alert_id),
        by,
    )
    await uow.audit("alert.acknowledge", alert.person_id, {"alert_id": alert.alert_id})
    return _alert(row)


async def feed(
    uow: UnitOfWork,
    *,
    roles: Sequence[str],
    areas: Sequence[str] | None,
    assignee: str | None,
    states: Sequence[str],
    after: int,
    limit: int,
) -> list[Alert]:
    """Alerts for ``roles`` in ``areas`` (None: every area) in ``states``, oldest first after the cursor ``after``
    (a ``seq``); a worker's feed (``assignee``) holds only their own."""
    rows = await uow.conn.fetch(
        f"SELECT {_COLUMNS} FROM alerts WHERE role = ANY($1::text[]) "
        "AND ($2::text[] IS NULL OR area = ANY($2::text[])) AND ($3::text IS NULL OR assignee = $3) "
        "AND state = ANY($4::text[]) AND seq > $5 ORDER BY seq LIMIT $6",
        list(roles),
        None if areas is None else list(areas),
        assignee,
        list(states),
        after,
        limit,
    )
    return [_alert(r) for r in rows]


async def counts(
    uow: UnitOfWork, *, roles: Sequence[str], areas: Sequence[str] | None, assignee: str | None
) -> dict[str, int]:
    """How many alerts of ``roles`` in ``areas`` (a worker's own) are in each state not yet resolved."""
    rows = await uow.conn.fetch(
        "SELECT state, count(*) AS n FROM alerts WHERE role = ANY($1::text[]) "
        "AND ($2::text[] IS NULL OR area = ANY($2::text[])) AND ($3::text IS NULL OR assignee = $3) "
        "AND state <> 'resolved' GROUP BY state",
        list(roles),
        None if areas is None else list(areas),
        assignee,
    )
    return {r["state"]: r["n"] for r in rows}


async def set_receiver(uow: UnitOfWork, role: str, area: str, url: str, secret: str) -> None:
    await DELIVERIES.set_receiver(uow, receiver(role, area), url, secret)
    await uow.audit("alert.receiver", None, {"role": role, "area": area, "url": url})
