"""Testing compliance by suite (the returns): of the arrests at a suite, the trigger-offence arrests, the tests
required, taken, refused and missed. Each detention is judged on its own facts' times (T1-T11), never on when
this is asked."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dipflow_custody.domain.catalogue import is_trigger_offence
from dipflow_custody.domain.detention import Detention, Stations
from dipflow_custody.domain.eligibility import Outcome, decide_test

COMPLIANCE_MEASURES = (
    "arrests",
    "trigger_arrests",
    "tests_required",
    "tests_taken",
    "tests_refused",
    "tests_missed",
)


@dataclass(frozen=True)
class ComplianceRecord:
    """How one detention counts in the testing compliance return."""

    trigger_arrest: bool
    required: bool
    taken: bool
    refused: bool
    missed: bool

    def counts(self) -> dict[str, int]:
        return {
            "arrests": 1,
            "trigger_arrests": int(self.trigger_arrest),
            "tests_required": int(self.required),
            "tests_taken": int(self.taken),
            "tests_refused": int(self.refused),
            "tests_missed": int(self.missed),
        }


def compliance_record(d: Detention, stations: Stations) -> ComplianceRecord:
    """Required: the decision was "required" when the sample was taken or refused, else when the detention ended
    (released) or, still in custody, now; missed: required, neither taken nor refused, and the chance gone (the
    person released, or the time limit to hold them for a sample passed, T10)."""
    ended_at = d.sample_taken_at or d.refused_at or d.released_at
    decision = decide_test(replace(d.facts(stations, as_of=ended_at), sample_taken=False))
    required = decision.outcome is Outcome.required
    taken, refused = d.sample_taken_at is not None, d.refused_at is not None
    gone = d.released_at is not None or d.sample_window_closed is not None
    return ComplianceRecord(
        trigger_arrest=any(is_trigger_offence(o).is_trigger for o in d.offences),
        required=required or taken or refused,
        taken=taken,
        refused=refused,
        missed=required and not taken and not refused and gone,
    )
