"""The written notices of required assessment (Home Office forms RA1-RA5, and the A6 notice that the requirements
ended), as printable text: :func:`text_of` gives the notice an event serves."""

from __future__ import annotations

from datetime import datetime

from dipflow.working_days import LONDON
from dipflow_referral.domain.events import (
    AppointmentChanged,
    AssessmentEvent,
    AttendanceRecorded,
    FollowUpDecided,
    RequirementImposed,
    RequirementsEnded,
)

WARNING = (
    "If you fail without good cause to attend and remain for the whole of this assessment you commit an offence "
    "(Drugs Act 2005) and may be liable to imprisonment for up to 3 months and/or a fine up to level 4."
)


def _when(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%A %d %B %Y at %H:%M")


def ra1(appointment_at: datetime, place: str, follow_up: bool) -> str:
    text = (
        "RA1 - Notice of requirement to attend an initial assessment (Drugs Act 2005 s.9).\n"
        f"You are required to attend an initial assessment on {_when(appointment_at)} at {place}, and to remain "
        f"for its duration.\n{WARNING}"
    )
    if follow_up:
        text += (
            "\nYou are also required to attend a follow-up assessment (s.10) if the assessor tells you at the "
            "initial assessment that one is needed; the time and place will be given to you in writing (RA4)."
        )
    return text


def ra2(kind: str, appointment_at: datetime, place: str) -> str:
    name = "initial" if kind == "initial" else "follow-up"
    return f"RA2 - Notice of change. Your {name} assessment is now on {_when(appointment_at)} at {place}.\n{WARNING}"


def ra3(kind: str, outcome: str, good_cause: bool) -> str:
    said = outcome.replace("_", " ")
    return f"RA3 - Record of attendance at the {kind.replace('_', '-')} assessment: {said}" + (
        " (good cause accepted)." if good_cause and outcome != "attended" else "."
    )


def ra4(appointment_at: datetime, place: str) -> str:
    return (
        "RA4 - Notice of requirement to attend a follow-up assessment (Drugs Act 2005 s.10).\n"
        f"You are required to attend on {_when(appointment_at)} at {place}, and to remain for its duration.\n{WARNING}"
    )


def ra5() -> str:
    return "RA5 - Notice that the follow-up assessment requirement has ended: the assessor has decided it is not needed."


def a6(prosecution_dropped: bool) -> str:
    text = (
        "Notice that your requirements have ended (Drugs Act 2005).\n"
        "The confirmatory analysis of your sample found no specified Class A drug. Your requirement to attend an "
        "initial assessment, and any requirement to attend a follow-up assessment, have ended: you need not attend."
    )
    if prosecution_dropped:
        text += "\nYou will not be prosecuted for any earlier failure to attend or remain for an assessment."
    return text


def text_of(event: AssessmentEvent) -> str | None:
    """The text of the notice ``event`` serves (``event.notice``), or None when it serves none."""
    match event:
        case RequirementImposed():
            return ra1(event.appointment_at, event.place, event.follow_up_imposed)
        case AppointmentChanged():
            return ra2(event.kind, event.appointment_at, event.place)
        case AttendanceRecorded():
            return ra3(event.kind, event.outcome, event.good_cause)
        case FollowUpDecided() if (
            event.needed and event.appointment_at is not None and event.place is not None
        ):
            return ra4(event.appointment_at, event.place)
        case FollowUpDecided() if not event.needed:
            return ra5()
        case RequirementsEnded() if event.notice == "A6":
            return a6(event.prosecution_dropped)
    return None
